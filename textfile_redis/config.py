"""Configuration: the TOML file, conf.d, flags and environment, loaded into frozen values."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import re
import stat
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple, TypeVar
from urllib.parse import parse_qsl, unquote, urlsplit

if sys.version_info >= (3, 11):
    import tomllib
else:
    # Only a dependency on 3.10; mypy checks as 3.10 even where it is not installed.
    import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence

DEFAULT_CONFIG_PATH = Path("/etc/textfile-redis/config.toml")
DEFAULT_TEXTFILE_DIR = Path("/var/lib/node_exporter")
DEFAULT_INTERVAL = 15.0
DEFAULT_TIMEOUT = 5.0
DEFAULT_PORT = 6379
DEFAULT_CONFIG_COMMAND = "CONFIG"
DEFAULT_MAX_SCRAPE_BYTES = 16 * 1024 * 1024
CONFD_NAME = "conf.d"

# redis_exporter's opt-in families; at the top level they are every target's default.
_KEY_PATTERN_KEYS = (
    "check_keys",
    "check_single_keys",
    "count_keys",
    "check_streams",
    "check_single_streams",
)
_BOOL_OPTION_KEYS = (
    "exclude_latency_histogram_metrics",
    "export_client_list",
    "export_client_port",
    "include_config_metrics",
    "include_system_metrics",
)
_OPTION_KEYS = (
    *_KEY_PATTERN_KEYS,
    *_BOOL_OPTION_KEYS,
    "check_key_groups",
    "max_distinct_key_groups",
    "check_keys_batch_size",
    "scan_budget",
    "lua_scripts",
    "max_scrape_bytes",
)
_TOP_KEYS = ("textfile_dir", "interval", "timeout", "config_command", "target", *_OPTION_KEYS)
_TLS_KEYS = ("tls_ca_file", "tls_cert_file", "tls_key_file", "tls_skip_verify")
_TARGET_KEYS = (
    "name",
    "addr",
    "username",
    "password",
    "password_file",
    "password_credential",
    "timeout",
    "labels",
    "config_command",
    *_TLS_KEYS,
    *_OPTION_KEYS,
)
# Label names the metrics carry themselves; a static label of the same name would clash.
METRIC_LABELS = frozenset(
    {
        "addr", "class", "cmd", "command", "consumer", "db", "err", "event_name", "filename",
        "flags", "group", "host", "id", "key", "key_group", "kind", "le", "limit",
        "master_address", "master_host", "master_name", "master_port", "master_replid",
        "master_status", "maxmemory_policy", "message", "name", "os", "pattern", "port",
        "process_id", "quantile", "read_only", "redis_build_id", "redis_mode", "redis_version",
        "resp", "role", "run_id", "slave_ip", "slave_port", "slave_state", "stream", "tcp_port",
        "thread", "user", "val", "valkey_release_stage", "valkey_version", "value", "version",
    }
)  # fmt: skip
_SECRET_KEYS = frozenset({"password"})
_SCHEMES = {
    "redis": "redis",
    "rediss": "rediss",
    "valkey": "redis",
    "valkeys": "rediss",
    "unix": "unix",
}
_NAME_RE = re.compile(r"[A-Za-z0-9_.-]+")
_NOT_NAME_CHAR_RE = re.compile(r"[^A-Za-z0-9]")
_LABEL_RE = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_HOST_RE = re.compile(r"[A-Za-z0-9_.:%-]+")
_DB_PATH_RE = re.compile(r"/?|/\d+")
_COMMAND_RE = re.compile(r"\S+")
_SHOWN_VALUE_MAX = 60
# O_NONBLOCK: opening a FIFO put where a config file was returns at once instead of waiting for
# a writer forever. Symlinks are followed: Ansible, Nix and Kubernetes manage configs with them.
_READ_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC
_READ_CHUNK = 1 << 16

_T = TypeVar("_T")
_Table = dict[str, object]


class ConfigError(Exception):
    """A configuration problem, its message naming the file and the key."""


class _NotRegularFileError(OSError):
    """A path to read names a FIFO, a device, a socket or a directory."""


@dataclass(frozen=True, slots=True)
class Secret:
    """A password that never shows itself in repr, str, logs or tracebacks."""

    value: str = field(repr=False)

    def __repr__(self) -> str:
        return "Secret('***')"

    def __str__(self) -> str:
        return "***"


@dataclass(frozen=True, slots=True)
class Tls:
    """TLS client options for a rediss:// target."""

    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    skip_verify: bool = False


@dataclass(frozen=True, slots=True)
class KeyPattern:
    """A database and a key name or SCAN pattern, as redis_exporter writes them: db0=session:*."""

    db: int
    pattern: str


