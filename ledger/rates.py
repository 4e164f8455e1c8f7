"""The credit arithmetic, pure and exact (SPEC section 4). No floats anywhere."""

from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def money(value) -> Decimal:
    """A Decimal with exactly two places; refuses floats so no binary rounding sneaks in."""
    if isinstance(value, float):
        raise TypeError("credit amounts must not be floats")
    return Decimal(value).quantize(CENT, rounding=ROUND_DOWN)


def format_credits(value) -> str:
    """How every payload shows an amount: a string with exactly two places ("15.00")."""
    return str(money(value))


def credits_for_seconds(seconds: int) -> Decimal:
    """5 minutes of teaching = 1 credit, truncated to the cent: floor(seconds / 3) / 100."""
    if seconds <= 0:
        return ZERO
    return (Decimal(seconds // 3) / 100).quantize(CENT)


def bank_cut(amount: Decimal, rate: Decimal) -> Decimal:
    """The bank's share of a teaching payment, rounded half-up to the cent."""
    return (amount * rate).quantize(CENT, rounding=ROUND_HALF_UP)


def support_tier(balance: Decimal) -> Decimal:
    """Support credits a user may receive at this balance; zero means not eligible."""
    if balance < 1:
        return Decimal("6.00")
    if balance < 3:
        return Decimal("4.00")
    if balance == 3:
        return Decimal("2.00")
    return ZERO
