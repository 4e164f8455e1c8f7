import pytest
from django.db import connection

from bench.seed import analyze_after_bulk_load
from tests.factories import LearningPostFactory

pytestmark = pytest.mark.django_db


def _estimated_posts() -> float:
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE relname = 'learning_learningpost'")
        return cursor.fetchone()[0]


def test_the_seeded_tables_get_planner_statistics_on_postgresql():
    """The benchmark measures a database whose planner knows its tables, as in production
    (autovacuum analyses a bulk load soon after); without statistics PostgreSQL guessed and
    sorted all posts for a later page."""
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's planner statistics")
    LearningPostFactory.create_batch(30)

    analyze_after_bulk_load()

    assert _estimated_posts() == 30


def test_sqlite_is_left_as_django_leaves_it():
    if connection.vendor != "sqlite":
        pytest.skip("SQLite")
    LearningPostFactory.create_batch(3)

    analyze_after_bulk_load()

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'")
        assert cursor.fetchone()[0] == 0
