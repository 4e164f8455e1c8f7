"""Every movement of credits. Nothing outside this module writes a balance.

Each public service is one transaction. Accounts are locked with SELECT ... FOR UPDATE in id
order, so two transfers in opposite directions between the same accounts queue up instead of
deadlocking; every transfer carries a unique idempotency key, so replaying an operation (a double
click, a retried request, a second server process) returns the first result and moves nothing.
"""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from common.errors import Conflict

from .models import Account, Transfer
from .rates import ZERO, bank_cut, credits_for_seconds, money, support_tier

RESERVE_KEY = "reserve:initial"


# --- accounts -------------------------------------------------------------------------------


def _system_account(kind: str) -> Account:
    account = Account.objects.filter(kind=kind).first()
    if account is not None:
        return account
    try:
        with transaction.atomic():
            return Account.objects.create(kind=kind)
    except IntegrityError:  # another process created it first
        return Account.objects.get(kind=kind)


def bank_reserve_ensure(*, now: datetime | None = None) -> Account:
    """Create the bank and fund it with BANK_INITIAL_RESERVE, exactly once per installation."""
    with transaction.atomic():
        issuance = _system_account(Account.Kind.ISSUANCE)
        bank = _system_account(Account.Kind.BANK)
        reserve = money(settings.BANK_INITIAL_RESERVE)
        if reserve > 0 and not Transfer.objects.filter(idempotency_key=RESERVE_KEY).exists():
            _transfer(
                source=issuance,
                destination=bank,
                amount=reserve,
                kind=Transfer.Kind.RESERVE,
                idempotency_key=RESERVE_KEY,
                now=now or timezone.now(),
            )
        return Account.objects.get(pk=bank.pk)


def bank_account() -> Account:
    bank = Account.objects.filter(kind=Account.Kind.BANK).first()
    return bank if bank is not None else bank_reserve_ensure()


def account_open_with_signup_grant(*, user, now: datetime | None = None) -> Account:
    """Open a new user's account and credit the signup grant (SPEC: 15.00)."""
    now = now or timezone.now()
    with transaction.atomic():
        issuance = _system_account(Account.Kind.ISSUANCE)
        account, _ = Account.objects.get_or_create(user=user, defaults={"kind": Account.Kind.USER})
        grant = money(settings.SIGNUP_GRANT)
        if grant > 0:
            _transfer(
                source=issuance,
                destination=account,
                amount=grant,
                kind=Transfer.Kind.SIGNUP,
                idempotency_key=f"signup:{user.pk}",
                now=now,
            )
        account.refresh_from_db()
        return account


# --- the one primitive ----------------------------------------------------------------------


def _lock(*accounts: Account) -> dict[int, Account]:
    ids = sorted({a.pk for a in accounts})
    locked = Account.objects.select_for_update().filter(pk__in=ids).order_by("pk")
    return {a.pk: a for a in locked}


def _transfer(
    *,
    source: Account,
    destination: Account,
    amount: Decimal,
    kind: str,
    idempotency_key: str,
    now: datetime,
    session_id: int | None = None,
    locked: dict[int, Account] | None = None,
) -> Transfer:
    """Move `amount` from source to destination. Must run inside a transaction."""
    amount = money(amount)
    if amount <= 0:
        raise ValueError("transfers move a positive amount")
    locked = locked or _lock(source, destination)
    existing = Transfer.objects.filter(idempotency_key=idempotency_key).first()
    if existing is not None:
        return existing
    src, dst = locked[source.pk], locked[destination.pk]
    if src.kind != Account.Kind.ISSUANCE and src.balance < amount:
        raise Conflict("Not enough credits.")
    src.balance -= amount
    dst.balance += amount
    src.save(update_fields=["balance"])
    dst.save(update_fields=["balance"])
    return Transfer.objects.create(
        source=src,
        destination=dst,
        amount=amount,
        kind=kind,
        session_id=session_id,
        idempotency_key=idempotency_key,
        created_at=now,
        source_balance_after=src.balance,
        destination_balance_after=dst.balance,
    )


# --- teaching -------------------------------------------------------------------------------


@dataclass(frozen=True)
class TeachingPayment:
    owed: Decimal  # what the teaching time is worth
    paid: Decimal  # what the learner actually paid (never more than they held)
    cut: Decimal  # the bank's share of `paid`
    shortfall: Decimal  # owed - paid

    @property
    def teacher_received(self) -> Decimal:
        return self.paid - self.cut


