"""Each server process loads at start what its first requests would otherwise load together
(common.warmup): nothing there may need the database, which a starting process may not reach."""

import pytest

from common.warmup import warm_up


def test_warm_up_needs_no_database():
    warm_up()  # without the django_db mark: any query would raise here


@pytest.mark.django_db
def test_the_app_serves_after_warming_up(client):
    warm_up()
    assert client.get("/api/health/").status_code == 200


def test_start_up_objects_are_frozen_out_of_the_collectors_walks():
    """What a server process loaded at start is never walked by a garbage collection again (full
    collections over it paused the event loop ~100 ms under chat load); new garbage still goes."""
    import gc

    from common.warmup import freeze_startup_objects

    class Cycle:
        pass

    try:
        freeze_startup_objects()
        assert gc.get_freeze_count() > 10_000  # Django, DRF, Channels and the project, loaded
        frozen = gc.get_freeze_count()
        garbage = Cycle()
        garbage.me = garbage
        del garbage
        assert gc.collect() > 0  # a cycle made after the freeze is still collected
        assert gc.get_freeze_count() == frozen
    finally:
        gc.unfreeze()
