"""REST adapters for sessions: validate input, call a service, shape the output."""

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView, ListAPIView
from rest_framework.response import Response

from common.idempotency import idempotent
from common.representation import represent_many
from common.schema import errors

from . import services
from .representations import (
    SessionOutput,
    session_representation,
    timer_started_payload,
    timer_stopped_payload,
)
from .selectors import session_detail_for_participant, session_pages, sessions_with_details
from .serializers import (
    SessionCreateInput,
    SessionEndOutput,
    SessionRespondInput,
    TimerStartedOutput,
    TimerStoppedOutput,
)


class SessionListView(ListAPIView):
    """The caller's sessions, newest first."""

    serializer_class = SessionOutput

    def get_queryset(self):
        return sessions_with_details(self.request.user)

    def list(self, request, *args, **kwargs):
        # One built set of SessionOutput's fields for every page (common.representation): the
        # list's representation needs no context (no caller-known timer, `now` is read per row).
        # The same sessions as get_queryset(), with their page and count SQL prepared.
        page = self.paginate_queryset(session_pages(request.user))
        return self.get_paginated_response(represent_many(SessionOutput, page))

    @idempotent
    @extend_schema(request=SessionCreateInput, responses={201: SessionOutput, **errors(409)})
    def post(self, request):
        """Invite `user2` to a session (pending until they accept)."""
        data = SessionCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        session = services.session_create(
            creator=request.user,
            invitee_id=data.validated_data["user2"],
            learning_request_id=data.validated_data.get("learning_request"),
        )
        return Response(session_representation(session, running_timer=None), status=status.HTTP_201_CREATED)


class SessionDetailView(GenericAPIView):
    # No put/patch/delete: sessions are records, so those are 405 for everyone.
    serializer_class = SessionOutput

    def get(self, request, pk):
        session = session_detail_for_participant(session_id=pk, user=request.user)
        return Response(session_representation(session))


class SessionRespondView(GenericAPIView):
    serializer_class = SessionRespondInput

    @idempotent
    @extend_schema(request=SessionRespondInput, responses={200: SessionOutput, **errors(403, 409)})
    def post(self, request, pk):
        """The invitee accepts or rejects the session."""
        decision = request.data.get("decision") if isinstance(request.data, dict) else None
        session = services.session_respond(session_id=pk, user=request.user, decision=decision)
        return Response(session_representation(session, running_timer=None))


class TimerStartView(GenericAPIView):
    serializer_class = TimerStartedOutput

    @extend_schema(request=None, responses={201: TimerStartedOutput, **errors(409)})
    def post(self, request, pk):
        """Start the caller's teaching timer."""
        timer = services.timer_start(session_id=pk, user=request.user)
        session = timer.session
        return Response(
            {
                **timer_started_payload(session, timer),
                "session": session_representation(session, running_timer=timer),
            },
            status=status.HTTP_201_CREATED,
        )


class TimerStopView(GenericAPIView):
    serializer_class = TimerStoppedOutput

    @extend_schema(request=None, responses={200: TimerStoppedOutput, **errors(403, 409)})
    def post(self, request, pk):
        """Stop the caller's teaching timer."""
        timer = services.timer_stop(session_id=pk, user=request.user)
        session = timer.session
        state = session_representation(session, running_timer=None)
        return Response({**timer_stopped_payload(session, timer), "session": state})


class SessionEndView(GenericAPIView):
    serializer_class = SessionEndOutput

    @idempotent
    @extend_schema(request=None, responses={200: SessionEndOutput, **errors(409)})
    def post(self, request, pk):
        """End the session and settle it (a pending one is called off)."""
        ended = services.session_end(session_id=pk, user=request.user)
        return Response(
            {
                "session": session_representation(ended.session, running_timer=None),
                "credit_summary": ended.credit_summary,
            }
        )
