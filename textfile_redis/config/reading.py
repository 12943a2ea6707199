"""Reading configuration, secret and script files: regular files only, never blocking."""

from __future__ import annotations

import os
import stat
import sys
from typing import TYPE_CHECKING, NamedTuple

from .fields import one_line, os_reason
from .model import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:
    # Only a dependency on 3.10; mypy checks as 3.10 even where it is not installed.
    import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]

if TYPE_CHECKING:
    from pathlib import Path

    from .fields import Table, Where

# O_NONBLOCK: opening a FIFO put where a config file was returns at once instead of waiting for
# a writer forever. Symlinks are followed: Ansible, Nix and Kubernetes manage configs with them.
_READ_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC
_READ_CHUNK = 1 << 16


class _NotRegularFileError(OSError):
    """A path to read names a FIFO, a device, a socket or a directory."""


class ConfigFile(NamedTuple):
    """A configuration file as read: its table, and its mode to check who else may read it."""

    path: Path
    table: Table
    mode: int = 0  # 0: the default file is absent


def _read_regular(path: Path) -> tuple[bytes, int]:
    """Return a regular file's bytes and mode; OSError for anything else, never blocking."""
    fd = os.open(path, _READ_FLAGS)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise _NotRegularFileError(stat.filemode(mode))
        return _read_all(fd), mode
    finally:
        os.close(fd)


def _read_all(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, _READ_CHUNK):
        chunks.append(chunk)
    return b"".join(chunks)


def _file_problem(path: Path, exc: OSError) -> str:
    """Say why a file named by a key could not be read."""
    if isinstance(exc, _NotRegularFileError):
        return f"{path} is not a regular file"
    return f"cannot read {path}: {os_reason(exc)}"


def _config_file_problem(path: Path, exc: OSError) -> str:
    """Say why a configuration file could not be read."""
    if isinstance(exc, _NotRegularFileError):
        return f"{path} is not a regular file"
    return f"{path}: cannot read: {os_reason(exc)}"


def read_bytes(path: Path, where: Where, key: str) -> bytes:
    """Read a file a key names (TLS file, script, password), refusals naming the key."""
    try:
        return _read_regular(path)[0]
    except OSError as exc:
        raise ConfigError(where.msg(key, _file_problem(path, exc))) from None


def _parse_toml(path: Path, data: bytes) -> Table:
    try:
        table: Table = tomllib.loads(data.decode())
    except UnicodeDecodeError:
        # The decoder's message quotes the bad byte, which may belong to a password.
        msg = f"{path}: invalid TOML: not UTF-8 text"
        raise ConfigError(msg) from None
    except tomllib.TOMLDecodeError as exc:
        msg = f"{path}: invalid TOML: {one_line(str(exc))}"
        raise ConfigError(msg) from None
    return table


def read_toml(path: Path) -> ConfigFile:
    """Read and parse a conf.d file."""
    try:
        data, mode = _read_regular(path)
    except OSError as exc:
        raise ConfigError(_config_file_problem(path, exc)) from None
    return ConfigFile(path, _parse_toml(path, data), mode)


def read_main(path: Path, *, explicit: bool) -> ConfigFile:
    """Read the main file; empty when the default file is absent (embedded defaults)."""
    try:
        data, mode = _read_regular(path)
    except FileNotFoundError:
        if explicit:
            msg = f"{path}: --config: no such file"
            raise ConfigError(msg) from None
        return ConfigFile(path, {})
    except OSError as exc:
        raise ConfigError(_config_file_problem(path, exc)) from None
    return ConfigFile(path, _parse_toml(path, data), mode)


def _strip_newline(text: str) -> str:
    for ending in ("\r\n", "\n"):
        if text.endswith(ending):
            return text[: -len(ending)]
    return text


def read_secret(path: Path, where: Where, key: str) -> str:
    """Read a password file, one trailing newline stripped; messages never quote it."""
    data = read_bytes(path, where, key)
    try:
        text = _strip_newline(data.decode())
    except UnicodeDecodeError:
        raise ConfigError(where.msg(key, f"{path} is not UTF-8 text")) from None
    if not text:
        raise ConfigError(where.msg(key, f"{path} is empty"))
    return text
