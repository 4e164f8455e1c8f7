"""Every movement of credits. Nothing outside this module writes a balance.

Each public service is one transaction. Accounts are locked with SELECT ... FOR UPDATE in id
order, so two transfers in opposite directions between the same accounts queue up instead of
deadlocking. Every transfer carries a unique idempotency key, looked up *after* the locks are
held: a replay (a double click, a retried request, a second server process) waits for the first
attempt to commit, then finds its key and returns the first result, moving nothing. The unique
index is the last line of defence; an IntegrityError on it is caught in a savepoint and answered
with the row that won.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from common.errors import Conflict, Invalid

from .models import Account, Payment, Transfer
from .rates import bank_cut, credits_for_seconds, money
from .selectors import support_eligibility_of

RESERVE_KEY = "reserve:initial"


# --- accounts -------------------------------------------------------------------------------


def _system_account(kind: str) -> Account:
    account = Account.objects.filter(kind=kind).first()
    if account is not None:
        return account
    try:
        with transaction.atomic():
            return Account.objects.create(kind=kind)
    except IntegrityError:  # another transaction created it first; its row is committed now
        return Account.objects.get(kind=kind)


def bank_reserve_ensure(*, now: datetime | None = None) -> Account:
    """Create the bank and fund it with BANK_INITIAL_RESERVE, exactly once per installation.

    Safe to call concurrently: the bank row is unique, and the reserve transfer is looked up
    under the lock of both accounts, so a second caller finds the first one's transfer.
    """
    with transaction.atomic():
        issuance = _system_account(Account.Kind.ISSUANCE)
        bank = _system_account(Account.Kind.BANK)
        _issue(
            issuance,
            bank,
            amount=settings.BANK_INITIAL_RESERVE,
            kind=Transfer.Kind.RESERVE,
            idempotency_key=RESERVE_KEY,
            now=now or timezone.now(),
        )
        return Account.objects.get(pk=bank.pk)


def bank_account() -> Account:
    """The bank's account, created and funded on first use."""
    bank = Account.objects.filter(kind=Account.Kind.BANK).first()
    return bank if bank is not None else bank_reserve_ensure()


def account_open_with_signup_grant(*, user, now: datetime | None = None) -> Account:
    """Open a new user's account and credit the signup grant (SPEC: 15.00). Idempotent."""
    now = now or timezone.now()
    with transaction.atomic():
        issuance = _system_account(Account.Kind.ISSUANCE)
        account, _ = Account.objects.get_or_create(user=user, defaults={"kind": Account.Kind.USER})
        _issue(
            issuance,
            account,
            amount=settings.SIGNUP_GRANT,
            kind=Transfer.Kind.SIGNUP,
            idempotency_key=f"signup:{user.pk}",
            now=now,
        )
        account.refresh_from_db()
        return account


def _issue(issuance: Account, destination: Account, *, amount, kind: str, idempotency_key: str, now) -> None:
    """New credits into circulation (a configured amount; zero or less issues nothing)."""
    amount = money(amount)
    if amount > 0:
        _transfer(
            source=issuance,
            destination=destination,
            amount=amount,
            kind=kind,
            idempotency_key=idempotency_key,
            now=now,
        )


def _account_of(user) -> Account:
    # Every way of creating a user opens the account (the user manager does), so a user without
    # one was made around it: a bug to surface, not to paper over with a silent signup grant.
    try:
        return Account.objects.get(user=user)
    except Account.DoesNotExist as exc:
        raise RuntimeError(
            f"user {user.pk} has no credit account; users must be created through the user manager"
        ) from exc


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
    """Move `amount` from source to destination. Runs inside the caller's transaction.

    `locked` are account rows the caller already holds locked (and whose in-memory balances are
    current); otherwise both accounts are locked here.
    """
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
    try:
        with transaction.atomic():
            transfer = Transfer.objects.create(
                source=src,
                destination=dst,
                amount=amount,
                kind=kind,
                session_id=session_id,
                idempotency_key=idempotency_key,
                created_at=now,
                source_balance_after=src.balance - amount,
                destination_balance_after=dst.balance + amount,
            )
    except IntegrityError:
        # Only reachable when the same key is used with other accounts than ours (a caller bug
        # or a race we did not lock against): the committed row is the answer.
        existing = Transfer.objects.filter(idempotency_key=idempotency_key).first()
        if existing is None:
            raise
        return existing
    src.balance -= amount
    dst.balance += amount
    src.save(update_fields=["balance"])
    dst.save(update_fields=["balance"])
    return transfer


