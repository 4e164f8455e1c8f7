"""Accounts and transfers: the only place credits live.

Modelled on TigerBeetle's accounts-and-transfers: every movement is one immutable transfer from a
source account to a destination account; balances are kept on the account rows and change only
in the transaction that writes the transfer. The issuance account goes negative by everything the
platform ever granted, so the sum of all balances is always exactly zero.
"""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q


class Account(models.Model):
    class Kind(models.TextChoices):
        USER = "user", "User"
        BANK = "bank", "Bank"
        ISSUANCE = "issuance", "Issuance"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="ledger_account",
    )
    balance = models.DecimalField(max_digits=14, decimal_places=2, default=Decimal("0.00"))
    last_support_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind"], condition=~Q(kind="user"), name="one_bank_one_issuance"),
            models.CheckConstraint(
                condition=Q(kind="user", user__isnull=False) | (~Q(kind="user") & Q(user__isnull=True)),
                name="user_accounts_have_a_user",
            ),
            models.CheckConstraint(
                condition=Q(kind="issuance") | Q(balance__gte=0), name="only_issuance_goes_negative"
            ),
        ]

    def __str__(self):
        return f"{self.kind}:{self.user_id or ''} {self.balance}"


class Transfer(models.Model):
    class Kind(models.TextChoices):
        SIGNUP = "SIGNUP", "Signup grant"
        TEACHING = "TEACHING", "Teaching payment"
        BANK_CUT = "BANK_CUT", "Bank cut"
        SUPPORT = "SUPPORT", "Support grant"
        RESERVE = "RESERVE", "Bank reserve"

    source = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="outgoing")
    destination = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="incoming")
    amount = models.DecimalField(max_digits=14, decimal_places=2)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    # A plain reference, not a foreign key: the ledger sits below the apps that use it.
    session_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    idempotency_key = models.CharField(max_length=128, unique=True)
    created_at = models.DateTimeField()
    source_balance_after = models.DecimalField(max_digits=14, decimal_places=2)
    destination_balance_after = models.DecimalField(max_digits=14, decimal_places=2)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="transfer_amount_positive"),
            models.CheckConstraint(
                condition=~Q(source=F("destination")), name="transfer_between_two_accounts"
            ),
        ]

    def __str__(self):
        return f"{self.kind} {self.amount} {self.source_id}->{self.destination_id}"


class Payment(models.Model):
    """The outcome of one teaching payment, kept under its idempotency key.

    The transfers alone cannot answer a replay: a learner with nothing to pay writes no transfer,
    and a replay must not charge them later, once they hold credits again. This row is written
    even when nothing moved, so the first outcome is the only outcome.
    """

    idempotency_key = models.CharField(max_length=128, unique=True)
    session_id = models.BigIntegerField(db_index=True)
    learner = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="payments_made")
    teacher = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="payments_received")
    seconds = models.PositiveIntegerField()
    owed = models.DecimalField(max_digits=14, decimal_places=2)
    paid = models.DecimalField(max_digits=14, decimal_places=2)
    cut = models.DecimalField(max_digits=14, decimal_places=2)
    shortfall = models.DecimalField(max_digits=14, decimal_places=2)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-id"]
        constraints = [
            # No "shortfall = owed - paid" constraint: SQLite would compare that in floats.
            models.CheckConstraint(condition=Q(paid__gte=0) & Q(cut__gte=0), name="payment_not_negative"),
        ]

    def __str__(self):
        return f"payment {self.idempotency_key}: {self.paid}/{self.owed}"

    @staticmethod
    def leg_key(payment_key: str, kind: str) -> str:
        """The idempotency key of one of a payment's transfers (its TEACHING or BANK_CUT leg)."""
        return f"{payment_key}:{kind.lower()}"
