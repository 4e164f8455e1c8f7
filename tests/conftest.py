import os

import pytest
from django.core.cache import cache
from django.db import connection
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

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
    cache.clear()  # throttle counters must not leak between tests
    yield
    cache.clear()


@pytest.fixture
def api_client():
    return APIClient()


def authed_client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(user).access_token}")
    return client


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
