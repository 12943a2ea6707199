"""Top-level settings after the command line's overrides: what every target inherits."""

from __future__ import annotations

import math
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from textfile_redis.discover import TextfileDir, textfile_dir

from .fields import (
    Where,
    check_below_interval,
    check_keys,
    get_command,
    get_path,
    get_seconds,
    os_reason,
)
from .model import (
    DEFAULT_CONFIG_COMMAND,
    DEFAULT_INTERVAL,
    DEFAULT_MAX_SERIES_TOTAL,
    DEFAULT_TIMEOUT,
    TOP_KEYS,
    ConfigError,
    Options,
)
from .options import parse_options, positive_int

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

    from .fields import Table
    from .model import Overrides


@dataclass(frozen=True, slots=True)
class Settings:
    """The top-level values after overrides, which every target inherits from."""

    textfile_dir: Path
    textfile_origin: str  # message prefix naming where textfile_dir came from
    textfile_reason: str  # the same in a few words, for the operator
    interval: float
    timeout: float
    config_command: str
    credentials_dir: str | None  # systemd's $CREDENTIALS_DIRECTORY, for LoadCredential=
    options: Options  # the top level's opt-in families: every target's defaults
    read_secrets: bool = True
    max_series_total: int = DEFAULT_MAX_SERIES_TOTAL


# Where node_exporter reads textfiles, when neither the file nor --textfile-dir says.
FindTextfileDir = Callable[[], TextfileDir]


def read_settings(
    main: Table,
    main_path: Path,
    overrides: Overrides,
    environ: Mapping[str, str],
    find_textfile_dir: FindTextfileDir = textfile_dir,
) -> Settings:
    """Check the main file's top-level keys and apply the command line's overrides."""
    where = Where(str(main_path))
    check_keys(main, TOP_KEYS, where)
    found = _textfile_dir(main, where, main_path.parent, overrides.textfile_dir, find_textfile_dir)
    interval = _interval(main, where, overrides.interval)
    return Settings(
        textfile_dir=found[0],
        textfile_origin=found[1],
        textfile_reason=found[2],
        interval=interval,
        timeout=_timeout(main, where, interval),
        config_command=get_command(main, where, DEFAULT_CONFIG_COMMAND),
        credentials_dir=environ.get("CREDENTIALS_DIRECTORY") or None,
        options=parse_options(main, where, main_path.parent, Options(), interval),
        max_series_total=(
            positive_int(main, "max_series_total", where)
            if "max_series_total" in main
            else DEFAULT_MAX_SERIES_TOTAL
        ),
    )


def _textfile_dir(
    main: Table, where: Where, base: Path, override: Path | None, find: FindTextfileDir
) -> tuple[Path, str, str]:
    """The directory, the prefix of messages about it, and why it was chosen."""
    from_file = get_path(main, "textfile_dir", where, base)
    if override is not None:
        return override.absolute(), "--textfile-dir", "--textfile-dir"
    if from_file is not None:
        return from_file, f"{where.source}: textfile_dir", f"textfile_dir in {where.source}"
    found = find()
    reason = f"textfile_dir unset: {found.reason}"
    return found.path, f"{where.source}: {reason}", reason


def _interval(main: Table, where: Where, override: float | None) -> float:
    from_file = get_seconds(main, "interval", where)
    if override is None:
        return DEFAULT_INTERVAL if from_file is None else from_file
    if not (math.isfinite(override) and override > 0):
        msg = f"--interval: must be a number greater than 0, got {override!r}"
        raise ConfigError(msg)
    return override


def _timeout(main: Table, where: Where, interval: float) -> float:
    timeout = get_seconds(main, "timeout", where)
    if timeout is None:
        # Unset, it must not make a short --interval invalid: half the interval at most.
        return min(DEFAULT_TIMEOUT, interval / 2)
    check_below_interval(where, "timeout", timeout, interval)
    return timeout


def check_textfile_dir(path: Path, origin: str) -> None:
    """Refuse a textfile directory that is missing, not a directory or not writable."""
    problem = _textfile_dir_problem(path)
    if problem:
        msg = f"{origin}: {path} {problem}"
        raise ConfigError(msg)


def _textfile_dir_problem(path: Path) -> str | None:
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return "does not exist"
    except OSError as exc:
        return f"cannot be checked: {os_reason(exc)}"
    if not stat.S_ISDIR(mode):
        return "is not a directory"
    if not _is_writable(path):
        return "is not writable by this user"
    return None


def _is_writable(path: Path) -> bool:
    """Whether this process may create files in the directory (always true for root)."""
    return os.access(path, os.W_OK | os.X_OK)
