"""redis_exporter's opt-in families: patterns, switches, limits and Lua scripts, checked."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING
from urllib.parse import unquote

from .fields import check_below_interval, get_bool, get_seconds, joined, type_msg
from .model import (
    BOOL_OPTION_KEYS,
    KEY_PATTERN_KEYS,
    MAX_INSIGHT_TOP_N,
    ConfigError,
    KeyPattern,
    LuaScript,
)
from .reading import read_bytes

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from .fields import Table, Where
    from .model import Options

    # (table, key, where, base directory, interval) -> the key's value in Options
    _Parse = Callable[[Table, str, Where, Path, float], object]


def parse_options(
    table: Table, where: Where, base: Path, defaults: Options, interval: float
) -> Options:
    """The opt-in families a table sets, over the defaults it inherits."""
    changes = {
        key: parse(table, key, where, base, interval) for key, parse in _PARSERS if key in table
    }
    return dataclasses.replace(defaults, **changes)  # type: ignore[arg-type]


def _strings(table: Table, key: str, where: Where) -> tuple[str, ...]:
    value = table[key]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ConfigError(type_msg(where, key, "a list of strings", value))
    if any(not item.strip() for item in value):
        raise ConfigError(where.msg(key, "holds an empty string"))
    return tuple(value)


def _key_patterns(
    table: Table, key: str, where: Where, _base: Path, _interval: float
) -> tuple[KeyPattern, ...]:
    return tuple(_key_pattern(text, where, key) for text in _strings(table, key, where))


def _key_pattern(text: str, where: Where, key: str) -> KeyPattern:
    """'db3=session:*' or 'session:*' (db0), the key URL-escaped where it holds '=' or ','."""
    parts = text.split("=")
    if len(parts) > 2:  # noqa: PLR2004 - db=key at most
        raise ConfigError(where.msg(key, f"{text!r} is not db=pattern; write '=' in a key as %3D"))
    db_text, pattern = (parts[0].strip(), parts[1]) if len(parts) == 2 else ("0", parts[0])  # noqa: PLR2004
    db_text = db_text.removeprefix("db")
    if not db_text.isdigit():
        raise ConfigError(where.msg(key, f"{text!r}: {parts[0]!r} is not a database like db0"))
    pattern = unquote(pattern.strip())
    if not pattern:
        raise ConfigError(where.msg(key, f"{text!r} has no key or pattern"))
    return KeyPattern(int(db_text), pattern)


def _switch(table: Table, key: str, where: Where, _base: Path, _interval: float) -> bool | None:
    return get_bool(table, key, where)


def _groups(table: Table, key: str, where: Where, _base: Path, _interval: float) -> tuple[str, ...]:
    return _strings(table, key, where)


def _positive_int(table: Table, key: str, where: Where, _base: Path, _interval: float) -> int:
    return positive_int(table, key, where)


def positive_int(table: Table, key: str, where: Where) -> int:
    """The key's whole number above 0 (TOML's true is no number); the caller checked it is there."""
    value = table[key]
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigError(type_msg(where, key, "a whole number greater than 0", value))
    return value


def _top_n(table: Table, key: str, where: Where, _base: Path, _interval: float) -> int:
    """insight_top_n: 1 to MAX_INSIGHT_TOP_N, so that each insight family stays small."""
    value = positive_int(table, key, where)
    if value > MAX_INSIGHT_TOP_N:
        problem = f"must be at most {MAX_INSIGHT_TOP_N}, got {value}"
        raise ConfigError(where.msg(key, problem))
    return value


def _scan_budget(table: Table, key: str, where: Where, _base: Path, interval: float) -> float:
    budget = get_seconds(table, key, where)
    assert budget is not None  # noqa: S101 - the caller checked the key is there
    check_below_interval(where, key, budget, interval)
    return budget


def _lua_scripts(
    table: Table, key: str, where: Where, base: Path, _interval: float
) -> tuple[LuaScript, ...]:
    paths = (joined(base, text, where, key) for text in _strings(table, key, where))
    return tuple(_lua_script(path, where) for path in paths)


def _lua_script(path: Path, where: Where) -> LuaScript:
    data = read_bytes(path, where, "lua_scripts")
    try:
        return LuaScript(path, data.decode())
    except UnicodeDecodeError:
        raise ConfigError(where.msg("lua_scripts", f"{path} is not UTF-8 text")) from None


# In the order they are checked: of two bad keys, the first one here is the one reported.
_PARSERS: tuple[tuple[str, _Parse], ...] = (
    *((key, _key_patterns) for key in KEY_PATTERN_KEYS),
    *((key, _switch) for key in BOOL_OPTION_KEYS),
    ("check_key_groups", _groups),
    ("max_distinct_key_groups", _positive_int),
    ("check_keys_batch_size", _positive_int),
    ("max_scrape_bytes", _positive_int),
    ("max_series", _positive_int),
    ("insight_top_n", _top_n),
    ("scan_budget", _scan_budget),
    ("lua_scripts", _lua_scripts),
)