@dataclass(frozen=True, slots=True)
class LuaScript:
    """A user's Lua script whose name/value pairs become redis_script_values."""

    path: Path
    source: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class Options:
    """redis_exporter's opt-in families, named after its flags; all off by default."""

    check_keys: tuple[KeyPattern, ...] = ()
    check_single_keys: tuple[KeyPattern, ...] = ()
    count_keys: tuple[KeyPattern, ...] = ()
    check_key_groups: tuple[str, ...] = ()
    max_distinct_key_groups: int = 100
    check_streams: tuple[KeyPattern, ...] = ()
    check_single_streams: tuple[KeyPattern, ...] = ()
    check_keys_batch_size: int = 1000
    scan_budget: float = 1.0
    exclude_latency_histogram_metrics: bool = False  # drops LATENCY LATEST and HISTOGRAM
    export_client_list: bool = False
    export_client_port: bool = False
    lua_scripts: tuple[LuaScript, ...] = ()
    include_config_metrics: bool = False
    include_system_metrics: bool = False
    # Bytes one server may send in one cycle before its scrape is abandoned (redis_up 0): a
    # server's replies must not decide how much memory we use. A busy primary's cycle is ~50 KB.
    max_scrape_bytes: int = DEFAULT_MAX_SCRAPE_BYTES

    @property
    def inspects_keys(self) -> bool:
        """True when a cycle must look at keys or streams, beyond the one pipeline."""
        return bool(
            self.check_keys
            or self.check_single_keys
            or self.count_keys
            or self.check_key_groups
            or self.check_streams
            or self.check_single_streams
        )


@dataclass(frozen=True, slots=True)
class Target:
    """One Redis or Valkey server to scrape into one file."""

    name: str
    addr: str  # normalised, without credentials; also the `addr` label
    timeout: float
    username: str | None = None
    password: Secret | None = None
    labels: tuple[tuple[str, str], ...] = ()
    tls: Tls | None = None
    config_command: str = DEFAULT_CONFIG_COMMAND
    options: Options = Options()
    source: str = "<command line>"  # the file (or flag) that defined it, for messages

    @property
    def filename(self) -> str:
        """The metrics file this target owns in the textfile directory."""
        return f"redis_{self.name}.prom"


@dataclass(frozen=True, slots=True)
class Config:
    """Everything a run needs: where to write, how often, and what to scrape."""

    textfile_dir: Path
    interval: float
    timeout: float
    targets: tuple[Target, ...]
    owner: str  # stable id of this configuration, written in each file's marker line
    config_path: Path
    watched_paths: tuple[Path, ...] = ()
    warnings: tuple[str, ...] = ()  # one line each, for the operator; never a secret


@dataclass(frozen=True, slots=True)
class Overrides:
    """Values given on the command line; None means not given."""

    config_path: Path | None = None
    textfile_dir: Path | None = None
    redis_addrs: tuple[str, ...] = ()
    interval: float | None = None


def load_config(
    overrides: Overrides,
    environ: Mapping[str, str],
    *,
    read_secrets: bool = True,
    allow_no_targets: bool = False,
) -> Config:
    """Load and validate the configuration; raise ConfigError naming file and key.

    Without read_secrets no password is read, for `cleanup`: systemd hands LoadCredential=
    secrets to ExecStart= but not to ExecStopPost=, where cleanup runs. allow_no_targets is for
    cleanup and reloads: when the last target goes, its file must go too.

    A configuration is loaded or refused, nothing else: any unexpected exception (RecursionError
    from absurd nesting, a path the OS rejects...) becomes a ConfigError naming the file.
    """
    main_path = (overrides.config_path or DEFAULT_CONFIG_PATH).absolute()
    with _blamed_on(main_path):
        main = _read_main(main_path, explicit=overrides.config_path is not None)
        settings = _settings(main.table, main_path, overrides, environ)
        if not read_secrets:
            settings = dataclasses.replace(settings, read_secrets=False)
        targets, owner, files = _targets(main, overrides, environ, settings)
        if not targets and not allow_no_targets:
            msg = f"{main_path}: no targets: add [[target]] to {main_path} or give --redis-addr"
            raise ConfigError(msg)
        _check_textfile_dir(settings.textfile_dir, settings.textfile_origin)
    return Config(
        textfile_dir=settings.textfile_dir,
        interval=settings.interval,
        timeout=settings.timeout,
        targets=tuple(targets),
        owner=owner,
        config_path=main_path,
        watched_paths=config_paths(main_path),
        warnings=_exposure_warnings(files),
    )


def config_owner(config_path: Path) -> str:
    """Return the owner id of a configuration whose targets come from its file.

    The owner id, written in every file's marker, says which instance may replace or remove a
    file. The rule:
    - targets from the configuration file (main file and conf.d): a hash of the file's resolved
      path, so a deployment keeps owning its files across restarts, edits and upgrades;
    - targets from --redis-addr or REDIS_ADDR (with or without a config file): a hash of that
      path, the resolved textfile directory and the sorted normalised target addresses (see
      command_line_owner), so instances started without a config file of their own never share
      an id, and `cleanup` with the same addresses finds the same id.
    """
    resolved = os.fsencode(config_path.absolute().resolve())
    return hashlib.sha256(resolved).hexdigest()[:12]


