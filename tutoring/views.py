"""REST adapters for sessions: validate input, call a service, shape the output."""

from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from . import services
from .representations import (
    session_representation,
    timer_started_payload,
    timer_stopped_payload,
)
from .selectors import session_detail_for_participant, session_for_participant, sessions_with_details
from .serializers import SessionCreateInput, SessionRespondInput


class SessionListView(GenericAPIView):
    def get(self, request):
        page = self.paginate_queryset(sessions_with_details(request.user))
        return self.get_paginated_response([session_representation(s) for s in page])

    def post(self, request):
        data = SessionCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        post = data.validated_data.get("learning_request")
        session = services.session_create(
            creator=request.user,
            invitee_id=data.validated_data["user2"].pk,
            learning_request_id=post.pk if post else None,
        )
        return Response(session_representation(session), status=status.HTTP_201_CREATED)


class SessionDetailView(APIView):
    # No put/patch/delete: sessions are records, so those are 405 for everyone.
    def get(self, request, pk):
        session = session_detail_for_participant(session_id=pk, user=request.user)
        return Response(session_representation(session))


class SessionRespondView(APIView):
    def post(self, request, pk):
        session_for_participant(session_id=pk, user=request.user)  # outsiders get 404, not a 400
        data = SessionRespondInput(data=request.data)
        data.is_valid(raise_exception=True)
        session = services.session_respond(
            session_id=pk, user=request.user, decision=data.validated_data["decision"]
        )
        return Response(session_representation(session))


class TimerStartView(APIView):
    def post(self, request, pk):
        timer = services.timer_start(session_id=pk, user=request.user)
        session = timer.session
        return Response(
            {**timer_started_payload(session, timer), "session": session_representation(session)},
            status=status.HTTP_201_CREATED,
        )


class TimerStopView(APIView):
    def post(self, request, pk):
        timer = services.timer_stop(session_id=pk, user=request.user)
        session = timer.session
        return Response({**timer_stopped_payload(session, timer), "session": session_representation(session)})


class SessionEndView(APIView):
    def post(self, request, pk):
        ended = services.session_end(session_id=pk, user=request.user)
        return Response(
            {"session": session_representation(ended.session), "credit_summary": ended.credit_summary}
        )
