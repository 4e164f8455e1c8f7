from django.db.models import QuerySet

from common.errors import Invalid
from tutoring.selectors import session_for_participant

from .models import ChatMessage


def parse_after(raw) -> int | None:
    """`?after=` is a message id; anything but a non-negative integer is a client error."""
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise Invalid("`after` must be an integer message id.") from None
    if value < 0:
        raise Invalid("`after` must be an integer message id.")
    return value


def messages_for_participant(*, session_id, user, after: int | None = None) -> QuerySet[ChatMessage]:
    """The session's messages, oldest first, for a participant (NotFound for anyone else)."""
    session = session_for_participant(session_id=session_id, user=user)
    messages = ChatMessage.objects.filter(session=session).select_related("sender").order_by("id")
    if after is not None:
        messages = messages.filter(id__gt=after)
    return messages
