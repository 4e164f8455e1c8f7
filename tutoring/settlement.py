"""Settling an ended session: what each participant pays and earns, and the credit summary."""

from datetime import datetime

from ledger.rates import ZERO, format_credits
from ledger.selectors import balance_of
from ledger.services import TeachingPayment, teaching_pay

from .models import Session

NOTHING = TeachingPayment(owed=ZERO, paid=ZERO, cut=ZERO, shortfall=ZERO, teacher_received=ZERO)


def _participant_summary(session, user, *, taught: TeachingPayment, learned: TeachingPayment) -> dict:
    return {
        "id": user.pk,
        "name": user.name,
        "teaching_seconds": session.teaching_seconds_of(user.pk),
        "credits_earned": format_credits(taught.teacher_received),
        "credits_spent": format_credits(learned.paid),
        "shortfall": format_credits(learned.shortfall),
    }


def credit_summary(session: Session, *, by_user1: TeachingPayment, by_user2: TeachingPayment) -> dict:
    """`by_user1` is the payment for user1's teaching (paid by user2), and vice versa."""
    return {
        "user1": _participant_summary(session, session.user1, taught=by_user1, learned=by_user2),
        "user2": _participant_summary(session, session.user2, taught=by_user2, learned=by_user1),
        "bank_cut": format_credits(by_user1.cut + by_user2.cut),
    }


def settle(session: Session, *, now: datetime) -> dict:
    """Pay each participant for their teaching, once, and return the credit summary."""
    u1, u2 = session.user1, session.user2
    directions = [
        (u1, u2, session.teaching_seconds_of(u1.pk)),  # (teacher, learner, seconds)
        (u2, u1, session.teaching_seconds_of(u2.pk)),
    ]
    # When both taught and one cannot cover what they owe, letting the better-funded learner
    # pay first gives the other the credits to pay back: less shortfall, same ledger rules.
    directions.sort(key=lambda d: balance_of(user=d[1]), reverse=True)
    payments = {}
    for teacher, learner, seconds in directions:
        payments[teacher.pk] = (
            teaching_pay(learner=learner, teacher=teacher, seconds=seconds, session_id=session.pk, now=now)
            if seconds > 0
            else NOTHING
        )
    return credit_summary(session, by_user1=payments[u1.pk], by_user2=payments[u2.pk])
