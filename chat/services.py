import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from django.db import connection, connections, transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from common.errors import Conflict, Invalid, NotFound, ServiceError
from common.prepared import padded, slots
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

    On PostgreSQL the lock and the insert are one statement (_store_sql), which is a transaction
    of its own (or part of the caller's): one round trip per batch instead of four (BEGIN, the
    lock, the insert, COMMIT), half the writer's CPU and wall time per batch (docs/realtime.md,
    "One statement per batch"). The database decides which drafts it stores, by _may_chat's
    conditions written in SQL; _may_chat then says why the others were refused.
    """
    if not drafts:
        return [], []
    session_ids = sorted({draft.session_id for draft in drafts})
    if connection.vendor == "postgresql":
        # The lock and the insert in one statement, its own transaction (or a part of the
        # caller's): one round trip instead of four (BEGIN, lock, insert, COMMIT).
        sessions, stored, stored_at = _stored_with_locks(session_ids, drafts)
        outcomes, to_create = _outcomes(drafts, sessions, stored=stored)
        _give_ids(to_create, [stored[position] for position in sorted(stored)], created_at=stored_at)
    else:
        with transaction.atomic():
            sessions = _sessions_locked(session_ids)
            outcomes, to_create = _outcomes(drafts, sessions)
            _messages_insert(to_create)
    return outcomes, _broadcasts(to_create, sessions)


def _may_chat(session, draft: MessageDraft) -> ServiceError | None:
    """Why `draft` may not be stored in `session` (None: it may). PostgreSQL's one-statement
    store (_store_sql) applies the same two conditions in SQL."""
    if session is None or draft.sender.pk not in (session.user1_id, session.user2_id):
        return NotFound("Session not found.")
    # Chat belongs to a session still going on; a finished session's history stays readable.
    if session.status not in Session.UNFINISHED:
        return Conflict(f"The session is {session.status}; its chat is closed.")
    return None


def _outcomes(drafts, sessions, *, stored=None) -> tuple[list[ChatMessage | ServiceError], list[ChatMessage]]:
    """Each draft's message (unsaved yet) or its refusal, and the messages to store, in order.
    `stored` (position -> id), when given, says which drafts the database stored already: then
    it decides, and _may_chat only says why the others were refused."""
    outcomes: list[ChatMessage | ServiceError] = []
    to_create = []
    for position, draft in enumerate(drafts):
        refusal = _may_chat(sessions.get(draft.session_id), draft)
        # Stored: as the database decided (`stored`), else as the rule says.
        is_stored = refusal is None if stored is None else position in stored
        if is_stored:
            message = ChatMessage(session_id=draft.session_id, sender=draft.sender, text=draft.text)
            outcomes.append(message)
            to_create.append(message)
        else:
            outcomes.append(refusal or NotFound("Session not found."))
    return outcomes, to_create


class _LockedSession(NamedTuple):
    pk: int
    status: str
    user1_id: int
    user2_id: int
    last_message_id: int | None


# The batch's statements are compiled once per (database alias, number of rows) and kept:
# building them per batch cost more CPU than running them, a few hundred batches a second under
# load. At most CHAT_WRITE_BATCH shapes each; PostgreSQL's one statement (_store_sql) pads both
# of its counts to a power of two (common.prepared.slots), so it has at most ~100 shapes, and
# psycopg sees each often enough to prepare it.


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
    # Django compiles a locking query only in a transaction (it would lock nothing otherwise);
    # this one is kept, and runs in one: a transaction, or the single statement of _store_sql.
    with transaction.atomic(using=alias):
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


# The columns the writer fills (both the SQLite insert and PostgreSQL's one statement). Django's
# bulk_create compiled its INSERT again for every batch and, on PostgreSQL, sent it as four arrays
# (UNNEST) that psycopg dumps in Python: half the chat writer's time under load. Rows of plain
# values are bound by the driver, and each statement's shape is built once.
_INSERTED = ("session", "sender", "text", "created_at")


@functools.cache
def _insert_sql(alias: str, rows: int) -> str:
    """INSERT ... VALUES of `rows` messages, RETURNING their ids (SQLite 3.35+; PostgreSQL stores
    with _store_sql)."""
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
        params += (message.session_id, message.sender_id, message.text, created_at)
    with connection.cursor() as cursor:
        cursor.execute(_insert_sql(connection.alias, len(messages)), params)
        # Rows come back in VALUES order, as Django's bulk_create relies on too.
        ids = [pk for (pk,) in cursor.fetchall()]
    _give_ids(messages, ids, created_at=now)


def _give_ids(messages: list[ChatMessage], ids: list[int], *, created_at) -> None:
    """Mark `messages` as stored under `ids` (in order), stored at `created_at`."""
    for message, pk in zip(messages, ids, strict=True):
        message.pk, message.created_at = pk, created_at
        message._state.adding, message._state.db = False, connection.alias


@functools.cache
def _store_sql(alias: str, sessions: int, rows: int) -> str:
    """PostgreSQL: lock `sessions` sessions (the lock query above, as a CTE: the same rows, the
    same lock, the same re-read of a row it waited for) and insert the `rows` messages whose
    session is unfinished and whose sender takes part in it (_may_chat's two conditions), in
    VALUES order, in one statement. It returns one row per session found, each with the
    positions of the messages stored and their ids, both ascending (the rows are inserted in
    VALUES order, so their ids grow in that order). Parameters, in the order of the SQL: the
    session ids, per message its position, session, sender, text and created_at, then the
    unfinished statuses."""
    connection = connections[alias]
    meta, quote = ChatMessage._meta, connection.ops.quote_name
    columns = [meta.get_field(name) for name in _INSERTED]
    names = ", ".join(quote(field.column) for field in columns)
    # Typed, because a bare parameter in VALUES would be text to PostgreSQL.
    row = ", ".join(["%s::integer", *(f"%s::{field.db_type(connection)}" for field in columns)])
    values = ", ".join([f"({row})"] * rows)
    statuses = ", ".join(["%s"] * len(Session.UNFINISHED))
    table, pk = quote(meta.db_table), quote(meta.pk.column)
    # Only the ORM's own SQL, the model's quoted names and placeholders: every value is bound.
    return (
        f"WITH locked (id, status, user1_id, user2_id, last_message_id) AS MATERIALIZED "  # noqa: S608
        f"({_lock_sql(alias, sessions)}), "
        f"allowed AS MATERIALIZED (SELECT v.* FROM (VALUES {values}) "
        f"AS v (position, session, sender, text, created_at) JOIN locked ON locked.id = v.session "
        f"WHERE locked.status IN ({statuses}) AND v.sender IN (locked.user1_id, locked.user2_id)), "
        f"stored AS (INSERT INTO {table} ({names}) "
        f"SELECT session, sender, text, created_at FROM allowed ORDER BY position RETURNING {pk}) "
        f"SELECT id, status, user1_id, user2_id, last_message_id, "
        f"ARRAY(SELECT position FROM allowed ORDER BY position), "
        f"ARRAY(SELECT {pk} FROM stored ORDER BY {pk}) FROM locked"
    )


def _stored_with_locks(session_ids: list[int], drafts):
    """Run _store_sql for `drafts`: the sessions as _sessions_locked gives them, the ids of the
    drafts it stored, in order, and when they were stored."""
    now = timezone.now()
    created_at = ChatMessage._meta.get_field("created_at").get_db_prep_save(now, connection)
    # Spare slots are NULL: a NULL session id locks nothing, a row of NULLs joins no session.
    session_slots, row_slots = slots(len(session_ids)), slots(len(drafts))
    params = padded(session_ids, session_slots)
    for position, draft in enumerate(drafts):
        params += (position, draft.session_id, draft.sender.pk, draft.text, created_at)
    params += [None] * (5 * (row_slots - len(drafts)))
    params += Session.UNFINISHED
    with connection.cursor() as cursor:
        cursor.execute(_store_sql(connection.alias, session_slots, row_slots), params)
        rows = cursor.fetchall()
    sessions = {row[0]: _LockedSession(*row[:5]) for row in rows}
    # Every allowed row was inserted, or the statement failed: as many ids as positions.
    stored = dict(zip(rows[0][5], rows[0][6], strict=True)) if rows else {}
    return sessions, stored, now


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