# --- teaching -------------------------------------------------------------------------------


@dataclass(frozen=True)
class TeachingPayment:
    owed: Decimal  # what the teaching time is worth
    paid: Decimal  # what the learner actually paid (never more than they held)
    cut: Decimal  # the bank's share of `paid`
    shortfall: Decimal  # owed - paid
    teacher_received: Decimal  # paid - cut


def _payment_result(payment: Payment) -> TeachingPayment:
    return TeachingPayment(
        owed=payment.owed,
        paid=payment.paid,
        cut=payment.cut,
        shortfall=payment.shortfall,
        teacher_received=payment.paid - payment.cut,
    )


def teaching_payment_key(*, session_id: int, teacher_id: int) -> str:
    return f"session:{session_id}:teacher:{teacher_id}"


def teaching_pay(
    *, learner, teacher, seconds: int, session_id: int, now: datetime | None = None
) -> TeachingPayment:
    """The learner pays the teacher for `seconds` of teaching; the bank takes its cut.

    A learner pays at most what they hold; the rest is reported as shortfall. The payment for
    one (session, teacher) happens once: a replay returns the first outcome and moves nothing,
    even when that outcome was "nothing paid".
    """
    if learner.pk == teacher.pk:
        raise Invalid("A user cannot pay themselves for teaching.")
    if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds < 0:
        raise Invalid("Teaching time must be a whole, non-negative number of seconds.")
    now = now or timezone.now()
    owed = credits_for_seconds(seconds)
    key = teaching_payment_key(session_id=session_id, teacher_id=teacher.pk)
    with transaction.atomic():
        bank = bank_account()
        learner_acc = _account_of(learner)
        teacher_acc = _account_of(teacher)
        locked = _lock(learner_acc, teacher_acc, bank)
        existing = Payment.objects.filter(idempotency_key=key).first()
        if existing is not None:
            return _payment_result(existing)
        paid = min(owed, locked[learner_acc.pk].balance)
        cut = bank_cut(paid, settings.BANK_CUT_RATE)
        try:
            with transaction.atomic():
                payment = _teaching_pay_locked(
                    key=key,
                    locked=locked,
                    learner_acc=learner_acc,
                    teacher_acc=teacher_acc,
                    bank=bank,
                    seconds=seconds,
                    owed=owed,
                    paid=paid,
                    cut=cut,
                    session_id=session_id,
                    now=now,
                )
        except IntegrityError:
            # The key won elsewhere (same session and teacher with a different learner: the
            # accounts we locked were not the winner's). Our transfers rolled back with the
            # savepoint; the locked rows in memory are stale but unused from here.
            existing = Payment.objects.filter(idempotency_key=key).first()
            if existing is None:
                raise
            return _payment_result(existing)
        return _payment_result(payment)


def _teaching_pay_locked(
    *, key, locked, learner_acc, teacher_acc, bank, seconds, owed, paid, cut, session_id, now
) -> Payment:
    legs = [(teacher_acc, paid - cut, Transfer.Kind.TEACHING), (bank, cut, Transfer.Kind.BANK_CUT)]
    for destination, amount, kind in legs:
        if amount > 0:
            _transfer(
                source=learner_acc,
                destination=destination,
                amount=amount,
                kind=kind,
                idempotency_key=Payment.leg_key(key, kind),
                now=now,
                session_id=session_id,
                locked=locked,
            )
    return Payment.objects.create(
        idempotency_key=key,
        session_id=session_id,
        learner=learner_acc,
        teacher=teacher_acc,
        seconds=seconds,
        owed=owed,
        paid=paid,
        cut=cut,
        shortfall=owed - paid,
        created_at=now,
    )


# --- support --------------------------------------------------------------------------------


@dataclass(frozen=True)
class SupportGrant:
    granted: Decimal
    credits: Decimal
    cooldown_ends: datetime


def support_grant(*, user, now: datetime | None = None) -> SupportGrant:
    """Pay support credits from the bank to an eligible user; Conflict with the reason otherwise.

    The user's account row is locked before eligibility is read, so concurrent requests queue
    and every one after the first sees the cooldown.
    """
    now = now or timezone.now()
    with transaction.atomic():
        bank = bank_account()
        account = _account_of(user)
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
            # Support has no client-supplied identity; the cooldown under the lock is what makes
            # a double request grant once, so the key only has to be unique.
            idempotency_key=f"support:{account.pk}:{uuid.uuid4().hex}",
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
