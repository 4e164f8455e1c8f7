"""common.representation: `represent` gives exactly the serializer's output, from a model
instance or from a `.values()` row of the fields' sources."""

import pytest
import time_machine
from django.core.exceptions import ImproperlyConfigured
from rest_framework import serializers
from rest_framework.renderers import JSONRenderer

from common.representation import represent, represent_many
from learning import selectors
from learning.serializers import PostOutputSerializer
from reviews.models import Review
from tests.factories import CompletedSessionFactory, LearningPostFactory, UserFactory

pytestmark = pytest.mark.django_db


def render(data) -> bytes:
    return JSONRenderer().render(data)


def test_a_row_is_represented_byte_for_byte_as_the_serializer_represents_the_instance():
    rated = UserFactory(name="Zoë 李")
    for rating in (1, 2, 2):  # 1.666…: the serializer's rounding, from a database average
        session = CompletedSessionFactory(user1=rated, user2=UserFactory())
        Review.objects.create(session=session, reviewer=session.user2, reviewee=rated, rating=rating)
    with time_machine.travel("2026-03-01 09:15:30.000123Z", tick=False):
        LearningPostFactory(creator=rated, topic_to_learn='Ünïcödé "✓" \\ 日本語', topic_to_teach="")
    with time_machine.travel("2026-03-01 09:15:31Z", tick=False):  # no microseconds
        LearningPostFactory(ok_with_just_learning=True, bounty_enabled=True)  # null rating
    instances = list(selectors.posts_active())
    rows = list(selectors.posts_active().values(*selectors.POST_ROW))
    expected = render(PostOutputSerializer(instances, many=True).data)
    assert render(represent_many(PostOutputSerializer, rows)) == expected
    assert render(represent_many(PostOutputSerializer, instances)) == expected
    assert b'"creator_rating":1.67' in expected and b'"creator_rating":null' in expected
    assert b'"created_at":"2026-03-01T09:15:31Z"' in expected


class _NeedsThePost(PostOutputSerializer):
    summary = serializers.SerializerMethodField()

    class Meta(PostOutputSerializer.Meta):
        fields = [*PostOutputSerializer.Meta.fields, "summary"]

    def get_summary(self, post) -> str:
        return str(post)


def test_a_field_that_needs_the_instance_refuses_a_row():
    LearningPostFactory()
    row = selectors.posts_active().values(*selectors.POST_ROW)[0]
    with pytest.raises(ImproperlyConfigured):
        represent(_NeedsThePost, row)
