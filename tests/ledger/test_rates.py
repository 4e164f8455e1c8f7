from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.rates import bank_cut, credits_for_seconds, money, support_tier

RATE = Decimal("0.10")
cents = st.integers(min_value=0, max_value=10**9).map(lambda c: Decimal(c) / 100)


@given(st.integers(min_value=0, max_value=10**9))
def test_credits_are_whole_cents_of_three_seconds_each(seconds):
    assert credits_for_seconds(seconds) == Decimal(seconds // 3) / 100
    assert credits_for_seconds(seconds).as_tuple().exponent == -2


@given(st.integers(min_value=0, max_value=10**9))
def test_credits_never_round_up(seconds):
    assert credits_for_seconds(seconds) * 300 <= seconds * 1  # 1 credit per 300 s, at most


@pytest.mark.parametrize(
    ("seconds", "credits"),
    [(0, "0.00"), (2, "0.00"), (3, "0.01"), (299, "0.99"), (300, "1.00"), (301, "1.00"), (3600, "12.00")],
)
def test_credits_at_the_boundaries(seconds, credits):
    assert credits_for_seconds(seconds) == Decimal(credits)


def test_negative_seconds_are_worth_nothing():
    assert credits_for_seconds(-30) == Decimal("0.00")


@pytest.mark.parametrize(
    ("paid", "cut"),
    [
        ("0.00", "0.00"),
        ("0.04", "0.00"),
        ("0.05", "0.01"),
        ("0.15", "0.02"),
        ("0.25", "0.03"),
        ("15.00", "1.50"),
    ],
)
def test_bank_cut_rounds_half_up(paid, cut):
    assert bank_cut(Decimal(paid), RATE) == Decimal(cut)


@given(cents)
def test_the_cut_is_the_rate_rounded_half_up_to_a_cent_and_never_more_than_paid(paid):
    cut = bank_cut(paid, RATE)
    assert cut == (paid * RATE).quantize(Decimal("0.01"), ROUND_HALF_UP)
    assert Decimal(0) <= cut <= paid


@pytest.mark.parametrize(
    ("balance", "tier"),
    [
        ("0.00", "6.00"),
        ("0.99", "6.00"),
        ("1.00", "4.00"),
        ("2.99", "4.00"),
        ("3.00", "2.00"),
        ("3.01", "0.00"),
        ("15.00", "0.00"),
    ],
)
def test_support_tiers(balance, tier):
    assert support_tier(Decimal(balance)) == Decimal(tier)


def test_money_refuses_floats():
    with pytest.raises(TypeError):
        money(0.1)
