"""Go's shortest float formatting, for `le` and `quantile` values as redis_exporter writes them."""

from __future__ import annotations

import math
from decimal import Decimal

# strconv.FormatFloat(f, 'g', -1, 64) switches to an exponent from 1e+06 on, or below 1e-04.
_LARGEST_PLAIN_EXPONENT = 5
_SMALLEST_PLAIN_EXPONENT = -4


def go_float(value: float) -> str:
    """Format like Go's 'g' verb with shortest precision: 1, 0.5, 1.048576e+06, 1e-05."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "0"
    sign, digit_tuple, exponent = Decimal(repr(value)).normalize().as_tuple()
    digits = "".join(map(str, digit_tuple))
    power = len(digits) - 1 + int(exponent)
    text = (
        _plain(digits, power)
        if _SMALLEST_PLAIN_EXPONENT <= power <= _LARGEST_PLAIN_EXPONENT
        else _scientific(digits, power)
    )
    return f"-{text}" if sign else text


def _plain(digits: str, power: int) -> str:
    if power < 0:
        return "0." + "0" * (-power - 1) + digits
    whole, fraction = digits[: power + 1].ljust(power + 1, "0"), digits[power + 1 :]
    return f"{whole}.{fraction}" if fraction else whole


def _scientific(digits: str, power: int) -> str:
    mantissa = digits[0] + (f".{digits[1:]}" if len(digits) > 1 else "")
    return f"{mantissa}e{'-' if power < 0 else '+'}{abs(power):02d}"
