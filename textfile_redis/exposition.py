"""The text exposition format: a family's lines, values as Go writes them, escaped labels.

Samples are written as text the moment translation makes them, which costs half of what
building prometheus_client Samples and rendering those did. The text is what prometheus_client's
generate_latest writes for the same samples (tests/test_exposition.py holds the two byte for
byte), except that counters are typed under their samples' name, so the ones redis_exporter names
without `_total` stay consistent.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, NamedTuple

from prometheus_client.utils import floatToGoString

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

_TYPE_WORDS = {"unknown": "untyped"}
_GO_PLAIN_BELOW = 1e6  # Go writes 1e+06 where Python writes 1000000.0
_GO_PLAIN_DIGITS = 6  # integers of up to 6 digits are below 1e6
# A float holds every integer of up to 15 digits exactly, and repr gives back those digits.
_EXACT_DIGITS = 15


class Family(NamedTuple):  # a tuple: made for each of ~150 families every cycle, cheaply
    """One family as text: its name and type, its HELP and TYPE lines, a line per sample."""

    name: str
    kind: str
    header: str
    lines: list[str]

    def text(self) -> str:
        """The whole family: header, then its samples."""
        return self.header + "".join(self.lines)


def header(name: str, kind: str, documentation: str) -> str:
    """`# HELP` and `# TYPE` lines for a family."""
    kind = _TYPE_WORDS.get(kind, kind)
    return f"# HELP {name} {escape_help(documentation)}\n# TYPE {name} {kind}\n"


def format_value(value: float) -> str:
    """A value as prometheus_client writes it: repr, but Go's exponent from 1e+06, +Inf, NaN."""
    number = float(value)
    if -math.inf < number < _GO_PLAIN_BELOW:  # the common case, where repr is Go's text
        return repr(number)
    return str(floatToGoString(number))  # type: ignore[no-untyped-call]  # untyped upstream


def integer_value(text: str) -> str | None:
    """format_value(float(text)) for a decimal integer as servers write it, without the float.

    Most of what a server reports are integers: their text is the value's, plus Python's `.0`,
    or Go's exponent from 1e+06 on. None for anything else (leading zeros, a `+`, non-ASCII
    digits, more than 15 digits, fractions), which then takes the float's way.
    """
    digits = text[1:] if text[:1] == "-" else text
    if not (digits.isdigit() and digits.isascii()) or len(digits) > _EXACT_DIGITS:
        return None
    if digits[0] == "0" and len(digits) > 1:
        return None
    if len(digits) <= _GO_PLAIN_DIGITS or digits is not text:  # negatives keep repr's form
        return f"{text}.0"
    return f"{(digits[0] + '.' + digits[1:]).rstrip('0.')}e+{len(digits) - 1:02d}"


def number_value(text: str) -> str | None:
    """A value's text from a number's text, as format_value writes it; None when not a number."""
    fast = integer_value(text)
    if fast is not None:
        return fast
    try:
        return format_value(float(text))
    except ValueError:
        return None


class LabelLayout:
    """How a sample's labels are written: the common ones filled in, its own ones left as slots.

    Labels are sorted by name, as generate_latest leaves them in our families, and a sample's
    own label wins over a common one of the same name. A target has a dozen layouts, each made
    once (kept with the target's series texts) and used for every sample of that shape.
    """

    __slots__ = ("fragments", "keys")

    def __init__(self, common: Mapping[str, str], own: Iterable[str]) -> None:
        own_keys = set(own)
        names = sorted({*common, *own_keys})
        self.keys = tuple(name for name in names if name in own_keys)
        fragments, current = [], "{" if names else ""
        for index, name in enumerate(names):
            opening = f'{"," if index else ""}{name}="'
            if name in own_keys:
                fragments.append(current + opening)
                current = '"'
            else:
                current += f'{opening}{escape_value(common[name])}"'
        fragments.append(current + ("}" if names else ""))
        self.fragments = tuple(fragments)

    def fill(self, labels: Mapping[str, str]) -> str:
        """The labels' text, `{addr="...",db="db0"}`, with these values in the slots."""
        if len(self.keys) == 1:  # most samples have one label of their own
            before, after = self.fragments
            return f"{before}{escape_value(labels[self.keys[0]])}{after}"
        return self._join(labels, 0, len(self.keys))

    def around(self, labels: Mapping[str, str], slot: str) -> tuple[str, str]:
        """The text before and after `slot`'s value, for samples that differ only there."""
        match self.keys, self.fragments:
            case (first, second), (head, middle, tail):  # cmd and le or quantile: the usual
                if second == slot:
                    return f"{head}{escape_value(labels[first])}{middle}", tail
                return head, f"{middle}{escape_value(labels[second])}{tail}"
        at = self.keys.index(slot)
        return self._join(labels, 0, at), self._join(labels, at + 1, len(self.keys))

    def _join(self, labels: Mapping[str, str], start: int, stop: int) -> str:
        """Fragments start to stop, with the values of the slots between them."""
        parts = [self.fragments[start]]
        for key, fragment in zip(
            self.keys[start:stop], self.fragments[start + 1 : stop + 1], strict=True
        ):
            parts += (escape_value(labels[key]), fragment)
        return "".join(parts)


def escape_value(value: str) -> str:
    """A label value as it goes between quotes."""
    if "\\" in value or "\n" in value or '"' in value:
        return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")
    return value


def escape_help(text: str) -> str:
    """HELP text as it goes on its line."""
    return text.replace("\\", r"\\").replace("\n", r"\n")
