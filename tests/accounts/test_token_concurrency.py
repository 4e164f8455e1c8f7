import pytest

from accounts import services
from tests.concurrency import race_n
from tests.factories import UserFactory


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_one_refresh_token_used_twice_at_once_yields_one_new_pair():
    refresh = services.tokens_for(user=UserFactory())["refresh"]

    def refresh_once():
        try:
            services.token_refresh(refresh=refresh)
        except services.NotAuthenticated:
            return "refused"
        return "ok"

    outcomes = race_n(4, refresh_once)
    assert sorted(outcomes, key=str) == ["ok", "refused", "refused", "refused"], outcomes
