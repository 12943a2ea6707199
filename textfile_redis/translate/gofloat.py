"""Go's shortest float formatting, for `le` and `quantile` values as redis_exporter writes them."""

from __future__ import annotations

import functools
import math

# strconv.FormatFloat(f, 'g', -1, 64) switches to an exponent from 1e+06 on, or below 1e-04.
_LARGEST_PLAIN_EXPONENT = 5
_SMALLEST_PLAIN_EXPONENT = -4


@functools.lru_cache(maxsize=4096)  # bucket bounds and quantiles repeat every cycle
def go_float(value: float) -> str:
    """Format like Go's 'g' verb with shortest precision: 1, 0.5, 1.048576e+06, 1e-05."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "0"
    digits, power = _shortest_digits(abs(value))
    plain = _SMALLEST_PLAIN_EXPONENT <= power <= _LARGEST_PLAIN_EXPONENT
    text = _plain(digits, power) if plain else _scientific(digits, power)
    return f"-{text}" if value < 0 else text


def _shortest_digits(value: float) -> tuple[str, int]:
    """Significant digits and the power of ten of the first: 1048576.0 -> ("1048576", 6).

    repr() gives Python's shortest round-trip digits, the same digits Go's shortest 'g' picks.
    """
    mantissa, _, exponent = repr(value).partition("e")
    whole, _, fraction = mantissa.partition(".")
    all_digits = whole + fraction
    first = len(all_digits) - len(all_digits.lstrip("0"))
    point = len(whole) + int(exponent or 0)
    return all_digits[first:].rstrip("0"), point - first - 1


def _plain(digits: str, power: int) -> str:
    if power < 0:
        return "0." + "0" * (-power - 1) + digits
    whole, fraction = digits[: power + 1].ljust(power + 1, "0"), digits[power + 1 :]
    return f"{whole}.{fraction}" if fraction else whole


def _scientific(digits: str, power: int) -> str:
    mantissa = digits[0] + (f".{digits[1:]}" if len(digits) > 1 else "")
    return f"{mantissa}e{'-' if power < 0 else '+'}{abs(power):02d}"