def command_line_owner(config_path: Path, textfile_dir: Path, addrs: Iterable[str]) -> str:
    """Return the owner id of a configuration whose targets come from flags or environment."""
    paths = (os.fsencode(path.absolute().resolve()) for path in (config_path, textfile_dir))
    names = sorted(addr.encode(errors="surrogateescape") for addr in addrs)
    return hashlib.sha256(b"\0".join([*paths, *names])).hexdigest()[:12]


def config_paths(config_path: Path) -> tuple[Path, Path]:
    """Return the main file and its conf.d directory: what a reload watches."""
    main = config_path.absolute()
    return main, main.parent / CONFD_NAME


# --- where a value came from, for messages -------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Where:
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


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


@contextmanager
def _blamed_on(path: Path) -> Iterator[None]:
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


def _one_line(text: str) -> str:
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
    if key in _SECRET_KEYS or isinstance(value, (dict, list)):
        return _kind(value)
    if isinstance(value, bool):
        return str(value).lower()
    text = repr(value)
    return text if len(text) <= _SHOWN_VALUE_MAX else text[: _SHOWN_VALUE_MAX - 3] + "..."


def _type_msg(where: _Where, key: str, wanted: str, value: object) -> str:
    return where.msg(key, f"expected {wanted}, got {_shown(key, value)}")


# --- reading files -------------------------------------------------------------------------


class _ConfigFile(NamedTuple):
    """A configuration file as read: its table, and its mode to check who else may read it."""

    path: Path
    table: _Table
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
    return f"cannot read {path}: {_reason(exc)}"


def _config_file_problem(path: Path, exc: OSError) -> str:
    """Say why a configuration file could not be read."""
    if isinstance(exc, _NotRegularFileError):
        return f"{path} is not a regular file"
    return f"{path}: cannot read: {_reason(exc)}"


def _read_bytes(path: Path, where: _Where, key: str) -> bytes:
    try:
        return _read_regular(path)[0]
    except OSError as exc:
        raise ConfigError(where.msg(key, _file_problem(path, exc))) from None


def _parse_toml(path: Path, data: bytes) -> _Table:
    try:
        table: _Table = tomllib.loads(data.decode())
    except UnicodeDecodeError:
        # The decoder's message quotes the bad byte, which may belong to a password.
        msg = f"{path}: invalid TOML: not UTF-8 text"
        raise ConfigError(msg) from None
    except tomllib.TOMLDecodeError as exc:
        msg = f"{path}: invalid TOML: {_one_line(str(exc))}"
        raise ConfigError(msg) from None
    return table


def _read_toml(path: Path) -> _ConfigFile:
    try:
        data, mode = _read_regular(path)
    except OSError as exc:
        raise ConfigError(_config_file_problem(path, exc)) from None
    return _ConfigFile(path, _parse_toml(path, data), mode)


def _read_main(path: Path, *, explicit: bool) -> _ConfigFile:
    """Read the main file; empty when the default file is absent (embedded defaults)."""
    try:
        data, mode = _read_regular(path)
    except FileNotFoundError:
        if explicit:
            msg = f"{path}: --config: no such file"
            raise ConfigError(msg) from None
        return _ConfigFile(path, {})
    except OSError as exc:
        raise ConfigError(_config_file_problem(path, exc)) from None
    return _ConfigFile(path, _parse_toml(path, data), mode)


def _exposure_warnings(files: Iterable[_ConfigFile]) -> tuple[str, ...]:
    """A line for each file that holds a password and that every user may read."""
    return tuple(
        f"{file.path} holds a password and every user may read it: chmod o-r {file.path}"
        for file in files
        if file.mode & stat.S_IROTH and _holds_password(file.table)
    )


def _holds_password(table: _Table) -> bool:
    tables = table.get("target")
    if not isinstance(tables, list):
        return False
    return any(
        isinstance(t, dict) and ("password" in t or _addr_has_password(t.get("addr")))
        for t in tables
    )


def _addr_has_password(addr: object) -> bool:
    if not isinstance(addr, str):
        return False
    scheme, rest = _split_scheme(addr)
    return _credentials(_split_userinfo(scheme, rest)[0])[1] is not None


def _strip_newline(text: str) -> str:
    for ending in ("\r\n", "\n"):
        if text.endswith(ending):
            return text[: -len(ending)]
    return text


