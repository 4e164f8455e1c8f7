"""Reads of the ledger: balances, a user's history, support eligibility and the reconciliation."""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.db.models import Case, CharField, F, Q, QuerySet, Sum, Value, When
from django.utils import timezone

from .models import Account, Payment, Transfer
from .rates import CENT, ZERO, support_tier

# What a user's history calls an entry: a TEACHING transfer is TEACHING to the teacher who
# received it and LEARNING to the learner who paid it.
LEARNING = "LEARNING"
HISTORY_TYPES = (*Transfer.Kind.values, LEARNING)


def balance_of(*, user) -> Decimal:
    """The user's credits: the balance of their ledger account (0.00 if they have none yet)."""
    balance = Account.objects.filter(user=user).values_list("balance", flat=True).first()
    return ZERO if balance is None else balance


def account_id_of(*, user) -> int | None:
    return Account.objects.filter(user=user).values_list("pk", flat=True).first()


def transactions_of(*, account_id: int | None, entry_type: str | None = None) -> QuerySet[Transfer]:
    """The transfers touching one account, newest first, each annotated with `entry_type`.

    Everything a history row shows (both accounts and their users) comes in the same query.
    """
    if account_id is None:
        return Transfer.objects.none()
    qs = (
        Transfer.objects.filter(Q(source_id=account_id) | Q(destination_id=account_id))
        .select_related("source__user", "destination__user")
        .annotate(
            entry_type=Case(
                When(kind=Transfer.Kind.TEACHING, source_id=account_id, then=Value(LEARNING)),
                default=F("kind"),
                output_field=CharField(),
            )
        )
        .order_by("-created_at", "-id")
    )
    if entry_type:
        qs = qs.filter(entry_type=entry_type)
    return qs


# --- support --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SupportEligibility:
    eligible: bool
    reason: str
    support_amount: Decimal
    current_credits: Decimal
    cooldown_ends: datetime | None  # only while the cooldown is still running


def support_eligibility_of(account: Account, *, now: datetime | None = None) -> SupportEligibility:
    """Whether this account may receive support credits now, and how many (SPEC section 4)."""
    now = now or timezone.now()
    balance = account.balance
    cooldown_ends = None
    if account.last_support_at is not None and now < account.last_support_at + settings.SUPPORT_COOLDOWN:
        cooldown_ends = account.last_support_at + settings.SUPPORT_COOLDOWN
    amount = support_tier(balance)
    if cooldown_ends is not None:
        reason = f"Support was granted recently; you can ask again after {cooldown_ends.isoformat()}."
        return SupportEligibility(False, reason, ZERO, balance, cooldown_ends)
    if amount == 0:
        reason = "Support is for balances of 3.00 credits or less."
        return SupportEligibility(False, reason, ZERO, balance, None)
    return SupportEligibility(True, f"Eligible for {amount} support credits.", amount, balance, None)


def support_eligibility(*, user, now: datetime | None = None) -> SupportEligibility:
    return support_eligibility_of(Account.objects.get(user=user), now=now)


# --- reconciliation -------------------------------------------------------------------------

# Which accounts each kind of transfer may connect: (kind, source kind, destination kind).
TRANSFER_SHAPES = (
    (Transfer.Kind.SIGNUP, Account.Kind.ISSUANCE, Account.Kind.USER),
    (Transfer.Kind.RESERVE, Account.Kind.ISSUANCE, Account.Kind.BANK),
    (Transfer.Kind.TEACHING, Account.Kind.USER, Account.Kind.USER),
    (Transfer.Kind.BANK_CUT, Account.Kind.USER, Account.Kind.BANK),
    (Transfer.Kind.SUPPORT, Account.Kind.BANK, Account.Kind.USER),
)


