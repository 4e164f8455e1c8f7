import threading

import pytest
from django.db import connection

from accounts import services
from tests.factories import UserFactory


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_one_refresh_token_used_twice_at_once_yields_one_new_pair():
    refresh = services.tokens_for(user=UserFactory())["refresh"]
    barrier = threading.Barrier(4)
    outcomes = []

    def racer():
        try:
            barrier.wait()
            services.token_refresh(refresh=refresh)
            outcomes.append("ok")
        except services.NotAuthenticated:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=racer) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["ok", "refused", "refused", "refused"]
