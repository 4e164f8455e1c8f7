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