def ledger_mismatches() -> list[str]:
    """Every way the stored balances disagree with the transfers; empty when the ledger holds.

    Four aggregate queries whatever the size of the ledger: each balance equals its transfers
    in minus out, all balances sum to zero, and every transfer connects the kinds of accounts
    its kind allows (so nothing but signup and reserve ever comes from issuance).
    """
    problems = []
    incoming = _sums_by("destination_id")
    outgoing = _sums_by("source_id")
    total = ZERO
    for pk, kind, user_id, balance in Account.objects.order_by("pk").values_list(
        "pk", "kind", "user_id", "balance"
    ):
        expected = incoming.get(pk, ZERO) - outgoing.get(pk, ZERO)
        if balance != expected:
            owner = f" user {user_id}" if user_id else ""
            problems.append(f"account {pk} ({kind}{owner}): balance {balance} but transfers say {expected}")
        total += balance
    if total != 0:
        problems.append(f"balances sum to {total}, not 0.00")
    allowed = Q()
    for kind, source_kind, destination_kind in TRANSFER_SHAPES:
        allowed |= Q(kind=kind, source__kind=source_kind, destination__kind=destination_kind)
    for pk, kind, src, dst in (
        Transfer.objects.exclude(allowed)
        .order_by("pk")
        .values_list("pk", "kind", "source__kind", "destination__kind")[:100]
    ):
        problems.append(f"transfer {pk}: {kind} may not go from {src} to {dst}")
    return problems


def _sums_by(field: str) -> dict[int, Decimal]:
    rows = Transfer.objects.order_by().values(field).annotate(total=Sum("amount"))
    # SQLite sums decimals as floats; back to cents (exact while totals stay below 10**12).
    return {row[field]: row["total"].quantize(CENT) for row in rows}


def balance_after_mismatches() -> list[str]:
    """Replays every transfer in id order and compares the running balances with the recorded
    `*_balance_after` values. Linear in the number of transfers: for `ledger_check`, not tests.

    Id order is the order in which transfers touching one account committed: the row lock on
    the account is held from before the insert until the commit.
    """
    problems = []
    running: dict[int, Decimal] = {}
    rows = Transfer.objects.order_by("pk").values_list(
        "pk", "source_id", "destination_id", "amount", "source_balance_after", "destination_balance_after"
    )
    for pk, src, dst, amount, src_after, dst_after in rows.iterator(chunk_size=2000):
        running[src] = running.get(src, ZERO) - amount
        running[dst] = running.get(dst, ZERO) + amount
        if running[src] != src_after:
            problems.append(f"transfer {pk}: source balance after is {src_after}, replay says {running[src]}")
        if running[dst] != dst_after:
            problems.append(
                f"transfer {pk}: destination balance after is {dst_after}, replay says {running[dst]}"
            )
    return problems


def payment_mismatches() -> list[str]:
    """Each recorded teaching payment agrees with its transfers: the teacher got paid - cut and
    the bank got the cut, under the payment's key. Linear; for `ledger_check`."""
    legs = dict(
        Transfer.objects.filter(kind__in=[Transfer.Kind.TEACHING, Transfer.Kind.BANK_CUT])
        .order_by()
        .values_list("idempotency_key", "amount")
        .iterator(chunk_size=2000)
    )
    problems = []
    rows = Payment.objects.order_by("pk").values_list(
        "pk", "idempotency_key", "owed", "paid", "cut", "shortfall"
    )
    for pk, key, owed, paid, cut, shortfall in rows.iterator(chunk_size=2000):
        teaching = legs.get(Payment.leg_key(key, Transfer.Kind.TEACHING), ZERO)
        bank_cut = legs.get(Payment.leg_key(key, Transfer.Kind.BANK_CUT), ZERO)
        if teaching != paid - cut or bank_cut != cut or shortfall != owed - paid:
            problems.append(
                f"payment {pk} ({key}): paid {paid}, cut {cut}, shortfall {shortfall} of {owed}, "
                f"but transfers moved {teaching} to the teacher and {bank_cut} to the bank"
            )
    return problems