def teaching_pay(
    *, learner, teacher, seconds: int, session_id: int, now: datetime | None = None
) -> TeachingPayment:
    """The learner pays the teacher for `seconds` of teaching; the bank takes its cut.

    A learner pays at most what they hold; the rest is reported as shortfall. Paying twice for
    the same (session, teacher) returns the first payment and moves nothing.
    """
    now = now or timezone.now()
    owed = credits_for_seconds(seconds)
    key = f"session:{session_id}:teacher:{teacher.pk}"
    with transaction.atomic():
        bank = bank_account()
        learner_acc = Account.objects.get(user=learner)
        teacher_acc = Account.objects.get(user=teacher)
        locked = _lock(learner_acc, teacher_acc, bank)
        # A zero payment writes nothing; replaying one is harmless because the session's own
        # status (locked by the caller) is what makes settlement happen once.
        done = list(Transfer.objects.filter(idempotency_key__in=[f"{key}:teaching", f"{key}:cut"]))
        if done:
            paid = sum((t.amount for t in done), ZERO)
            cut = sum((t.amount for t in done if t.kind == Transfer.Kind.BANK_CUT), ZERO)
            return TeachingPayment(owed=owed, paid=paid, cut=cut, shortfall=owed - paid)
        paid = min(owed, locked[learner_acc.pk].balance)
        cut = bank_cut(paid, settings.BANK_CUT_RATE)
        if paid - cut > 0:
            _transfer(
                source=learner_acc,
                destination=teacher_acc,
                amount=paid - cut,
                kind=Transfer.Kind.TEACHING,
                idempotency_key=f"{key}:teaching",
                now=now,
                session_id=session_id,
                locked=locked,
            )
        if cut > 0:
            _transfer(
                source=learner_acc,
                destination=bank,
                amount=cut,
                kind=Transfer.Kind.BANK_CUT,
                idempotency_key=f"{key}:cut",
                now=now,
                session_id=session_id,
                locked=locked,
            )
        return TeachingPayment(owed=owed, paid=paid, cut=cut, shortfall=owed - paid)


# --- support --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SupportEligibility:
    eligible: bool
    reason: str
    support_amount: Decimal
    current_credits: Decimal
    cooldown_ends: datetime | None


def support_eligibility_of(account: Account, *, now: datetime) -> SupportEligibility:
    """Whether this account may receive support credits now, and how many (SPEC section 4)."""
    balance = account.balance
    cooldown_ends = account.last_support_at + settings.SUPPORT_COOLDOWN if account.last_support_at else None
    amount = support_tier(balance)
    if cooldown_ends and now < cooldown_ends:
        return SupportEligibility(
            False, "Support was granted less than 24 hours ago.", ZERO, balance, cooldown_ends
        )
    if amount == 0:
        return SupportEligibility(
            False, "Support is for balances of 3.00 credits or less.", ZERO, balance, cooldown_ends
        )
    return SupportEligibility(True, f"Eligible for {amount} support credits.", amount, balance, cooldown_ends)


@dataclass(frozen=True)
class SupportGrant:
    granted: Decimal
    credits: Decimal
    cooldown_ends: datetime


def support_grant(*, user, now: datetime | None = None) -> SupportGrant:
    """Pay support credits from the bank to an eligible user; Conflict with the reason otherwise."""
    now = now or timezone.now()
    with transaction.atomic():
        bank = bank_account()
        account = Account.objects.get(user=user)
        locked = _lock(account, bank)
        account = locked[account.pk]
        eligibility = support_eligibility_of(account, now=now)
        if not eligibility.eligible:
            raise Conflict(eligibility.reason)
        if locked[bank.pk].balance < eligibility.support_amount:
            raise Conflict("The bank cannot cover support right now. Please try again later.")
        _transfer(
            source=bank,
            destination=account,
            amount=eligibility.support_amount,
            kind=Transfer.Kind.SUPPORT,
            idempotency_key=f"support:{account.pk}:{now.isoformat()}",
            now=now,
            locked=locked,
        )
        account.last_support_at = now
        account.save(update_fields=["last_support_at"])
        return SupportGrant(
            granted=eligibility.support_amount,
            credits=account.balance,
            cooldown_ends=now + settings.SUPPORT_COOLDOWN,
        )
