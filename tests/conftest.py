import base64
import json
import os

import pytest
from django.core.cache import cache
from django.db import connection
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from common import counters
from learning.selectors import POSTS_ACTIVE_PAGES
from tests.factories import UserFactory

# With LINKLEARN_REQUIRE_SERVICES=1 (the services pass of .ci/run), a test that needs PostgreSQL
# or Redis fails when it is missing instead of being skipped, so CI can't go green by skipping.
REQUIRE_SERVICES = os.environ.get("LINKLEARN_REQUIRE_SERVICES") == "1"


def _missing(what: str):
    if REQUIRE_SERVICES:
        pytest.fail(f"{what} is required (LINKLEARN_REQUIRE_SERVICES=1) but not configured or unreachable")
    pytest.skip(f"needs {what}")


@pytest.fixture(autouse=True)
def _service_markers(request):
    if request.node.get_closest_marker("postgres") and connection.vendor != "postgresql":
        _missing("PostgreSQL (set DATABASE_URL)")
    if request.node.get_closest_marker("redis"):
        from django.conf import settings

        if settings.USE_IN_MEMORY_CHANNEL_LAYER:
            _missing("Redis (set REDIS_URL)")


@pytest.fixture(scope="session", autouse=True)
def _check_required_services():
    if not REQUIRE_SERVICES:
        return
    from django.conf import settings

    if connection.vendor != "postgresql":
        pytest.fail("LINKLEARN_REQUIRE_SERVICES=1 but the database is not PostgreSQL")
    if settings.USE_IN_MEMORY_CHANNEL_LAYER:
        pytest.fail("LINKLEARN_REQUIRE_SERVICES=1 but no Redis channel layer is configured")
    import redis

    redis.Redis.from_url(settings.REDIS_URL).ping()  # raises, failing the run, when unreachable


@pytest.fixture(autouse=True)
def _fast_and_isolated(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Rate-limit counters must not leak between tests: in Redis they go with the cache's database.
    cache.clear()
    counters.clear()
    # Kept pages neither: a page-cache version in a PostgreSQL sequence outlives the test's rollback.
    POSTS_ACTIVE_PAGES.clear()
    yield
    cache.clear()
    counters.clear()
    POSTS_ACTIVE_PAGES.clear()


@pytest.fixture
def api_client():
    return APIClient()


def bearer(access: str) -> APIClient:
    """An API client that sends `access` as its bearer token."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client


def authed_client(user) -> APIClient:
    return bearer(str(RefreshToken.for_user(user).access_token))


def b64url_json(data: dict) -> str:
    """`data` as a JWT segment (unpadded base64url JSON), to forge or tamper with tokens."""
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


@pytest.fixture
def user(db):
    return UserFactory()


@pytest.fixture
def other_user(db):
    return UserFactory()


@pytest.fixture
def client_for():
    """`client_for(user)` is an API client authenticated as that user."""
    return authed_client


@pytest.fixture(autouse=True)
def _ledger_reconciles(request):
    """After every test that touched the database, the ledger must still add up: each balance
    equals its transfers in minus out and all balances sum to zero (ledger.selectors)."""
    uses_db = (
        "db" in request.fixturenames
        or "transactional_db" in request.fixturenames
        or request.node.get_closest_marker("django_db") is not None
    )
    if not uses_db:
        yield
        return
    # Requested here so this check tears down before the test database is rolled back or flushed.
    request.getfixturevalue("db")
    yield
    if connection.needs_rollback:
        return  # the test left its transaction broken on purpose; there is nothing to read
    from ledger.selectors import ledger_mismatches

    problems = ledger_mismatches()
    assert not problems, "the ledger does not reconcile:\n" + "\n".join(problems)


class Broadcasts:
    """What reached the channel layer, in order, as (group, message) pairs."""

    def __init__(self, capture_on_commit):
        self.sent: list[tuple[str, dict]] = []
        self._capture_on_commit = capture_on_commit

    def committing(self):
        """Run the block as if its transaction committed at the end. Nothing may reach the layer
        before that: a client must never hear of a change that could still roll back."""
        from contextlib import contextmanager

        @contextmanager
        def block():
            with self._capture_on_commit(execute=True):
                before = len(self.sent)
                yield
                assert len(self.sent) == before, "an event reached the channel layer before commit"

        return block()

    @property
    def events(self) -> list[tuple[str, str, dict]]:
        """(group, event type, payload) of each message, as common.events.publish was called."""
        return [
            (group, message["event"], {k: v for k, v in message.items() if k not in ("type", "event")})
            for group, message in self.sent
        ]


@pytest.fixture
def broadcasts(settings, monkeypatch, django_capture_on_commit_callbacks):
    """Records every group message that reaches the (in-memory) channel layer; run the code under
    test in `with broadcasts.committing():` so its after-commit events are sent."""
    from channels.layers import get_channel_layer

    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    layer = get_channel_layer()
    recorder = Broadcasts(django_capture_on_commit_callbacks)
    group_send = layer.group_send

    async def recording_group_send(group, message):
        recorder.sent.append((group, message))
        await group_send(group, message)

    monkeypatch.setattr(layer, "group_send", recording_group_send)
    return recorder
