from django.db import models


class IdempotencyKey(models.Model):
    """The first answer to a request sent with an `Idempotency-Key` (see common.idempotency).

    A row exists only once its answer is known: it is inserted and filled in the same transaction
    as the request's effect, so a committed effect always has its answer stored beside it.
    """

    # "user:<id>" for authenticated callers, "anonymous:<path>" for signup.
    scope = models.CharField(max_length=300)
    key = models.CharField(max_length=255)
    # sha256 of method, path and the canonical JSON of the parsed body.
    fingerprint = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField(null=True)
    content_type = models.CharField(max_length=255, blank=True)
    body = models.BinaryField(default=b"")
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["scope", "key"], name="idempotency_key_unique_in_scope")
        ]

    def __str__(self):
        return f"{self.scope} {self.key!r} → {self.status_code}"