def _read_secret(path: Path, where: _Where, key: str) -> str:
    """Read a password file, one trailing newline stripped; messages never quote it."""
    data = _read_bytes(path, where, key)
    try:
        text = _strip_newline(data.decode())
    except UnicodeDecodeError:
        raise ConfigError(where.msg(key, f"{path} is not UTF-8 text")) from None
    if not text:
        raise ConfigError(where.msg(key, f"{path} is empty"))
    return text


# --- typed values --------------------------------------------------------------------------


def _check_keys(table: _Table, known: Sequence[str], where: _Where) -> None:
    for key in table:
        if key in known:
            continue
        import difflib  # noqa: PLC0415 - only for a mistake, and not worth its memory otherwise

        close = difflib.get_close_matches(key, known, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ConfigError(where.msg("", f"unknown key {key!r}{hint}"))


def _get_typed(table: _Table, key: str, where: _Where, kind: type[_T], wanted: str) -> _T | None:
    value = table.get(key)
    if value is None or isinstance(value, kind):
        return value
    raise ConfigError(_type_msg(where, key, wanted, value))


def _get_str(table: _Table, key: str, where: _Where) -> str | None:
    return _get_typed(table, key, where, str, "a string")


def _get_bool(table: _Table, key: str, where: _Where) -> bool | None:
    return _get_typed(table, key, where, bool, "true or false")


def _get_table(table: _Table, key: str, where: _Where) -> _Table | None:
    return _get_typed(table, key, where, dict, "a table")


def _get_seconds(table: _Table, key: str, where: _Where) -> float | None:
    value = table.get(key)
    if value is None:
        return None
    # TOML booleans are Python ints; `timeout = true` is a mistake, not one second.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(_type_msg(where, key, "a number", value))
    if not math.isfinite(value) or value <= 0:
        raise ConfigError(where.msg(key, f"must be a number greater than 0, got {value!r}"))
    return float(value)


def _get_path(table: _Table, key: str, where: _Where, base: Path) -> Path | None:
    """Get a path; a relative one is relative to the directory of the file naming it."""
    value = _get_str(table, key, where)
    if value is None:
        return None
    if not value:
        raise ConfigError(where.msg(key, "must not be empty"))
    return _joined(base, value, where, key)


def _joined(base: Path, text: str, where: _Where, key: str) -> Path:
    """Join base and text, refusing a NUL: no path holds one, and the OS would raise ValueError."""
    if "\0" in text:
        raise ConfigError(where.msg(key, "a path must not hold a NUL character"))
    return base / text


def _get_command(table: _Table, where: _Where, default: str) -> str:
    value = _get_str(table, "config_command", where)
    if value is None:
        return default
    if not _COMMAND_RE.fullmatch(value):
        raise ConfigError(where.msg("config_command", f"must be one word, got {value!r}"))
    return value


def _check_below_interval(where: _Where, key: str, timeout: float, interval: float) -> None:
    if timeout >= interval:
        problem = f"must be less than interval ({interval:g}s), got {timeout:g}"
        raise ConfigError(where.msg(key, problem))


# --- opt-in families -----------------------------------------------------------------------


def _options(table: _Table, where: _Where, base: Path, settings: _Settings) -> Options:
    return _parse_options(table, where, base, settings.options, settings.interval)


def _parse_options(
    table: _Table, where: _Where, base: Path, defaults: Options, interval: float
) -> Options:
    """The opt-in families a table sets, over the defaults it inherits."""
    changes: dict[str, object] = {}
    for key in _KEY_PATTERN_KEYS:
        if key in table:
            changes[key] = tuple(
                _key_pattern(text, where, key) for text in _strings(table, key, where)
            )
    for key in _BOOL_OPTION_KEYS:
        if key in table:
            changes[key] = _get_bool(table, key, where)
    if "check_key_groups" in table:
        changes["check_key_groups"] = _strings(table, "check_key_groups", where)
    for key in ("max_distinct_key_groups", "check_keys_batch_size", "max_scrape_bytes"):
        if key in table:
            changes[key] = _positive_int(table, key, where)
    if "scan_budget" in table:
        changes["scan_budget"] = _scan_budget(table, where, interval)
    if "lua_scripts" in table:
        paths = _strings(table, "lua_scripts", where)
        scripts = (_joined(base, p, where, "lua_scripts") for p in paths)
        changes["lua_scripts"] = tuple(_lua_script(path, where) for path in scripts)
    return dataclasses.replace(defaults, **changes)  # type: ignore[arg-type]


def _strings(table: _Table, key: str, where: _Where) -> tuple[str, ...]:
    value = table[key]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ConfigError(_type_msg(where, key, "a list of strings", value))
    if any(not item.strip() for item in value):
        raise ConfigError(where.msg(key, "holds an empty string"))
    return tuple(value)


def _key_pattern(text: str, where: _Where, key: str) -> KeyPattern:
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


def _positive_int(table: _Table, key: str, where: _Where) -> int:
    value = table[key]
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigError(_type_msg(where, key, "a whole number greater than 0", value))
    return value


def _scan_budget(table: _Table, where: _Where, interval: float) -> float:
    budget = _get_seconds(table, "scan_budget", where)
    assert budget is not None  # noqa: S101 - the caller checked the key is there
    _check_below_interval(where, "scan_budget", budget, interval)
    return budget


def _lua_script(path: Path, where: _Where) -> LuaScript:
    data = _read_bytes(path, where, "lua_scripts")
    try:
        return LuaScript(path, data.decode())
    except UnicodeDecodeError:
        raise ConfigError(where.msg("lua_scripts", f"{path} is not UTF-8 text")) from None


# --- top-level settings --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Settings:
    """The top-level values after overrides, which every target inherits from."""

    textfile_dir: Path
    textfile_origin: str  # message prefix naming where textfile_dir came from
    interval: float
    timeout: float
    config_command: str
    credentials_dir: str | None  # systemd's $CREDENTIALS_DIRECTORY, for LoadCredential=
    options: Options  # the top level's opt-in families: every target's defaults
    read_secrets: bool = True


def _settings(
    main: _Table, main_path: Path, overrides: Overrides, environ: Mapping[str, str]
) -> _Settings:
    where = _Where(str(main_path))
    _check_keys(main, _TOP_KEYS, where)
    textfile_dir, origin = _textfile_dir(main, where, main_path.parent, overrides.textfile_dir)
    interval = _interval(main, where, overrides.interval)
    return _Settings(
        textfile_dir=textfile_dir,
        textfile_origin=origin,
        interval=interval,
        timeout=_timeout(main, where, interval),
        config_command=_get_command(main, where, DEFAULT_CONFIG_COMMAND),
        credentials_dir=environ.get("CREDENTIALS_DIRECTORY") or None,
        options=_parse_options(main, where, main_path.parent, Options(), interval),
    )


def _textfile_dir(
    main: _Table, where: _Where, base: Path, override: Path | None
) -> tuple[Path, str]:
    from_file = _get_path(main, "textfile_dir", where, base)
    if override is not None:
        return override.absolute(), "--textfile-dir"
    if from_file is not None:
        return from_file, f"{where.source}: textfile_dir"
    return DEFAULT_TEXTFILE_DIR, f"{where.source}: textfile_dir (default)"


def _interval(main: _Table, where: _Where, override: float | None) -> float:
    from_file = _get_seconds(main, "interval", where)
    if override is None:
        return DEFAULT_INTERVAL if from_file is None else from_file
    if not (math.isfinite(override) and override > 0):
        msg = f"--interval: must be a number greater than 0, got {override!r}"
        raise ConfigError(msg)
    return override


def _timeout(main: _Table, where: _Where, interval: float) -> float:
    timeout = _get_seconds(main, "timeout", where)
    if timeout is None:
        # Unset, it must not make a short --interval invalid: half the interval at most.
        return min(DEFAULT_TIMEOUT, interval / 2)
    _check_below_interval(where, "timeout", timeout, interval)
    return timeout


def _check_textfile_dir(path: Path, origin: str) -> None:
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
        return f"cannot be checked: {_reason(exc)}"
    if not stat.S_ISDIR(mode):
        return "is not a directory"
    if not _is_writable(path):
        return "is not writable by this user"
    return None


def _is_writable(path: Path) -> bool:
    """Whether this process may create files in the directory (always true for root)."""
    return os.access(path, os.W_OK | os.X_OK)


# --- addresses -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Addr:
    """A parsed address: the normalised URL, the name it suggests, and any credentials in it."""

    url: str
    name: str
    tls: bool
    username: str | None = None
    password: str | None = field(default=None, repr=False)


def _split_scheme(text: str) -> tuple[str, str]:
    scheme, sep, rest = text.partition("://")
    return (scheme.lower(), rest) if sep else ("redis", text)


def _split_userinfo(scheme: str, rest: str) -> tuple[str | None, str]:
    """Userinfo and the rest; by hand, as a raw '/' or '@' in a password confuses urlsplit."""
    if scheme == "unix":
        if rest.startswith("/"):
            return None, rest
        userinfo, sep, path = rest.partition("@/")
        return (userinfo, "/" + path) if sep else (None, rest)
    userinfo, sep, location = rest.rpartition("@")
    return (userinfo, location) if sep else (None, rest)


def _redact(text: str) -> str:
    """Show the address as written, any password (in userinfo or query) replaced by ***."""
    scheme, rest = _split_scheme(text)
    userinfo, location = _split_userinfo(scheme, rest)
    if "?" in location:
        location = location.partition("?")[0] + "?***"
    if userinfo is not None:
        user, sep, _ = userinfo.partition(":")
        location = f"{user}{sep and ':***'}@{location}"
    return text[: len(text) - len(rest)] + location


def _derived_name(location: str) -> str:
    return _NOT_NAME_CHAR_RE.sub("_", location).strip("_")


def _parse_addr(text: str, where: _Where, key: str) -> _Addr:
    """Check and normalise an address; `key` is what messages name ("addr", or "" for flags)."""

    def say(problem: str) -> str:
        return where.msg(key, f"{problem}: {_redact(text)}")

    scheme, rest = _split_scheme(text)
    kind = _SCHEMES.get(scheme)
    if kind is None:
        supported = "redis://, rediss://, unix://, valkey:// or valkeys://"
        raise ConfigError(say(f"unsupported scheme {scheme!r}, expected {supported}"))
    userinfo, location = _split_userinfo(scheme, rest)
    username, password = _credentials(userinfo)
    parse = _parse_unix if kind == "unix" else _parse_tcp
    url, name = parse(kind, location, say)
    return _Addr(url, name, kind == "rediss", username, password)


def _credentials(userinfo: str | None) -> tuple[str | None, str | None]:
    if userinfo is None:
        return None, None
    user, _, password = userinfo.partition(":")
    return unquote(user) or None, unquote(password) or None


def _check_query(query: str, say: Callable[[str], str]) -> None:
    if any(name != "db" for name, _ in parse_qsl(query, keep_blank_values=True)):
        raise ConfigError(say("the only query parameter accepted is db"))


def _parse_tcp(kind: str, location: str, say: Callable[[str], str]) -> tuple[str, str]:
    try:
        split = urlsplit(f"//{location}")
        port = split.port
    except ValueError:
        raise ConfigError(say("port must be a number from 1 to 65535")) from None
    host = split.hostname
    if not host or not _HOST_RE.fullmatch(host):
        raise ConfigError(say("empty or invalid host"))
    if port == 0:
        raise ConfigError(say("port must be a number from 1 to 65535"))
    if not _DB_PATH_RE.fullmatch(split.path):
        raise ConfigError(say("the path may only be a database number such as /0"))
    _check_query(split.query, say)
    port = port or DEFAULT_PORT
    shown_host = f"[{host}]" if ":" in host else host
    return f"{kind}://{shown_host}:{port}", _derived_name(f"{host}:{port}")


def _parse_unix(kind: str, location: str, say: Callable[[str], str]) -> tuple[str, str]:
    path, _, query = location.partition("?")
    if not path.startswith("/"):
        raise ConfigError(say("a unix socket address has no host; write unix:///path/redis.sock"))
    path = unquote(path)
    if "\0" in path:
        raise ConfigError(say("a socket path must not hold a NUL character"))
    if path.endswith("/"):
        raise ConfigError(say("expected the path of a socket, got a directory"))
    _check_query(query, say)
    return f"{kind}://{path}", _derived_name(path)


# --- targets from files --------------------------------------------------------------------


def _targets(
    main: _ConfigFile, overrides: Overrides, environ: Mapping[str, str], settings: _Settings
) -> tuple[list[Target], str, list[_ConfigFile]]:
    """The targets, the owner id they imply (see config_owner), and the files read for them."""
    flagged = _command_line_targets(overrides, environ, settings)
    if flagged is not None:
        addrs = (target.addr for target in flagged)
        return flagged, command_line_owner(main.path, settings.textfile_dir, addrs), [main]
    targets, files = _file_targets(main, settings)
    return targets, config_owner(main.path), files


def _file_targets(main: _ConfigFile, settings: _Settings) -> tuple[list[Target], list[_ConfigFile]]:
    placed = _targets_in(main.table, main.path, settings)
    files = [main]
    for path in _confd_files(config_paths(main.path)[1]):
        with _blamed_on(path):
            files.append(_read_toml(path))
            placed += _confd_targets(files[-1], settings)
    _check_unique(placed)
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
        msg = f"{confd}: cannot list: {_reason(exc)}"
        raise ConfigError(msg) from None
    return [path for path in entries if path.suffix == ".toml" and not path.name.startswith(".")]


def _confd_targets(file: _ConfigFile, settings: _Settings) -> list[tuple[Target, _Where]]:
    for key in file.table:
        if key != "target":
            problem = "a conf.d file holds only [[target]] tables; set it in the main file"
            raise ConfigError(_Where(str(file.path)).msg(key, problem))
    return _targets_in(file.table, file.path, settings)


def _targets_in(table: _Table, path: Path, settings: _Settings) -> list[tuple[Target, _Where]]:
    where = _Where(str(path))
    tables = table.get("target", [])
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise ConfigError(_type_msg(where, "target", "an array of tables ([[target]])", tables))
    placed = []
    for index, raw in enumerate(tables, start=1):
        target_where = _target_where(where, index, raw)
        placed.append((_file_target(raw, target_where, path.parent, settings), target_where))
    return placed


def _target_where(where: _Where, index: int, table: _Table) -> _Where:
    name = table.get("name")
    if isinstance(name, str) and _NAME_RE.fullmatch(name):
        return _Where(where.source, f"target {name!r}")
    return _Where(where.source, f"target[{index}]")


def _file_target(table: _Table, where: _Where, base: Path, settings: _Settings) -> Target:
    _check_keys(table, _TARGET_KEYS, where)
    addr = _parse_addr(_required_str(table, "addr", where), where, "addr")
    return Target(
        name=_name(table, where, addr),
        addr=addr.url,
        timeout=_target_timeout(table, where, settings),
        username=_username(table, where, addr),
        password=_file_password(table, where, base, addr, settings),
        labels=_labels(table, where),
        tls=_tls(table, where, base, addr),
        config_command=_get_command(table, where, settings.config_command),
        options=_options(table, where, base, settings),
        source=where.source,
    )


def _required_str(table: _Table, key: str, where: _Where) -> str:
    value = _get_str(table, key, where)
    if value is None:
        raise ConfigError(where.msg(key, "missing; every [[target]] needs one"))
    return value


def _name(table: _Table, where: _Where, addr: _Addr) -> str:
    name = _get_str(table, "name", where)
    if name is None:
        return addr.name
    if not _NAME_RE.fullmatch(name):
        problem = f"may hold only letters, digits, '_', '.' and '-', got {name!r}"
        raise ConfigError(where.msg("name", problem))
    return name


def _target_timeout(table: _Table, where: _Where, settings: _Settings) -> float:
    timeout = _get_seconds(table, "timeout", where)
    if timeout is None:
        return settings.timeout
    _check_below_interval(where, "timeout", timeout, settings.interval)
    return timeout


def _username(table: _Table, where: _Where, addr: _Addr) -> str | None:
    username = _get_str(table, "username", where) or None
    if username and addr.username:
        raise ConfigError(where.msg("username", "also given in addr; keep one"))
    return username or addr.username


def _file_password(
    table: _Table, where: _Where, base: Path, addr: _Addr, settings: _Settings
) -> Secret | None:
    if not settings.read_secrets:
        return None
    credentials_dir = settings.credentials_dir
    password = _get_str(table, "password", where) or None
    path = _get_path(table, "password_file", where, base)
    credential = _credential_path(table, where, credentials_dir)
    sources = (
        ("password", password),
        ("password_file", path),
        ("password_credential", credential),
        ("addr", addr.password),
    )
    given = [key for key, value in sources if value is not None]
    if len(given) > 1:
        raise ConfigError(where.msg(given[1], f"conflicts with {given[0]}; give the password once"))
    if path is not None:
        return Secret(_read_secret(path, where, "password_file"))
    if credential is not None:
        return Secret(_read_secret(credential, where, "password_credential"))
    value = password or addr.password
    return Secret(value) if value else None


def _credential_path(table: _Table, where: _Where, credentials_dir: str | None) -> Path | None:
    """A systemd credential (LoadCredential=NAME:/path) by name, under $CREDENTIALS_DIRECTORY."""
    name = _get_str(table, "password_credential", where)
    if name is None:
        return None
    if not _NAME_RE.fullmatch(name):
        raise ConfigError(where.msg("password_credential", f"{name!r} is not a credential name"))
    if credentials_dir is None:
        msg = "needs systemd's LoadCredential= (CREDENTIALS_DIRECTORY is not set)"
        raise ConfigError(where.msg("password_credential", msg))
    return Path(credentials_dir) / name


def _labels(table: _Table, where: _Where) -> tuple[tuple[str, str], ...]:
    """Get the static labels, sorted so equal configurations compare equal."""
    labels = _get_table(table, "labels", where) or {}
    return tuple(sorted(_label(name, value, where) for name, value in labels.items()))


def _label(name: str, value: object, where: _Where) -> tuple[str, str]:
    if not _LABEL_RE.fullmatch(name):
        raise ConfigError(where.msg("labels", f"{name!r} is not a valid label name"))
    if name in METRIC_LABELS or name.startswith("__"):
        raise ConfigError(where.msg("labels", f"{name!r} is reserved: metrics use it already"))
    if not isinstance(value, str):
        raise ConfigError(_type_msg(where, f"labels.{name}", "a string", value))
    return name, value


def _tls(table: _Table, where: _Where, base: Path, addr: _Addr) -> Tls | None:
    if not addr.tls:
        given = [key for key in _TLS_KEYS if key in table]
        if given:
            raise ConfigError(where.msg(given[0], "needs a TLS addr (rediss:// or valkeys://)"))
        return None
    cert = _tls_file(table, "tls_cert_file", where, base)
    key = _tls_file(table, "tls_key_file", where, base)
    _check_pair(where, cert=cert, key=key)
    return Tls(
        ca_file=_tls_file(table, "tls_ca_file", where, base),
        cert_file=cert,
        key_file=key,
        skip_verify=_get_bool(table, "tls_skip_verify", where) or False,
    )


def _tls_file(table: _Table, key: str, where: _Where, base: Path) -> Path | None:
    """Get a TLS file, opened once now so a typo fails at load rather than every cycle."""
    path = _get_path(table, key, where, base)
    if path is not None:
        _read_bytes(path, where, key)
    return path


def _check_pair(where: _Where, *, cert: Path | None, key: Path | None) -> None:
    if cert is not None and key is None:
        raise ConfigError(where.msg("tls_key_file", "missing; tls_cert_file needs it"))
    if key is not None and cert is None:
        raise ConfigError(where.msg("tls_cert_file", "missing; tls_key_file needs it"))


def _check_unique(placed: Sequence[tuple[Target, _Where]]) -> None:
    # Addresses first: two targets on one address also derive the same name.
    _check_unique_by(placed, "addr", lambda target: target.addr)
    _check_unique_by(placed, "name", lambda target: target.name)


def _check_unique_by(
    placed: Sequence[tuple[Target, _Where]], key: str, value_of: Callable[[Target], str]
) -> None:
    seen: dict[str, _Where] = {}
    for target, where in placed:
        value = value_of(target)
        if value in seen:
            problem = f"{value!r} is already used by {seen[value].describe()}"
            raise ConfigError(where.msg(key, problem))
        seen[value] = where


# --- targets from the command line and environment -----------------------------------------


@dataclass(frozen=True, slots=True)
class _EnvCredentials:
    """REDIS_USER, REDIS_PASSWORD and REDIS_PASSWORD_FILE, as redis_exporter reads them."""

    username: str | None = None
    password: str | None = field(default=None, repr=False)
    password_map: Mapping[str, str] = field(default_factory=dict, repr=False)

    def password_for(self, written: str, url: str) -> str | None:
        """Look the address up in the map (as written, or normalised), else the default."""
        for key in (written, written.rstrip("/"), written + "/", url, url + "/"):
            if key in self.password_map:
                return self.password_map[key]
        return self.password


def _command_line_targets(
    overrides: Overrides, environ: Mapping[str, str], settings: _Settings
) -> list[Target] | None:
    """Targets from --redis-addr, else REDIS_ADDR, which replace the files'; None if neither."""
    if overrides.redis_addrs:
        source, texts = "--redis-addr", list(overrides.redis_addrs)
    elif environ.get("REDIS_ADDR", "").strip():
        source, texts = "REDIS_ADDR", environ["REDIS_ADDR"].split(",")
    else:
        return None
    credentials = _env_credentials(environ) if settings.read_secrets else _EnvCredentials()
    where = _Where(source)
    texts = [text.strip() for text in texts if text.strip()]
    placed = [(_command_line_target(t, where, credentials, settings), where) for t in texts]
    _check_unique(placed)
    return [target for target, _ in placed]


def _command_line_target(
    text: str, where: _Where, credentials: _EnvCredentials, settings: _Settings
) -> Target:
    addr = _parse_addr(text, where, "")
    if addr.password is not None and where.source == "--redis-addr":
        problem = "secrets do not belong on the command line, where any user can read them"
        hint = "use REDIS_PASSWORD or REDIS_PASSWORD_FILE"
        raise ConfigError(where.msg("", f"{_redact(text)}: {problem}; {hint}"))
    password = addr.password or credentials.password_for(text, addr.url)
    return Target(
        name=addr.name,
        addr=addr.url,
        timeout=settings.timeout,
        username=addr.username or credentials.username,
        password=Secret(password) if password else None,
        config_command=settings.config_command,
        options=settings.options,
        source=where.source,
    )


def _env_credentials(environ: Mapping[str, str]) -> _EnvCredentials:
    username = environ.get("REDIS_USER") or None
    password = environ.get("REDIS_PASSWORD") or None
    path = environ.get("REDIS_PASSWORD_FILE")
    if not path:
        return _EnvCredentials(username, password)
    content = _read_secret(Path(path), _Where("REDIS_PASSWORD_FILE"), "")
    password_map = _password_map(content)
    if password_map is not None:
        return _EnvCredentials(username, password, password_map)
    if password is not None:
        msg = "REDIS_PASSWORD_FILE: holds a password and so does REDIS_PASSWORD; set only one"
        raise ConfigError(msg)
    return _EnvCredentials(username, content)


def _password_map(content: str) -> dict[str, str] | None:
    """redis_exporter's JSON map of address -> password, or None when the file is a password."""
    try:
        data = json.loads(content)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    if not all(isinstance(value, str) for value in data.values()):
        msg = "REDIS_PASSWORD_FILE: the JSON map's values must be password strings"
        raise ConfigError(msg)
    return {str(key): str(value) for key, value in data.items()}
