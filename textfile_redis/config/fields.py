"""Typed values from TOML tables, and messages that name the file, the key and the problem."""

from __future__ import annotations

import math
import re
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from .model import SECRET_KEYS, ConfigError

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence
    from pathlib import Path

NAME_RE = re.compile(r"[A-Za-z0-9_.-]+")
_COMMAND_RE = re.compile(r"\S+")
_SHOWN_VALUE_MAX = 60

_T = TypeVar("_T")
Table = dict[str, object]


@dataclass(frozen=True, slots=True)
class Where:
    """The file (or flag) and table a value came from, so every message can start with them."""

    source: str
    ref: str = ""  # "target[2]" or "target 'cache'"; empty at the top level

    def msg(self, key: str, problem: str) -> str:
        """One line: source, dotted key, problem."""
        path = ".".join(part for part in (self.ref, key) if part)
        return f"{self.source}: {path}: {problem}" if path else f"{self.source}: {problem}"

    def describe(self) -> str:
        """Say the place in words, for messages about another place."""
        return f"{self.ref} in {self.source}" if self.ref else self.source


def os_reason(exc: OSError) -> str:
    """The OS's words for a failure, without the path it may repeat."""
    return exc.strerror or str(exc)


@contextmanager
def blamed_on(path: Path) -> Iterator[None]:
    """Turn an unexpected exception while loading from this file into a refusal naming it.

    Only the exception's type is shown: its text may quote a value, and values may be secrets.
    """
    try:
        yield
    except ConfigError:
        raise
    except RecursionError:
        msg = f"{path}: nested too deeply to be a configuration"
        raise ConfigError(msg) from None
    except Exception as exc:  # noqa: BLE001 - a configuration is loaded or refused, nothing else
        msg = f"{path}: cannot be loaded ({type(exc).__name__})"
        raise ConfigError(msg) from None


def one_line(text: str) -> str:
    """The text with every run of whitespace, newlines included, made one space."""
    return " ".join(text.split())


def _kind(value: object) -> str:
    kinds: dict[type, str] = {
        str: "a string",
        bool: "a boolean",
        int: "an integer",
        float: "a float",
        dict: "a table",
        list: "an array",
    }
    return kinds.get(type(value), "a date or time")


def _shown(key: str, value: object) -> str:
    """Show a bad value in a message, but never a secret nor a whole table."""
    if key in SECRET_KEYS or isinstance(value, (dict, list)):
        return _kind(value)
    if isinstance(value, bool):
        return str(value).lower()
    text = repr(value)
    return text if len(text) <= _SHOWN_VALUE_MAX else text[: _SHOWN_VALUE_MAX - 3] + "..."


def type_msg(where: Where, key: str, wanted: str, value: object) -> str:
    """Say that the key wanted another type, showing the value only when that is safe."""
    return where.msg(key, f"expected {wanted}, got {_shown(key, value)}")


def check_keys(table: Table, known: Sequence[str], where: Where) -> None:
    """Refuse the first unknown key, suggesting the known key it is closest to."""
    for key in table:
        if key in known:
            continue
        import difflib  # noqa: PLC0415 - only for a mistake, and not worth its memory otherwise

        close = difflib.get_close_matches(key, known, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ConfigError(where.msg("", f"unknown key {key!r}{hint}"))


def _get_typed(table: Table, key: str, where: Where, kind: type[_T], wanted: str) -> _T | None:
    value = table.get(key)
    if value is None or isinstance(value, kind):
        return value
    raise ConfigError(type_msg(where, key, wanted, value))


def get_str(table: Table, key: str, where: Where) -> str | None:
    """The key's string, None when absent."""
    return _get_typed(table, key, where, str, "a string")


def get_bool(table: Table, key: str, where: Where) -> bool | None:
    """The key's boolean, None when absent."""
    return _get_typed(table, key, where, bool, "true or false")


def get_table(table: Table, key: str, where: Where) -> Table | None:
    """The key's table, None when absent."""
    return _get_typed(table, key, where, dict, "a table")


def get_seconds(table: Table, key: str, where: Where) -> float | None:
    """The key's duration, a finite number of seconds above 0; None when absent."""
    value = table.get(key)
    if value is None:
        return None
    # TOML booleans are Python ints; `timeout = true` is a mistake, not one second.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(type_msg(where, key, "a number", value))
    if not math.isfinite(value) or value <= 0:
        raise ConfigError(where.msg(key, f"must be a number greater than 0, got {value!r}"))
    return float(value)


def get_path(table: Table, key: str, where: Where, base: Path) -> Path | None:
    """Get a path; a relative one is relative to the directory of the file naming it."""
    value = get_str(table, key, where)
    if value is None:
        return None
    if not value:
        raise ConfigError(where.msg(key, "must not be empty"))
    return joined(base, value, where, key)


def joined(base: Path, text: str, where: Where, key: str) -> Path:
    """Join base and text, refusing a NUL: no path holds one, and the OS would raise ValueError."""
    if "\0" in text:
        raise ConfigError(where.msg(key, "a path must not hold a NUL character"))
    return base / text


def get_command(table: Table, where: Where, default: str) -> str:
    """config_command: one word, the default when absent."""
    value = get_str(table, "config_command", where)
    if value is None:
        return default
    if not _COMMAND_RE.fullmatch(value):
        raise ConfigError(where.msg("config_command", f"must be one word, got {value!r}"))
    return value


def check_below_interval(where: Where, key: str, timeout: float, interval: float) -> None:
    """Refuse a duration that would not end before the next cycle starts."""
    if timeout >= interval:
        problem = f"must be less than interval ({interval:g}s), got {timeout:g}"
        raise ConfigError(where.msg(key, problem))
