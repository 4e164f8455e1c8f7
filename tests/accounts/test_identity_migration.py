"""accounts 0004 gives existing rows their canonical identities, and stops (listing the ids)
when two rows turn out to be one identity instead of merging them."""

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("accounts", "0003_token_family")]
AFTER = [("accounts", "0004_user_identity_keys")]

pytestmark = pytest.mark.django_db(transaction=True)


def _migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.fixture
def old_schema():
    """The database as it was before 0004; brought forward again (and emptied) afterwards."""
    apps = _migrate(BEFORE)
    yield apps.get_model("accounts", "User")
    apps.get_model("accounts", "User").objects.all().delete()
    _migrate(_latest())


def _latest():
    executor = MigrationExecutor(connection)
    return executor.loader.graph.leaf_nodes()


def _add(User, email, name):
    return User.objects.create(email=email, name=name, password="!").pk


def test_rows_get_their_canonical_email_and_name_key(old_schema):
    pk = _add(old_schema, "Ｘ@XN--EXMPLE-QTA.com", "ａｌｉｃｅ")
    other = _add(old_schema, "bob@example.org", "Rene\u0301e")
    User = _migrate(AFTER).get_model("accounts", "User")
    row = User.objects.get(pk=pk)
    assert (row.email, row.name, row.name_key) == ("x@ex\u00e1mple.com", "alice", "alice")
    assert User.objects.get(pk=other).name_key == "ren\u00e9e"


def test_clashing_rows_stop_the_migration_and_are_listed(old_schema):
    first = _add(old_schema, "x@example.org", "alice")
    email_twin = _add(old_schema, "x@ｅｘａｍｐｌｅ.org", "Someone")
    name_twin = _add(old_schema, "y@example.org", "alice\u200b")
    with pytest.raises(RuntimeError) as failure:
        _migrate(AFTER)
    message = str(failure.value)
    assert f"email 'x@example.org': users {first}, {email_twin}" in message
    assert f"name 'alice': users {first}, {name_twin}" in message
    # Nothing was merged or rewritten: the rows are as they were.
    assert sorted(old_schema.objects.values_list("email", flat=True)) == sorted(
        ["x@example.org", "x@ｅｘａｍｐｌｅ.org", "y@example.org"]
    )
