"""common.prepared: a selector compiled to SQL once, re-run with each call's values. Runs on
whichever database the suite runs on (SQLite, and PostgreSQL in the services configuration)."""

from datetime import timedelta
from decimal import Decimal

import pytest
import time_machine
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.db.models import Value
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts import selectors as accounts
from accounts.models import User
from common.prepared import PreparedList, padded, prepared, slots
from learning import selectors as learning
from learning.models import LearningPost
from presence.services import connection_open
from reviews.models import Review
from tests.factories import CompletedSessionFactory, LearningPostFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_each_call_binds_its_own_user(user, other_user):
    assert accounts.user_me(user_id=user.pk).email == user.email
    assert accounts.user_me(user_id=other_user.pk).email == other_user.email
    with pytest.raises(User.DoesNotExist):
        accounts.user_me(user_id=other_user.pk + 1000)


def test_it_gives_what_the_queryset_gives(user):
    prepared_me = accounts.user_me(user_id=user.pk)
    orm_me = accounts.users_me().get(pk=user.pk)
    fields = ["id", "email", "name", "is_online", "average_rating", "total_reviews", "date_joined"]
    assert [getattr(prepared_me, f) for f in fields] == [getattr(orm_me, f) for f in fields]
    assert prepared_me.ledger_account.balance == orm_me.ledger_account.balance  # select_related
    assert prepared_me._state.adding is False and prepared_me._state.db == "default"


def test_results_follow_the_data(user):
    accounts.user_me(user_id=user.pk)  # compiled now; what follows must still be read fresh
    User.objects.filter(pk=user.pk).update(name="Renamed")
    assert accounts.user_me(user_id=user.pk).name == "Renamed"
    connection_open(connection_id="c1", user=user, kind="presence")
    assert accounts.user_me(user_id=user.pk).is_online is True


def test_the_clock_is_a_parameter_not_frozen_into_the_sql(user, settings):
    connection_open(connection_id="c1", user=user, kind="presence")
    assert accounts.user_me(user_id=user.pk).is_online is True
    # The same compiled SQL, a later `now`: the connection has gone stale.
    with time_machine.travel(timezone.now() + settings.PRESENCE_TTL + timedelta(seconds=5)):
        assert accounts.user_me(user_id=user.pk).is_online is False


def test_one_compile_per_database_then_sql_only(user, other_user):
    builds = []

    @prepared
    def by_id(*, user_id):
        builds.append(user_id)
        return User.objects.filter(pk=user_id)

    assert by_id.get(user_id=user.pk) == user
    with CaptureQueriesContext(connection) as queries:
        assert by_id.get(user_id=other_user.pk) == other_user
    assert len(builds) == 2  # both builds of the first call (the second checks the first)
    assert len(queries) == 1 and str(other_user.pk) in queries[0]["sql"]


@pytest.mark.parametrize("wanted", [0, 1, 2, 3, 5])
def test_a_list_argument_binds_each_item_and_its_spare_slots_match_nothing(wanted):
    """`Arg(...).at(i)`: one parameter per slot, a power of two of them per shape; the spare
    slots are bound as NULL, which no `IN` matches."""
    users = UserFactory.create_batch(5)

    @prepared(shape=("count",))
    def users_in(*, count, ids):
        return User.objects.filter(pk__in=[ids.at(i) for i in range(count)]).order_by("pk")

    ids = [u.pk for u in users[:wanted]]
    count = slots(len(ids))
    found = users_in.list(count=count, ids=padded(ids, count)) if count else []
    assert [u.pk for u in found] == ids
    assert count in (0, 1, 2, 4, 8) and count >= wanted


def test_a_value_read_inside_the_build_is_refused():
    @prepared
    def recent(*, user_id):
        # A clock read at build time would be frozen into the SQL for the life of the process.
        return User.objects.filter(pk=user_id, date_joined__lte=timezone.now())

    with pytest.raises(ImproperlyConfigured, match="changed between two builds"):
        recent.list(user_id=1)


def test_wrong_arguments_are_a_type_error():
    with pytest.raises(TypeError):
        accounts._user.get(id=1)


