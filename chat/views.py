from rest_framework.generics import ListAPIView

from .representations import ChatMessageOutput
from .selectors import messages_for_participant, parse_after


class SessionMessagesApi(ListAPIView):
    """A session's chat history for its participants, oldest first; `?after=<id>` resumes."""

    serializer_class = ChatMessageOutput

    def get_queryset(self):
        after = parse_after(self.request.query_params.get("after"))
        return messages_for_participant(
            session_id=self.kwargs["session_id"], user=self.request.user, after=after
        )
