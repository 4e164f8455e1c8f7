"""The migration that gave acceptance its own field keeps every existing session's history."""

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from tests.factories import UserFactory

BEFORE = [("tutoring", "0001_initial")]
AFTER = [("tutoring", "0002_session_accepted_at")]
CREATED = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
ACCEPTED = datetime(2026, 3, 1, 9, 5, tzinfo=UTC)


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_accepted_sessions_keep_their_acceptance_time_and_others_stay_unaccepted():
    alice, bob, carol = UserFactory(), UserFactory(), UserFactory()
    old = migrate(BEFORE).get_model("tutoring", "Session")
    rows = {
        status: old.objects.create(
            user1_id=alice.pk,
            user2_id=other.pk,
            pair_key=f"{status}",  # unique per unfinished pair; the old model had no save() logic
            status=status,
            start_time=ACCEPTED if status in ("active", "completed") else None,
        ).pk
        for status, other in (("pending", bob), ("active", carol), ("completed", bob), ("rejected", carol))
    }
    old.objects.update(created_at=CREATED)
    try:
        new = migrate(AFTER).get_model("tutoring", "Session")
        after = {s.status: s for s in new.objects.filter(pk__in=rows.values())}
        assert after["active"].accepted_at == ACCEPTED
        assert after["completed"].accepted_at == ACCEPTED
        assert after["pending"].accepted_at is None and after["rejected"].accepted_at is None
        # The creation time, which start_time now shows, is there for every row.
        assert {s.created_at for s in after.values()} == {CREATED}
    finally:
        migrate(MigrationExecutor(connection).loader.graph.leaf_nodes())