def test_shapes_and_counts_of_the_posts_page(user):
    with time_machine.travel("2026-01-01 10:00Z", tick=True):
        posts = LearningPostFactory.create_batch(5)
    pages = learning.posts_active_pages()
    newest_first = [p.id for p in reversed(posts)]
    assert [p["id"] for p in pages[0:2]] == newest_first[:2]
    assert [p["id"] for p in pages[2:4]] == newest_first[2:4]  # another slice, another SQL shape
    assert pages[5:5] == []  # an empty slice runs nothing, as in Django
    assert pages.count() == 5
    LearningPost.objects.filter(pk=posts[0].pk).update(is_completed=True)
    newest = LearningPostFactory()
    assert pages.count() == 5 and pages[0:1][0]["id"] == newest.id
    page = pages[0:1][0]
    assert page["creator__name"] == newest.creator.name and page["creator_rating"] is None


def test_the_posts_page_is_what_the_queryset_gives():
    teacher = UserFactory()
    for rating in (4, 5, 5):
        session = CompletedSessionFactory(user1=teacher, user2=UserFactory())
        Review.objects.create(session=session, reviewer=session.user2, reviewee=teacher, rating=rating)
    LearningPostFactory(creator=teacher)
    LearningPostFactory.create_batch(2)
    orm = list(learning.posts_active().values(*learning.POST_ROW)[0:20])
    fast = learning.posts_active_pages()[0:20]
    assert fast == orm  # the same dicts, converters applied (a Decimal rating, aware datetimes)
    assert [type(v) for v in fast[-1].values()] == [type(v) for v in orm[-1].values()]
    assert round(fast[-1]["creator_rating"], 2) == Decimal("4.67")


def test_a_prepared_values_query_gives_dicts_named_as_django_names_them(user):
    @prepared
    def names(*, user_id):
        return User.objects.filter(pk=user_id).annotate(n=Value(1)).values("id", "name", "n")

    assert names.list(user_id=user.pk) == list(
        User.objects.filter(pk=user.pk).annotate(n=Value(1)).values("id", "name", "n")
    )
    assert names.list(user_id=user.pk + 1000) == []


def test_a_setting_change_recompiles(user, settings):
    @prepared
    def with_setting(*, user_id):
        return User.objects.filter(pk=user_id, is_active=bool(settings.PRESENCE_TTL))

    assert with_setting.list(user_id=user.pk) == [user]
    assert with_setting._compiled
    settings.PRESENCE_TTL = timedelta(seconds=1)
    assert not with_setting._compiled  # dropped: a constant read from settings may have changed
    assert with_setting.list(user_id=user.pk) == [user]


def test_the_kept_sql_is_per_database_vendor(user):
    accounts.user_me(user_id=user.pk)
    (key,) = [k for k in accounts._user_me._compiled if k[0] == "rows"]
    assert key[1:3] == ("default", connection.vendor)


def test_a_prepared_list_pages_like_a_queryset(client_for, user):
    LearningPostFactory.create_batch(3)
    response = client_for(user).get("/api/posts/", {"page_size": 2, "page": 2})
    body = response.json()
    assert body["count"] == 3 and len(body["results"]) == 1 and body["previous"]
    assert isinstance(learning.posts_active_pages(), PreparedList)


def test_the_sessions_page_is_what_the_queryset_gives_running_timers_included(user):
    from common.representation import represent_many
    from tests.factories import ActiveSessionFactory
    from tutoring import selectors as tutoring
    from tutoring.models import TeachingTimer
    from tutoring.representations import SessionOutput

    timed, idle = ActiveSessionFactory(user1=user), ActiveSessionFactory(user2=user)
    ActiveSessionFactory()  # someone else's
    TeachingTimer.objects.create(session=timed, teacher=user, start_time=timezone.now())
    with time_machine.travel(timezone.now(), tick=False):
        prepared_page = represent_many(SessionOutput, tutoring.session_pages(user)[0:20])
        orm_page = [dict(SessionOutput(s).data) for s in tutoring.sessions_with_details(user)[0:20]]
    assert prepared_page == orm_page
    assert {s["id"] for s in prepared_page} == {timed.id, idle.id}
    assert [s["active_timer"] is not None for s in prepared_page if s["id"] == timed.id] == [True]
    assert tutoring.session_pages(user).count() == 2
