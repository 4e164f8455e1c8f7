import pytest

from chat.models import ChatMessage
from chat.services import MessageDraft, message_post, messages_store
from common.errors import Conflict, Invalid, NotFound
from realtime.fanout import chat_fanout
from tests.factories import ActiveSessionFactory, SessionFactory, UserFactory
from tutoring.models import Session


@pytest.fixture
def session(db):
    return ActiveSessionFactory()


def test_participant_message_is_stored_stripped(session):
    message = message_post(session_id=session.pk, sender=session.user2, text="  hello  ")
    assert ChatMessage.objects.get().text == "hello"
    assert message.sender_id == session.user2_id


def test_message_reaches_the_chat_fan_out_only_after_commit(
    session, monkeypatch, django_capture_on_commit_callbacks
):
    published = []
    monkeypatch.setattr(chat_fanout, "publish", published.append)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        message = message_post(session_id=session.pk, sender=session.user1, text="hi")
    assert published == []  # not before the transaction committed
    for callback in callbacks:
        callback()
    [[broadcast]] = published
    assert (broadcast.session_id, broadcast.event) == (
        session.pk,
        {
            "messages": [
                {
                    "id": message.id,
                    "sender": session.user1.name,
                    "sender_id": session.user1_id,
                    "message": "hi",
                    "timestamp": message.created_at.isoformat().replace("+00:00", "Z"),
                }
            ],
            "previous_id": None,
        },
    )


@pytest.mark.parametrize(
    "text",
    ["", "   ", "x" * 2001, None, 42, ["hi"]],
    ids=["empty", "blank", "too-long", "null", "number", "list"],
)
def test_bad_message_is_refused_and_nothing_stored(session, text):
    with pytest.raises(Invalid):
        message_post(session_id=session.pk, sender=session.user1, text=text)
    assert not ChatMessage.objects.exists()


def test_exactly_2000_characters_is_allowed(session):
    message_post(session_id=session.pk, sender=session.user1, text="x" * 2000)
    assert ChatMessage.objects.count() == 1


def test_outsider_cannot_post(session):
    with pytest.raises(NotFound):
        message_post(session_id=session.pk, sender=UserFactory(), text="hi")


def test_pending_session_chat_is_open(db):
    session = SessionFactory()
    message_post(session_id=session.pk, sender=session.user2, text="shall we?")
    assert ChatMessage.objects.count() == 1


@pytest.mark.parametrize("status", [Session.Status.COMPLETED, Session.Status.REJECTED])
def test_finished_session_chat_is_closed(db, status):
    session = SessionFactory(status=status)
    with pytest.raises(Conflict):
        message_post(session_id=session.pk, sender=session.user1, text="hi")
    assert not ChatMessage.objects.exists()


@pytest.mark.parametrize(
    "text, problem",
    [("a\x00b", "NUL"), ("a\ud800b", "surrogate"), ("\udfff", "surrogate")],
    ids=["nul", "lone-high-surrogate", "lone-low-surrogate"],
)
def test_text_the_database_cannot_store_is_refused(session, text, problem):
    # PostgreSQL refuses NUL in text and cannot encode a lone surrogate: a 500 before this check.
    with pytest.raises(Invalid, match=problem):
        message_post(session_id=session.pk, sender=session.user1, text=text)
    assert not ChatMessage.objects.exists()


def test_a_paired_surrogate_character_is_fine(session):
    message_post(session_id=session.pk, sender=session.user1, text="ok \U0001f600")
    assert ChatMessage.objects.get().text == "ok \U0001f600"


@pytest.mark.parametrize("microsecond", [0, 123456], ids=["whole-second", "fraction"])
def test_broadcast_shape_is_exactly_the_history_shape(session, microsecond):
    from chat.representations import ChatMessageOutput, message_representation

    message = message_post(session_id=session.pk, sender=session.user1, text="same everywhere")
    message.created_at = message.created_at.replace(microsecond=microsecond)
    assert message_representation(message) == dict(ChatMessageOutput(message).data)


def test_a_batch_stores_each_message_as_read_back_and_refuses_alone(db):
    """A chat writer batch across sessions: every stored message carries the id and time the
    database holds for its own text, in order, and a refused draft in the middle changes nothing
    for the others."""
    first, second = ActiveSessionFactory(), ActiveSessionFactory()
    outsider = UserFactory()
    drafts = [
        MessageDraft(session_id=first.pk, sender=first.user1, text="one"),
        MessageDraft(session_id=second.pk, sender=second.user2, text="two"),
        MessageDraft(session_id=first.pk, sender=outsider, text="not yours"),
        MessageDraft(session_id=first.pk, sender=first.user2, text="three"),
    ]
    outcomes, broadcasts = messages_store(drafts=drafts)
    assert isinstance(outcomes[2], NotFound)
    stored = [outcomes[0], outcomes[1], outcomes[3]]
    rows = {row.pk: row for row in ChatMessage.objects.all()}
    assert [rows[message.pk].text for message in stored] == ["one", "two", "three"]
    assert [rows[message.pk].created_at for message in stored] == [message.created_at for message in stored]
    assert stored[0].pk < stored[2].pk  # a session's messages are numbered in the batch's order
    by_session = {b.session_id: [m["message"] for m in b.event["messages"]] for b in broadcasts}
    assert by_session == {first.pk: ["one", "three"], second.pk: ["two"]}
    # What a later read gives equals what was broadcast.
    later = ChatMessage.objects.filter(session=first).order_by("id")
    assert [m.pk for m in later] == [stored[0].pk, stored[2].pk]


def test_a_batch_with_closed_and_unknown_sessions_gives_each_draft_its_own_answer(db):
    """Refusals of every kind between stored messages: each stored one gets the id of its own
    row (the database stores in the batch's order), each refusal its own reason."""
    live, ended = ActiveSessionFactory(), ActiveSessionFactory(status="completed")
    drafts = [
        MessageDraft(session_id=ended.pk, sender=ended.user1, text="closed"),
        MessageDraft(session_id=live.pk, sender=live.user1, text="a"),
        MessageDraft(session_id=999_999, sender=live.user1, text="nowhere"),
        MessageDraft(session_id=live.pk, sender=live.user2, text="b"),
        MessageDraft(session_id=ended.pk, sender=ended.user2, text="closed too"),
    ]
    outcomes, broadcasts = messages_store(drafts=drafts)
    assert [type(o).__name__ for o in outcomes] == [
        "Conflict",
        "ChatMessage",
        "NotFound",
        "ChatMessage",
        "Conflict",
    ]
    assert isinstance(outcomes[0], Conflict)
    texts = dict(ChatMessage.objects.values_list("pk", "text"))
    assert (texts[outcomes[1].pk], texts[outcomes[3].pk]) == ("a", "b")
    assert len(texts) == 2
    assert [(b.session_id, [m["message"] for m in b.event["messages"]]) for b in broadcasts] == [
        (live.pk, ["a", "b"])
    ]
