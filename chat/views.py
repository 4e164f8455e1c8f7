from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.generics import ListAPIView

from .representations import ChatMessageOutput
from .selectors import messages_for_participant, parse_after


class SessionMessagesApi(ListAPIView):
    """A session's chat history for its participants, oldest first; `?after=<id>` resumes."""

    serializer_class = ChatMessageOutput

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "after", int, description="Only messages with a larger id (400 if not an integer)"
            )
        ]
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        after = parse_after(self.request.query_params.get("after"))
        return messages_for_participant(
            session_id=self.kwargs["session_id"], user=self.request.user, after=after
        )
