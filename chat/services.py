import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from django.db import connection, connections, transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from common.errors import Conflict, Invalid, NotFound, ServiceError
from realtime.fanout import chat_fanout
from tutoring.models import Session

from .models import ChatMessage
from .representations import message_representation

MAX_MESSAGE_LENGTH = 2000
# PostgreSQL text can hold neither NUL nor an unpaired surrogate (which JSON's \ud800 escapes make).
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def message_text_clean(text) -> str:
    """The text as it will be stored, or Invalid; needs no database, so a socket checks it before
    queueing the message."""
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
    return text


@dataclass(frozen=True)
class MessageDraft:
    """A message to store: `text` already went through message_text_clean."""

    session_id: int
    sender: object  # the sending user (its name goes into the broadcast without a query)
    text: str


@dataclass(frozen=True)
class Broadcast:
    """What the chat fan-out (realtime.fanout) delivers for one session: its new messages, in
    order, and the id of the message that preceded them in that session, so a socket can tell it
    missed some."""

    session_id: int
    event: dict


def messages_store(
    *, drafts: Sequence[MessageDraft]
) -> tuple[list[ChatMessage | ServiceError], list[Broadcast]]:
    """Store messages of any sessions in one transaction (a batch of the chat writer, or one
    message of message_post). Each draft gets its stored message or the ServiceError that refused
    it; the broadcasts must be sent only after the surrounding transaction committed.

    No message is stored after its session's end committed: the sessions of the batch are read
    `FOR NO KEY UPDATE`, which conflicts with session_end's `FOR UPDATE`. If the batch locks first,
    session_end waits until the batch committed; if session_end locks first, the batch waits, then
    reads the committed status (PostgreSQL re-reads a row it waited for) and refuses the messages.
    The same lock makes the batches of two processes that touch one session take turns, so a
    session's message ids grow in commit order and `?after=<id>` can't skip a late commit. On
    SQLite every write transaction begins IMMEDIATE, holding the one write lock, which is stronger.
    One lock per session per batch, never one per message.
    """
    session_ids = sorted({draft.session_id for draft in drafts})
    with transaction.atomic():
        sessions = _sessions_locked(session_ids)
        outcomes: list[ChatMessage | ServiceError] = []
        to_create = []
        for draft in drafts:
            session = sessions.get(draft.session_id)
            if session is None or draft.sender.pk not in (session.user1_id, session.user2_id):
                outcomes.append(NotFound("Session not found."))
            # Chat belongs to a session still going on; a finished session's history stays readable.
            elif session.status not in Session.UNFINISHED:
                outcomes.append(Conflict(f"The session is {session.status}; its chat is closed."))
            else:
                message = ChatMessage(session_id=session.pk, sender=draft.sender, text=draft.text)
                outcomes.append(message)
                to_create.append(message)
        _messages_insert(to_create)
    return outcomes, _broadcasts(to_create, sessions)


class _LockedSession(NamedTuple):
    pk: int
    status: str
    user1_id: int
    user2_id: int
    last_message_id: int | None


# The batch's two statements are compiled once per (database alias, number of rows) and kept:
# building them per batch cost more CPU than running them, a few hundred batches a second under
# load. At most CHAT_WRITE_BATCH shapes each.


@functools.cache
def _lock_sql(alias: str, sessions: int) -> str:
    """The lock query for `sessions` ids, compiled by the ORM (its only parameters: the ids)."""
    ids = list(range(1, sessions + 1))
    last_message = ChatMessage.objects.filter(session=OuterRef("pk")).order_by("-id").values("id")[:1]
    query = (
        Session.objects.select_for_update(no_key=True, of=("self",))
        .filter(pk__in=ids)
        .order_by("pk")
        .values_list("pk", "status", "user1_id", "user2_id")
        .annotate(last_message_id=Subquery(last_message))
    ).query
    sql, params = query.get_compiler(alias).as_sql()
    if list(params) != ids:  # only the ids are parameters, in order
        raise AssertionError(f"unexpected lock query parameters: {params!r}")
    return sql


def _sessions_locked(session_ids: list[int]) -> dict[int, _LockedSession]:
    """The sessions of `session_ids` (sorted), locked FOR NO KEY UPDATE in id order, each with the
    id of its last message. In a transaction."""
    with connection.cursor() as cursor:
        cursor.execute(_lock_sql(connection.alias, len(session_ids)), session_ids)
        return {row[0]: _LockedSession(*row) for row in cursor.fetchall()}


# The columns the writer fills. Django's bulk_create compiled its INSERT again for every batch
# and, on PostgreSQL, sent it as four arrays (UNNEST) that psycopg dumps in Python: half the chat
# writer's time under load. Rows of plain values are bound by psycopg's C dumpers, and each batch
# size is prepared once.
_INSERTED = ("session", "sender", "text", "created_at")


@functools.cache
def _insert_sql(alias: str, rows: int) -> str:
    """INSERT ... VALUES of `rows` messages, RETURNING their ids (PostgreSQL; SQLite 3.35+)."""
    meta, quote = ChatMessage._meta, connections[alias].ops.quote_name
    columns = ", ".join(quote(meta.get_field(name).column) for name in _INSERTED)
    values = ", ".join(["(" + ", ".join(["%s"] * len(_INSERTED)) + ")"] * rows)
    # Only the model's quoted names and placeholders: every value is a bound parameter.
    table, pk = quote(meta.db_table), quote(meta.pk.column)
    return f"INSERT INTO {table} ({columns}) VALUES {values} RETURNING {pk}"  # noqa: S608


def _messages_insert(messages: list[ChatMessage]) -> None:
    """Insert `messages` in one statement, as bulk_create would (no signals), and give each its
    id and created_at (one timestamp for the batch: they were stored together)."""
    if not messages:
        return
    now = timezone.now()
    created_at = ChatMessage._meta.get_field("created_at").get_db_prep_save(now, connection)
    params = []
    for message in messages:
        message.created_at = now
        params += (message.session_id, message.sender_id, message.text, created_at)
    with connection.cursor() as cursor:
        cursor.execute(_insert_sql(connection.alias, len(messages)), params)
        # Rows come back in VALUES order, as Django's bulk_create relies on too.
        ids = cursor.fetchall()
    for message, (pk,) in zip(messages, ids, strict=True):
        message.pk = pk
        message._state.adding, message._state.db = False, connection.alias


def _broadcasts(messages: list[ChatMessage], sessions: dict) -> list[Broadcast]:
    per_session: dict[int, list[ChatMessage]] = {}
    for message in messages:
        per_session.setdefault(message.session_id, []).append(message)
    return [
        Broadcast(
            session_id=session_id,
            event={
                "messages": [message_representation(message) for message in batch],
                "previous_id": sessions[session_id].last_message_id,
            },
        )
        for session_id, batch in per_session.items()
    ]


def message_post(*, session_id, sender, text) -> ChatMessage:
    """Store a participant's message, then (after commit) send it to the session's chat sockets.

    The synchronous form, in the caller's thread and transaction; the chat socket goes through
    chat.writer, which stores many messages per transaction with the same messages_store."""
    draft = MessageDraft(session_id=session_id, sender=sender, text=message_text_clean(text))
    with transaction.atomic():
        [outcome], broadcasts = messages_store(drafts=[draft])
        if isinstance(outcome, ServiceError):
            raise outcome
        # The same fan-out as the chat writer's batches (realtime.fanout), once committed.
        transaction.on_commit(lambda: chat_fanout.publish(broadcasts))
    return outcome
