"""Every model the admin shows opens for staff: list, search and a record's page."""

import pytest
from django.contrib import admin
from django.test import Client

from accounts.models import User
from chat.models import ChatMessage
from ledger.services import teaching_pay
from presence.models import Connection
from presence.services import connection_open
from reviews.services import review_create
from tests.factories import ActiveSessionFactory, LearningPostFactory, UserFactory
from tutoring import services
from tutoring.attendance import attendance_touch

ADMIN_MODELS = sorted(
    (model._meta.app_label, model._meta.model_name)
    for model in admin.site._registry
    if model._meta.app_label not in ("auth", "token_blacklist")
)


@pytest.fixture
def staff_client(db):
    User.objects.create_superuser(email="root@example.com", name="Root", password="x-very-long-pass-1")
    client = Client()
    client.login(email="root@example.com", password="x-very-long-pass-1")
    return client


@pytest.fixture
def some_of_everything(db):
    """At least one row of every model the admin shows, so each record page is really opened."""
    session = ActiveSessionFactory()
    LearningPostFactory(creator=session.user1)
    attendance_touch(session_id=session.pk, user_id=session.user1.pk)
    services.timer_start(session_id=session.pk, user=session.user1)
    services.session_end(session_id=session.pk, user=session.user1)
    teaching_pay(learner=session.user2, teacher=session.user1, seconds=600, session_id=session.pk)
    ChatMessage.objects.create(session=session, sender=session.user1, text="hello")
    review_create(session_id=session.pk, reviewer=session.user2, rating=5)
    connection_open(connection_id="specific.abc!1", user=session.user1, kind=Connection.Kind.PRESENCE)


def test_the_admin_shows_the_models_the_spec_names():
    shown = {model for _, model in ADMIN_MODELS}
    assert {"user", "learningpost", "session", "review", "chatmessage", "account", "transfer"} <= shown


@pytest.mark.parametrize("app_label, model_name", ADMIN_MODELS, ids=[f"{a}.{m}" for a, m in ADMIN_MODELS])
def test_staff_can_open_each_admin_list_and_record(staff_client, some_of_everything, app_label, model_name):
    listing = staff_client.get(f"/admin/{app_label}/{model_name}/", {"q": "a"})
    assert listing.status_code == 200

    model = next(m for m in admin.site._registry if m._meta.model_name == model_name)
    record = model.objects.first()
    assert record is not None, "the fixture must create a row of every admin model"
    page = staff_client.get(f"/admin/{app_label}/{model_name}/{record.pk}/change/")
    assert page.status_code == 200


def test_the_admin_is_closed_to_ordinary_users(db):
    user = UserFactory()
    client = Client()
    client.force_login(user)
    assert client.get("/admin/ledger/transfer/").status_code == 302
