"""The chat writer's batch transaction against session_end, on real PostgreSQL row locks: no
message is ever stored after the end committed, whichever of the two locks the session first."""

import threading

import pytest
from django.db import transaction

from chat.models import ChatMessage
from chat.services import MessageDraft, messages_store
from common.errors import Conflict
from tests.concurrency import in_thread
from tests.factories import UserFactory
from tests.tutoring.conftest import accepted_session
from tutoring import services
from tutoring.models import Session

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def pair():
    alice, bob = UserFactory(name="Alice"), UserFactory(name="Bob")
    return accepted_session(alice, bob), alice, bob


def paused(target, name, monkeypatch):
    """Patch `target.name` to signal `reached` and wait for `go` before running."""
    reached, go = threading.Event(), threading.Event()
    original = getattr(target, name)

    def wrapper(*args, **kwargs):
        reached.set()
        assert go.wait(30)
        return original(*args, **kwargs)

    monkeypatch.setattr(target, name, wrapper)
    return reached, go


def test_end_waits_for_a_batch_that_locked_the_session_first(pair):
    session, alice, bob = pair
    # The batch has stored its message under the session's lock, and its transaction has not
    # committed yet (on PostgreSQL the lock and the insert are one statement; inside the
    # transaction of message_post, or of this test, the lock lasts until the commit).
    stored_in_transaction, go = threading.Event(), threading.Event()

    def store_then_wait():
        with transaction.atomic():
            result = messages_store(
                drafts=[MessageDraft(session_id=session.pk, sender=alice, text="last words")]
            )
            stored_in_transaction.set()
            assert go.wait(30)
        return result

    store, stored = in_thread(store_then_wait)
    assert stored_in_transaction.wait(10)
    end, ended = in_thread(lambda: services.session_end(session_id=session.pk, user=bob))
    end.join(timeout=1)
    assert end.is_alive(), "session_end must wait for the batch holding the session"
    go.set()
    store.join(timeout=10)
    end.join(timeout=10)
    outcomes, _ = stored.result
    assert isinstance(outcomes[0], ChatMessage)
    assert ended.result.session.status == Session.Status.COMPLETED
    # The message committed first: it is part of the ended session's history.
    assert list(ChatMessage.objects.filter(session=session).values_list("text", flat=True)) == ["last words"]


def test_a_batch_waiting_for_end_sees_the_session_ended(pair, monkeypatch):
    session, alice, bob = pair
    # session_end holds the session row locked and is settling.
    reached, go = paused(services, "settle", monkeypatch)
    end, ended = in_thread(lambda: services.session_end(session_id=session.pk, user=bob))
    assert reached.wait(10)
    drafts = [MessageDraft(session_id=session.pk, sender=alice, text="too late")]
    store, stored = in_thread(lambda: messages_store(drafts=drafts))
    store.join(timeout=1)
    assert store.is_alive(), "the batch must wait for session_end's lock"
    go.set()
    end.join(timeout=10)
    store.join(timeout=10)
    assert ended.result.session.status == Session.Status.COMPLETED
    outcomes, broadcasts = stored.result
    assert isinstance(outcomes[0], Conflict)
    assert broadcasts == []
    assert not ChatMessage.objects.filter(session=session).exists()


def test_batches_racing_an_end_store_nothing_after_it_commits(pair):
    """Many batches against one end: once session_end has returned, the count never grows."""
    session, alice, bob = pair
    stop = threading.Event()
    refused = []

    def keep_posting():
        while not stop.is_set():
            outcomes, _ = messages_store(
                drafts=[MessageDraft(session_id=session.pk, sender=alice, text="spam")] * 5
            )
            refused.extend(o for o in outcomes if isinstance(o, Conflict))

    posters = [in_thread(keep_posting) for _ in range(3)]
    while ChatMessage.objects.filter(session=session).count() < 20:
        pass
    services.session_end(session_id=session.pk, user=bob)
    count_at_end = ChatMessage.objects.filter(session=session).count()
    while len(refused) < 30:  # every poster has run several batches since
        pass
    stop.set()
    for thread, _ in posters:
        thread.join(timeout=10)
    assert ChatMessage.objects.filter(session=session).count() == count_at_end
