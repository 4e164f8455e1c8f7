"""Factories build realistic data through the same services the API uses, so every user has
a ledger account with the signup grant, exactly as in production."""

import factory
from django.utils import timezone

from accounts.models import User
from accounts.services import user_signup
from learning.models import LearningPost
from tutoring.models import Session

PASSWORD = "correct-horse-battery-staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    name = factory.Sequence(lambda n: f"User {n}")
    availability = "Evenings"

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        user = user_signup(
            email=kwargs.pop("email"), name=kwargs.pop("name"), password=kwargs.pop("password", PASSWORD)
        )
        # Everything else (availability, is_active, is_staff, ...) is set as given, not dropped.
        for field, value in kwargs.items():
            setattr(user, field, value)
        if kwargs:
            user.save(update_fields=list(kwargs))
        return user


class LearningPostFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = LearningPost

    creator = factory.SubFactory(UserFactory)
    topic_to_learn = factory.Sequence(lambda n: f"Topic {n}")
    topic_to_teach = factory.Sequence(lambda n: f"Skill {n}")
    ok_with_just_learning = False
    bounty_enabled = False


class SessionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Session

    user1 = factory.SubFactory(UserFactory)
    user2 = factory.SubFactory(UserFactory)
    status = Session.Status.PENDING


class ActiveSessionFactory(SessionFactory):
    status = Session.Status.ACTIVE
    accepted_at = factory.LazyFunction(timezone.now)


class CompletedSessionFactory(SessionFactory):
    status = Session.Status.COMPLETED
    accepted_at = factory.LazyFunction(timezone.now)
    end_time = factory.LazyFunction(timezone.now)
