import asyncio
import threading

import pytest
from django.db import IntegrityError

from chat.models import ChatMessage
from chat.services import MessageDraft
from chat.writer import ChatWriter, StoreFailed
from tests.factories import ActiveSessionFactory

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_message_the_database_refuses_fails_alone_and_its_batch_is_stored(monkeypatch):
    import chat.writer

    session = ActiveSessionFactory()
    original = chat.writer.messages_store

    def refusing(*, drafts):
        # As a constraint the database enforces and the service can't foresee would.
        if any(draft.text == "poison" for draft in drafts):
            raise IntegrityError("violates a constraint")
        return original(drafts=drafts)

    monkeypatch.setattr(chat.writer, "messages_store", refusing)
    drafts = [
        MessageDraft(session_id=session.pk, sender=session.user1, text="before"),
        MessageDraft(session_id=session.pk, sender=session.user2, text="poison"),
        MessageDraft(session_id=session.pk, sender=session.user2, text="after"),
    ]
    outcomes, broadcasts = ChatWriter()._store_isolating(drafts)
    assert [type(o) for o in outcomes] == [ChatMessage, StoreFailed, ChatMessage]
    assert outcomes[1].status_code == 503
    assert list(ChatMessage.objects.order_by("id").values_list("text", flat=True)) == ["before", "after"]
    sent = [m["message"] for b in broadcasts for m in b.event["messages"]]
    assert sent == ["before", "after"]


def test_broadcasts_name_the_message_before_them_in_the_session():
    session, other = ActiveSessionFactory(), ActiveSessionFactory()
    writer = ChatWriter()
    (first,), _ = writer._store_isolating(
        [MessageDraft(session_id=session.pk, sender=session.user1, text="a")]
    )
    _, broadcasts = writer._store_isolating(
        [
            MessageDraft(session_id=session.pk, sender=session.user1, text="b"),
            MessageDraft(session_id=other.pk, sender=other.user1, text="x"),
            MessageDraft(session_id=session.pk, sender=session.user2, text="c"),
        ]
    )
    by_session = {b.session_id: b.event for b in broadcasts}
    assert by_session[session.pk]["previous_id"] == first.pk
    assert [m["message"] for m in by_session[session.pk]["messages"]] == ["b", "c"]
    assert by_session[other.pk]["previous_id"] is None


def _recording_batches(monkeypatch, *, hold_first: threading.Event | None = None) -> list[int]:
    """Patch the writer's store to record each batch's size (holding the first until told)."""
    import chat.writer

    original, sizes = chat.writer.messages_store, []

    def recording(*, drafts):
        sizes.append(len(drafts))
        if hold_first is not None and len(sizes) == 1:
            assert hold_first.wait(10)
        return original(drafts=drafts)

    monkeypatch.setattr(chat.writer, "messages_store", recording)
    return sizes


def test_under_load_a_batch_waits_the_linger_for_the_messages_on_their_way(monkeypatch, settings):
    settings.CHAT_WRITE_LINGER_MS = 500
    session = ActiveSessionFactory()
    release = threading.Event()
    sizes = _recording_batches(monkeypatch, hold_first=release)
    writer = ChatWriter()

    def draft(text):
        return MessageDraft(session_id=session.pk, sender=session.user1, text=text)

    async def scenario():
        first = writer.submit(draft("1"))
        while not sizes:  # the writer holds "1": the next two queue behind it
            await asyncio.sleep(0.005)
        queued = [writer.submit(draft("2")), writer.submit(draft("3"))]
        release.set()
        await asyncio.gather(first, *queued)
        # The last batch held two messages: "4" waits a moment for "5", sent 50 ms later.
        late = writer.submit(draft("4"))
        await asyncio.sleep(0.05)
        await asyncio.gather(late, writer.submit(draft("5")))

    try:
        asyncio.run(scenario())
    finally:
        writer.stop()
    assert sizes == [1, 2, 2]
    stored = ChatMessage.objects.order_by("id").values_list("text", flat=True)
    assert list(stored) == ["1", "2", "3", "4", "5"]


def test_an_idle_writer_stores_a_message_at_once(monkeypatch, settings):
    settings.CHAT_WRITE_LINGER_MS = 5000  # would time the second message out if it were applied
    session = ActiveSessionFactory()
    sizes = _recording_batches(monkeypatch)
    writer = ChatWriter()

    async def scenario():
        for text in ("hello", "again"):
            draft = MessageDraft(session_id=session.pk, sender=session.user1, text=text)
            await asyncio.wait_for(writer.submit(draft), timeout=2)

    try:
        asyncio.run(scenario())
    finally:
        writer.stop()
    assert sizes == [1, 1]
