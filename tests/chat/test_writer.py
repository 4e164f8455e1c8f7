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
