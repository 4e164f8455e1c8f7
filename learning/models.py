from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower


class LearningPost(models.Model):
    """ "I want to learn X (and can teach Y in exchange)"."""

    creator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="learning_posts", db_index=False
    )
    topic_to_learn = models.CharField(max_length=255)
    topic_to_teach = models.CharField(max_length=255, blank=True, default="")
    ok_with_just_learning = models.BooleanField(default=False)
    bounty_enabled = models.BooleanField(default=False)
    is_completed = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    # The topics as matches/ compares them (the database's LOWER), stored so the comparison
    # of every candidate post does not lower its topics again for each of my topics
    # (docs/learning.md, "Matches").
    learn_key = models.GeneratedField(
        expression=Lower("topic_to_learn"), output_field=models.CharField(max_length=255), db_persist=True
    )
    teach_key = models.GeneratedField(
        expression=Lower("topic_to_teach"), output_field=models.CharField(max_length=255), db_persist=True
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                "creator",
                Lower("topic_to_learn"),
                condition=Q(is_completed=False),
                name="one_active_post_per_creator_topic",
            ),
        ]
        # Lists show active posts newest first (docs/learning.md, "Indexes"). A page walks the
        # partial index for 20 entries however many posts exist; the creator index serves the
        # creator filter, my_posts, the page count (covering: no table reads) and the cascade
        # when a user is deleted, so the foreign key needs no index of its own.
        indexes = [
            models.Index(
                fields=["-created_at", "-id"], condition=Q(is_completed=False), name="post_active_newest"
            ),
            models.Index(
                fields=["creator", "is_completed", "-created_at", "-id"], name="post_creator_newest"
            ),
        ]

    def __str__(self):
        return f"{self.creator_id}: learn {self.topic_to_learn}"
