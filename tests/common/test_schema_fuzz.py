"""Schemathesis over the project's own /api/schema/, in process (WSGI) and authenticated: for
every generated request, valid and invalid alike, no 5xx, a documented status, and a body in
the documented shape. Bounded and seeded, so every run sends the same requests.

Path ids are drawn from the objects the fixture creates as often as at random, so the checks
see real posts, sessions and users (200s, 403s, 409s) and not only 404s.
"""

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from rest_framework_simplejwt.tokens import RefreshToken
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from linklearn.wsgi import application
from tests.factories import ActiveSessionFactory, CompletedSessionFactory, LearningPostFactory, UserFactory

CONFIG = schemathesis.config.SchemathesisConfig.from_dict(
    {
        "seed": 20261201,
        "generation": {"max-examples": 6, "mode": "all", "deterministic": True},
    }
)
schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application, config=CONFIG)
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]

# Ids of the objects the current test made, for the path-parameter hook below.
KNOWN_IDS: dict[str, list[int]] = {}


@schema.hook
def flatmap_path_parameters(context, path_parameters):
    if not path_parameters:
        return st.just(path_parameters)
    choices = {}
    for name, value in path_parameters.items():
        known = KNOWN_IDS.get(name, [])
        choices[name] = (
            st.sampled_from([*known, value]) if known and isinstance(value, int) else st.just(value)
        )
    return st.fixed_dictionaries(choices)


@pytest.fixture
def _keep_the_test_connection():
    """As Django's test client does: the WSGI handler must not close the database connection at
    the end of each request, or the test's transaction (on PostgreSQL) goes with it."""
    from django.core import signals
    from django.db import close_old_connections

    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def world(db, _keep_the_test_connection):
    """The caller with a post, a partner with a post, an active and a completed session."""
    caller, partner = UserFactory(), UserFactory()
    posts = [LearningPostFactory(creator=caller), LearningPostFactory(creator=partner)]
    sessions = [
        ActiveSessionFactory(user1=caller, user2=partner),
        CompletedSessionFactory(user1=partner, user2=caller),
    ]
    session_ids = [session.pk for session in sessions]
    KNOWN_IDS.update(
        id=[*session_ids, *(post.pk for post in posts), caller.pk, partner.pk],
        session_id=session_ids,
        user_id=[caller.pk, partner.pk],
    )
    yield str(RefreshToken.for_user(caller).access_token)
    KNOWN_IDS.clear()


@schema.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None)
def test_every_generated_request_gets_a_documented_answer(case, world):
    case.call_and_validate(headers={"Authorization": f"Bearer {world}"}, checks=CHECKS)
