"""Targets from the main file and conf.d: each [[target]] table checked, names and addrs unique."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from .addresses import parse_addr
from .credentials import file_password, tls
from .fields import (
    NAME_RE,
    Where,
    blamed_on,
    check_below_interval,
    check_keys,
    get_command,
    get_seconds,
    get_str,
    get_table,
    os_reason,
    type_msg,
)
from .model import METRIC_LABELS, TARGET_KEYS, ConfigError, Target
from .options import parse_options
from .reading import read_toml

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from pathlib import Path

    from .addresses import Addr
    from .fields import Table
    from .reading import ConfigFile
    from .settings import Settings

_LABEL_RE = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")

# A target and the place it was defined, for messages about it.
Placed = tuple[Target, Where]


def file_targets(
    main: ConfigFile, confd: Path, settings: Settings
) -> tuple[list[Target], list[ConfigFile]]:
    """The main file's targets then conf.d's, and every file read for them."""
    placed = _targets_in(main.table, main.path, settings)
    files = [main]
    for path in _confd_files(confd):
        with blamed_on(path):
            files.append(read_toml(path))
            placed += _confd_targets(files[-1], settings)
    check_unique(placed)
    return [target for target, _ in placed], files


def _confd_files(confd: Path) -> list[Path]:
    """conf.d/*.toml in name order; hidden files (editor locks and swaps) are skipped.

    An entry that is not a regular file (a FIFO, a directory) is kept, to be refused when read.
    """
    try:
        entries = sorted(confd.iterdir(), key=lambda path: path.name)
    except FileNotFoundError:
        return []
    except OSError as exc:
        msg = f"{confd}: cannot list: {os_reason(exc)}"
        raise ConfigError(msg) from None
    return [path for path in entries if path.suffix == ".toml" and not path.name.startswith(".")]


def _confd_targets(file: ConfigFile, settings: Settings) -> list[Placed]:
    for key in file.table:
        if key != "target":
            problem = "a conf.d file holds only [[target]] tables; set it in the main file"
            raise ConfigError(Where(str(file.path)).msg(key, problem))
    return _targets_in(file.table, file.path, settings)


def _targets_in(table: Table, path: Path, settings: Settings) -> list[Placed]:
    where = Where(str(path))
    tables = table.get("target", [])
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise ConfigError(type_msg(where, "target", "an array of tables ([[target]])", tables))
    placed = []
    for index, raw in enumerate(tables, start=1):
        target_where = _target_where(where, index, raw)
        placed.append((_file_target(raw, target_where, path.parent, settings), target_where))
    return placed


def _target_where(where: Where, index: int, table: Table) -> Where:
    name = table.get("name")
    if isinstance(name, str) and NAME_RE.fullmatch(name):
        return Where(where.source, f"target {name!r}")
    return Where(where.source, f"target[{index}]")


def _file_target(table: Table, where: Where, base: Path, settings: Settings) -> Target:
    check_keys(table, TARGET_KEYS, where)
    addr = parse_addr(_required_str(table, "addr", where), where, "addr")
    return Target(
        name=_name(table, where, addr),
        addr=addr.url,
        timeout=_target_timeout(table, where, settings),
        username=_username(table, where, addr),
        password=file_password(table, where, base, addr.password, settings),
        labels=_labels(table, where),
        tls=tls(table, where, base, addr),
        config_command=get_command(table, where, settings.config_command),
        options=parse_options(table, where, base, settings.options, settings.interval),
        source=where.source,
    )


def _required_str(table: Table, key: str, where: Where) -> str:
    value = get_str(table, key, where)
    if value is None:
        raise ConfigError(where.msg(key, "missing; every [[target]] needs one"))
    return value


def _name(table: Table, where: Where, addr: Addr) -> str:
    name = get_str(table, "name", where)
    if name is None:
        return addr.name
    if not NAME_RE.fullmatch(name):
        problem = f"may hold only letters, digits, '_', '.' and '-', got {name!r}"
        raise ConfigError(where.msg("name", problem))
    return name


def _target_timeout(table: Table, where: Where, settings: Settings) -> float:
    timeout = get_seconds(table, "timeout", where)
    if timeout is None:
        return settings.timeout
    check_below_interval(where, "timeout", timeout, settings.interval)
    return timeout


def _username(table: Table, where: Where, addr: Addr) -> str | None:
    username = get_str(table, "username", where) or None
    if username and addr.username:
        raise ConfigError(where.msg("username", "also given in addr; keep one"))
    return username or addr.username


def _labels(table: Table, where: Where) -> tuple[tuple[str, str], ...]:
    """Get the static labels, sorted so equal configurations compare equal."""
    labels = get_table(table, "labels", where) or {}
    return tuple(sorted(_label(name, value, where) for name, value in labels.items()))


def _label(name: str, value: object, where: Where) -> tuple[str, str]:
    if not _LABEL_RE.fullmatch(name):
        raise ConfigError(where.msg("labels", f"{name!r} is not a valid label name"))
    if name in METRIC_LABELS or name.startswith("__"):
        raise ConfigError(where.msg("labels", f"{name!r} is reserved: metrics use it already"))
    if not isinstance(value, str):
        raise ConfigError(type_msg(where, f"labels.{name}", "a string", value))
    return name, value


def check_unique(placed: Sequence[Placed]) -> None:
    """Refuse two targets on one address, then two targets of one name."""
    # Addresses first: two targets on one address also derive the same name.
    _check_unique_by(placed, "addr", lambda target: target.addr)
    _check_unique_by(placed, "name", lambda target: target.name)


def _check_unique_by(placed: Sequence[Placed], key: str, value_of: Callable[[Target], str]) -> None:
    seen: dict[str, Where] = {}
    for target, where in placed:
        value = value_of(target)
        if value in seen:
            problem = f"{value!r} is already used by {seen[value].describe()}"
            raise ConfigError(where.msg(key, problem))
        seen[value] = where
