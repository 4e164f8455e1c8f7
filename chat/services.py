import re

from django.db import transaction

from common.errors import Conflict, Invalid
from common.events import chat_group, publish
from tutoring.models import Session
from tutoring.selectors import session_locked_for_participant

from .models import ChatMessage
from .representations import message_representation

MAX_MESSAGE_LENGTH = 2000
# PostgreSQL text can hold neither NUL nor an unpaired surrogate (which JSON's \ud800 escapes make).
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def message_post(*, session_id, sender, text) -> ChatMessage:
    """Store a participant's message, then (after commit) broadcast it to the session's chat."""
    if not isinstance(text, str):
        raise Invalid("The message must be a string.")
    # Surrounding whitespace is not content: a message of spaces is empty.
    text = text.strip()
    if not text:
        raise Invalid("The message must not be empty.")
    if len(text) > MAX_MESSAGE_LENGTH:
        raise Invalid(f"The message must be at most {MAX_MESSAGE_LENGTH} characters.")
    if "\x00" in text:
        raise Invalid("The message must not contain NUL (\\u0000) characters.")
    if _LONE_SURROGATE.search(text):
        raise Invalid("The message must not contain unpaired surrogate escapes (\\ud800-\\udfff).")
    with transaction.atomic():
        # Locked, so session_end (which locks it too) can't finish the session between the
        # status check and the insert.
        session = session_locked_for_participant(session_id=session_id, user=sender)
        # Chat belongs to a session still going on; a finished session's history stays readable.
        if session.status not in Session.UNFINISHED:
            raise Conflict(f"The session is {session.status}; its chat is closed.")
        message = ChatMessage.objects.create(session=session, sender=sender, text=text)
        publish(chat_group(session.id), "chat_message", message_representation(message))
    return message
