"""Tests for textfile_redis.config: files, conf.d, flags, environment and every refusal."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from textfile_redis import config
from textfile_redis.config import (
    Config,
    ConfigError,
    KeyPattern,
    LuaScript,
    Options,
    Overrides,
    Secret,
    Target,
    Tls,
    load_config,
    loading,
    settings,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

FIXTURES = Path(__file__).parent / "fixtures" / "config"
# A password that must never show in a message, repr or str.
CANARY = "s3cr3t-never-printed"
ONE_TARGET = '[[target]]\naddr = "redis://127.0.0.1:6379"\n'


def install(tmp_path: Path, fixture: str) -> Path:
    """Copy a fixture (a file, or a directory holding config.toml) and return its main path."""
    etc = tmp_path / "etc"
    source = FIXTURES / fixture
    if source.is_dir():
        shutil.copytree(source, etc)
    else:
        etc.mkdir()
        shutil.copy(source, etc / "config.toml")
    (etc / "textfile").mkdir(exist_ok=True)
    return etc / "config.toml"


def write_config(tmp_path: Path, body: str, *, top: str = 'textfile_dir = "textfile"\n') -> Path:
    """Write a main config file next to an existing textfile directory and return its path."""
    etc = tmp_path / "etc"
    (etc / "textfile").mkdir(parents=True, exist_ok=True)
    path = etc / "config.toml"
    path.write_text(top + body)
    return path


def load(path: Path, environ: dict[str, str] | None = None, **overrides: Any) -> Config:
    """Load the configuration at path with these command-line overrides."""
    return load_config(Overrides(config_path=path, **overrides), {} if environ is None else environ)


def load_error(path: Path, environ: dict[str, str] | None = None, **overrides: Any) -> str:
    """Load expecting a ConfigError; return its message, checked to be one line without secrets."""
    with pytest.raises(ConfigError) as caught:
        load(path, environ, **overrides)
    message = str(caught.value)
    assert "\n" not in message
    assert CANARY not in message
    return message


def only_target(cfg: Config) -> Target:
    """Return the single target of a configuration."""
    (target,) = cfg.targets
    return target


# --- good files ----------------------------------------------------------------------------


def test_good_config_reads_main_file_then_confd(tmp_path: Path) -> None:
    """The main file's targets come first, then conf.d's, with every key applied."""
    path = install(tmp_path, "good")
    etc = path.parent

    cfg = load(path)

    assert (cfg.textfile_dir, cfg.interval, cfg.timeout) == (etc / "textfile", 30.0, 10.0)
    assert cfg.targets == (
        Target(
            name="cache",
            addr="redis://127.0.0.1:6379",
            timeout=10.0,
            username="monitor",
            password=Secret("fixture-cache-secret"),
            labels=(("cluster", "payments"), ("tier", "cache")),
            source=str(path),
        ),
        Target(
            name="run_redis_queue_sock",
            addr="unix:///run/redis/queue.sock",
            timeout=3.0,
            config_command="CONFIG_b7f1",
            source=str(path),
        ),
        Target(
            name="sessions",
            addr="redis://10.0.0.5:6379",
            timeout=10.0,
            labels=(("cluster", "web"),),
            source=str(etc / "conf.d" / "10-sessions.toml"),
        ),
    )
    assert cfg.config_path == path
    assert cfg.watched_paths == (path, etc / "conf.d")


def test_confd_reads_toml_files_in_name_order_and_skips_hidden_ones(tmp_path: Path) -> None:
    """conf.d files load sorted by name; hidden files and other suffixes are ignored."""
    path = write_config(tmp_path, "")
    confd = path.parent / "conf.d"
    confd.mkdir()
    (confd / "20-b.toml").write_text('[[target]]\naddr = "b:1"\n')
    (confd / "10-a.toml").write_text('[[target]]\naddr = "a:1"\n')
    (confd / ".#10-a.toml").write_text("not toml at all [")
    (confd / "notes.txt").write_text("not toml at all [")

    assert [target.name for target in load(path).targets] == ["a_1", "b_1"]


def test_missing_default_config_uses_embedded_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a config file the defaults apply: 15 s interval, 5 s timeout, port 6379."""
    default = tmp_path / "etc" / "config.toml"
    monkeypatch.setattr(loading, "DEFAULT_CONFIG_PATH", default)

    cfg = load_config(Overrides(redis_addrs=("localhost",), textfile_dir=tmp_path), {})

    assert (cfg.interval, cfg.timeout, cfg.config_path) == (15.0, 5.0, default)
    assert cfg.watched_paths == (default, default.parent / "conf.d")
    assert only_target(cfg) == Target(
        name="localhost_6379", addr="redis://localhost:6379", timeout=5.0, source="--redis-addr"
    )


def test_default_textfile_dir_is_named_when_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A missing default textfile directory is reported as the default of textfile_dir."""
    monkeypatch.setattr(settings, "DEFAULT_TEXTFILE_DIR", tmp_path / "node_exporter")
    path = write_config(tmp_path, ONE_TARGET, top="")

    message = load_error(path)

    assert message == (
        f"{path}: textfile_dir (default): {tmp_path / 'node_exporter'} does not exist"
    )


def test_owner_is_a_short_hash_of_the_resolved_config_path(tmp_path: Path) -> None:
    """The owner id is 12 hex digits and is the same through a symlink to the same file."""
    path = write_config(tmp_path, ONE_TARGET)
    link = path.parent / "link.toml"
    link.symlink_to(path)

    owner = load(path).owner

    assert len(owner) == 12
    assert int(owner, 16) >= 0
    assert load(link).owner == owner == config.config_owner(path)


def test_short_interval_shrinks_the_default_timeout(tmp_path: Path) -> None:
    """An unset timeout becomes half of a short interval instead of failing the load."""
    path = write_config(tmp_path, ONE_TARGET)

    cfg = load(path, interval=2.0)

    assert (cfg.interval, cfg.timeout, only_target(cfg).timeout) == (2.0, 1.0, 1.0)


def test_textfile_dir_flag_overrides_the_file(tmp_path: Path) -> None:
    """--textfile-dir replaces the file's textfile_dir."""
    path = write_config(tmp_path, ONE_TARGET, top='textfile_dir = "missing"\n')

    assert load(path, textfile_dir=tmp_path).textfile_dir == tmp_path


def test_top_level_config_command_is_every_target_default(tmp_path: Path) -> None:
    """A top-level config_command applies to targets that do not set their own."""
    path = write_config(tmp_path, ONE_TARGET + 'config_command = "CFG"\n')
    path.write_text('config_command = "RENAMED"\n' + path.read_text())

    assert only_target(load(path)).config_command == "CFG"
    path.write_text(path.read_text().replace('config_command = "CFG"\n', ""))
    assert only_target(load(path)).config_command == "RENAMED"


# --- addresses -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "addr", "name"),
    [
        ("redis://127.0.0.1:6379", "redis://127.0.0.1:6379", "127_0_0_1_6379"),
        ("unix:///run/redis/redis.sock", "unix:///run/redis/redis.sock", "run_redis_redis_sock"),
        ("127.0.0.1:6380", "redis://127.0.0.1:6380", "127_0_0_1_6380"),
        ("cache.example", "redis://cache.example:6379", "cache_example_6379"),
        ("redis://Cache.Example:7000/3", "redis://cache.example:7000", "cache_example_7000"),
        ("valkey://10.0.0.1", "redis://10.0.0.1:6379", "10_0_0_1_6379"),
        ("redis://[::1]:6379", "redis://[::1]:6379", "1_6379"),
        ("redis://[2001:db8::7]/0", "redis://[2001:db8::7]:6379", "2001_db8__7_6379"),
        ("REDIS://h:1?db=2", "redis://h:1", "h_1"),
    ],
)
def test_addresses_are_normalised_and_name_the_target(
    tmp_path: Path, written: str, addr: str, name: str
) -> None:
    """Every accepted spelling becomes a canonical addr, and the name derives from it."""
    path = write_config(tmp_path, f'[[target]]\naddr = "{written}"\n')

    target = only_target(load(path))

    assert (target.addr, target.name, target.tls) == (addr, name, None)


@pytest.mark.parametrize(
    ("written", "problem"),
    [
        ("http://127.0.0.1:6379", "unsupported scheme 'http'"),
        ("redis://:6379", "empty or invalid host"),
        ("redis://", "empty or invalid host"),
        ("redis://h:abc", "port must be a number from 1 to 65535"),
        ("redis://h:70000", "port must be a number from 1 to 65535"),
        ("redis://h:0", "port must be a number from 1 to 65535"),
        ("redis://[::1", "port must be a number from 1 to 65535"),
        ("redis://h:1/cache", "the path may only be a database number"),
        ("unix://host/run/redis.sock", "a unix socket address has no host"),
        ("unix:///run/redis/", "expected the path of a socket"),
        (f"redis://h:1/0?password={CANARY}", "the only query parameter accepted is db"),
        (f"redis://user:{CANARY}@h:bad", "port must be a number"),
    ],
)
def test_bad_addresses_are_refused_naming_addr(tmp_path: Path, written: str, problem: str) -> None:
    """A bad scheme, host, port, path or query fails naming the file and target[1].addr."""
    path = write_config(tmp_path, f'[[target]]\naddr = "{written}"\n')

    message = load_error(path)

    assert message.startswith(f"{path}: target[1].addr: {problem}")


def test_credentials_in_a_file_addr_become_username_and_password(tmp_path: Path) -> None:
    """User and password inside a file's addr are taken out of the addr and kept as credentials."""
    path = write_config(tmp_path, f'[[target]]\naddr = "redis://monitor:{CANARY}@h:1/0"\n')

    target = only_target(load(path))

    assert (target.addr, target.username, target.password) == (
        "redis://h:1",
        "monitor",
        Secret(CANARY),
    )


def test_unix_socket_with_password_in_addr(tmp_path: Path) -> None:
    """A unix:// address may carry a password before the socket path."""
    path = write_config(tmp_path, f'[[target]]\naddr = "unix://:{CANARY}@/run/r.sock"\n')

    target = only_target(load(path))

    assert (target.addr, target.password) == ("unix:///run/r.sock", Secret(CANARY))


def test_rediss_target_carries_its_tls_files(tmp_path: Path) -> None:
    """A rediss:// addr gets a Tls value built from the tls_* keys, paths relative to the file."""
    path = write_config(
        tmp_path,
        '[[target]]\naddr = "rediss://h:6380"\ntls_ca_file = "ca.pem"\n'
        'tls_cert_file = "client.pem"\ntls_key_file = "client.key"\n'
        "tls_skip_verify = true\n",
    )
    etc = path.parent
    for name in ("ca.pem", "client.pem", "client.key"):
        (etc / name).write_text("pem")

    target = only_target(load(path))

    assert target.addr == "rediss://h:6380"
    assert target.tls == Tls(
        ca_file=etc / "ca.pem",
        cert_file=etc / "client.pem",
        key_file=etc / "client.key",
        skip_verify=True,
    )


def test_valkeys_is_tls_without_tls_keys(tmp_path: Path) -> None:
    """A valkeys:// addr is TLS with default options when no tls_* key is given."""
    path = write_config(tmp_path, '[[target]]\naddr = "valkeys://h"\n')

    target = only_target(load(path))

    assert (target.addr, target.tls) == ("rediss://h:6379", Tls())


@pytest.mark.parametrize(
    ("body", "key", "problem"),
    [
        ('addr = "redis://h"\ntls_skip_verify = true', "tls_skip_verify", "needs a TLS addr"),
        ('addr = "h:1"\ntls_ca_file = "ca.pem"', "tls_ca_file", "needs a TLS addr"),
        ('addr = "rediss://h"\ntls_cert_file = "ca.pem"', "tls_key_file", "missing"),
        ('addr = "rediss://h"\ntls_key_file = "ca.pem"', "tls_cert_file", "missing"),
        ('addr = "rediss://h"\ntls_ca_file = "absent.pem"', "tls_ca_file", "cannot read"),
    ],
)
def test_bad_tls_keys_are_refused(tmp_path: Path, body: str, key: str, problem: str) -> None:
    """tls_* keys need a TLS addr, a cert needs its key and both need readable files."""
    path = write_config(tmp_path, f"[[target]]\n{body}\n")
    (path.parent / "ca.pem").write_text("pem")

    message = load_error(path)

    assert message.startswith(f"{path}: target[1].{key}: {problem}")


# --- refusals in files ---------------------------------------------------------------------


def test_explicit_missing_config_file_is_an_error(tmp_path: Path) -> None:
    """A --config path that does not exist fails instead of falling back to defaults."""
    path = tmp_path / "absent.toml"

    assert load_error(path) == f"{path}: --config: no such file"


def test_unreadable_config_file_gives_the_os_reason(tmp_path: Path) -> None:
    """A config path that cannot be opened (here under a plain file) fails with the OS reason."""
    (tmp_path / "file").write_text("")
    path = tmp_path / "file" / "config.toml"

    assert load_error(path) == f"{path}: cannot read: Not a directory"


def test_directory_as_config_file_is_not_a_regular_file(tmp_path: Path) -> None:
    """A directory given as the config file is refused as not a regular file."""
    assert load_error(tmp_path) == f"{tmp_path} is not a regular file"


def test_no_targets_is_an_error(tmp_path: Path) -> None:
    """A configuration without any target says where to add one."""
    path = write_config(tmp_path, "")

    message = load_error(path)

    assert message == f"{path}: no targets: add [[target]] to {path} or give --redis-addr"


def test_invalid_toml_quotes_the_parser(tmp_path: Path) -> None:
    """A TOML syntax error names the file and passes on the parser's line and column."""
    path = install(tmp_path, "bad/invalid_toml.toml")

    message = load_error(path)

    assert message.startswith(f"{path}: invalid TOML: ")
    assert "(at line 3, column" in message


def test_non_utf8_toml_is_refused_without_quoting_bytes(tmp_path: Path) -> None:
    """A file that is not UTF-8 fails without quoting the bad bytes, which may be a password."""
    path = write_config(tmp_path, "")
    path.write_bytes(b'password = "\xff\xfe"\n')

    assert load_error(path) == f"{path}: invalid TOML: not UTF-8 text"


def test_unknown_top_level_key_suggests_the_close_match(tmp_path: Path) -> None:
    """An unknown key fails, naming the file, the key and the key it was probably meant to be."""
    path = install(tmp_path, "bad/unknown_key.toml")

    assert load_error(path) == f"{path}: unknown key 'intervall'; did you mean 'interval'?"


def test_unknown_target_key_names_the_target(tmp_path: Path) -> None:
    """An unknown key in a [[target]] names the target and the key."""
    path = write_config(tmp_path, '[[target]]\naddr = "h"\nlabel = {}\n')

    assert load_error(path) == f"{path}: target[1]: unknown key 'label'; did you mean 'labels'?"


def test_opt_in_families_parse_with_redis_exporters_syntax(tmp_path: Path) -> None:
    """check_keys and friends take redis_exporter's db=pattern strings; lua scripts are read."""
    path = write_config(
        tmp_path,
        ONE_TARGET
        + 'check_keys = ["db3=session:*", "user:%3Dodd"]\n'
        + 'count_keys = ["db1=queue:*"]\n'
        + 'check_key_groups = ["^(.*)_[^_]+$"]\n'
        + "max_distinct_key_groups = 5\n"
        + "scan_budget = 0.5\n"
        + 'lua_scripts = ["queue.lua"]\n'
        + "export_client_list = true\n",
    )
    (path.parent / "queue.lua").write_text("return {'depth', '3'}\n")

    options = only_target(load(path)).options

    assert options.check_keys == (KeyPattern(3, "session:*"), KeyPattern(0, "user:=odd"))
    assert options.count_keys == (KeyPattern(1, "queue:*"),)
    assert options.check_key_groups == ("^(.*)_[^_]+$",)
    assert options.max_distinct_key_groups == 5
    assert options.scan_budget == 0.5
    assert options.lua_scripts == (LuaScript(path.parent / "queue.lua", "return {'depth', '3'}\n"),)
    assert options.export_client_list is True
    assert options.include_config_metrics is False
    assert options.check_keys_batch_size == 1000


def test_top_level_opt_ins_are_every_targets_default(tmp_path: Path) -> None:
    """A family set at the top level applies to every target unless the target says otherwise."""
    path = write_config(
        tmp_path,
        '[[target]]\naddr = "h:1"\n[[target]]\naddr = "h:2"\ninclude_config_metrics = false\n',
        top='textfile_dir = "textfile"\ninclude_config_metrics = true\ncount_keys = ["q:*"]\n',
    )

    first, second = load(path).targets

    assert first.options.include_config_metrics is True
    assert second.options.include_config_metrics is False
    assert second.options.count_keys == (KeyPattern(0, "q:*"),)


@pytest.mark.parametrize(
    ("line", "key", "problem"),
    [
        ('check_keys = "db0=a"', "check_keys", "expected a list of strings"),
        ('check_keys = ["a=b=c"]', "check_keys", "is not db=pattern"),
        ('check_keys = ["dbx=a"]', "check_keys", "is not a database"),
        ('count_keys = ["db0="]', "count_keys", "has no key or pattern"),
        ('check_key_groups = [""]', "check_key_groups", "holds an empty string"),
        ("max_distinct_key_groups = 0", "max_distinct_key_groups", "greater than 0"),
        ("check_keys_batch_size = 1.5", "check_keys_batch_size", "whole number"),
        ("scan_budget = 20", "scan_budget", "must be less than interval"),
        ('lua_scripts = ["missing.lua"]', "lua_scripts", "missing.lua"),
        ('export_client_list = "yes"', "export_client_list", "true or false"),
    ],
)
def test_bad_opt_in_values_name_the_key(tmp_path: Path, line: str, key: str, problem: str) -> None:
    """Each malformed opt-in value is refused with the target, the key and the problem."""
    path = write_config(tmp_path, ONE_TARGET + line + "\n")

    message = load_error(path)

    assert message.startswith(f"{path}: target[1].{key}")
    assert problem in message


def test_wrong_type_names_the_target_index_and_the_value(tmp_path: Path) -> None:
    """A value of the wrong type names the 1-based target, the key and the value."""
    path = install(tmp_path, "bad/wrong_type.toml")

    assert load_error(path) == f"{path}: target[2].timeout: expected a number, got 'abc'"


def test_wrong_type_names_the_target_by_name_when_it_has_one(tmp_path: Path) -> None:
    """A target with a name is named by it in messages."""
    path = write_config(tmp_path, '[[target]]\nname = "cache"\naddr = "h"\nusername = 7\n')

    assert load_error(path) == f"{path}: target 'cache'.username: expected a string, got 7"


@pytest.mark.parametrize(
    ("top", "key", "got"),
    [
        ("interval = true\n", "interval", "expected a number, got true"),
        ("timeout = [1]\n", "timeout", "expected a number, got an array"),
        ("textfile_dir = 1\n", "textfile_dir", "expected a string, got 1"),
        ("interval = 0\n", "interval", "must be a number greater than 0, got 0"),
        ("timeout = -1.5\n", "timeout", "must be a number greater than 0, got -1.5"),
        ("interval = inf\n", "interval", "must be a number greater than 0, got inf"),
        ("target = 'x'\n", "target", "expected an array of tables ([[target]]), got 'x'"),
    ],
)
def test_bad_top_level_values_are_refused(tmp_path: Path, top: str, key: str, got: str) -> None:
    """Top-level values are type checked; booleans are not numbers and seconds must be > 0."""
    path = write_config(tmp_path, "", top=top)

    assert load_error(path) == f"{path}: {key}: {got}"


def test_target_given_as_a_single_table_is_not_quoted(tmp_path: Path) -> None:
    """[target] instead of [[target]] fails without quoting the table, which may hold a password."""
    path = write_config(tmp_path, f'[target]\naddr = "h"\npassword = "{CANARY}"\n')

    message = load_error(path)

    assert message == f"{path}: target: expected an array of tables ([[target]]), got a table"


def test_password_of_the_wrong_type_is_not_quoted(tmp_path: Path) -> None:
    """A password of the wrong type is described by its type, never by its value."""
    path = write_config(tmp_path, f'[[target]]\naddr = "h"\npassword = ["{CANARY}"]\n')

    assert load_error(path) == f"{path}: target[1].password: expected a string, got an array"


@pytest.mark.parametrize(
    ("line", "key", "problem"),
    [
        ('name = "a b"', "name", "may hold only letters, digits"),
        ('labels = { 1x = "v" }', "labels", "'1x' is not a valid label name"),
        ('labels = { addr = "v" }', "labels", "'addr' is reserved"),
        ('labels = { __meta = "v" }', "labels", "'__meta' is reserved"),
        ('labels = { cmd = "v" }', "labels", "'cmd' is reserved"),
        ("labels = { env = 1 }", "labels.env", "expected a string, got 1"),
        ('labels = "env=prod"', "labels", "expected a table, got 'env=prod'"),
        ('config_command = ""', "config_command", "must be one word"),
        ("tls_skip_verify = 1", "tls_skip_verify", "expected true or false, got 1"),
        ('password_file = ""', "password_file", "must not be empty"),
    ],
)
def test_bad_target_values_are_refused(tmp_path: Path, line: str, key: str, problem: str) -> None:
    """Names, labels, config_command and typed keys are checked, naming target and key."""
    path = write_config(tmp_path, f'[[target]]\naddr = "rediss://h"\n{line}\n')

    assert load_error(path).startswith(f"{path}: target[1].{key}: {problem}")


def test_missing_addr_is_an_error(tmp_path: Path) -> None:
    """Every [[target]] needs an addr."""
    path = write_config(tmp_path, '[[target]]\nname = "cache"\n')

    assert load_error(path) == f"{path}: target 'cache'.addr: missing; every [[target]] needs one"


def test_password_given_twice_is_an_error(tmp_path: Path) -> None:
    """password, password_file and a password in addr are exclusive."""
    path = write_config(
        tmp_path, f'[[target]]\naddr = "redis://:{CANARY}@h"\npassword_file = "pw"\n'
    )

    assert (
        load_error(path)
        == f"{path}: target[1].addr: conflicts with password_file; give the password once"
    )


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("missing", "No such file or directory"),
        ("directory", "is not a regular file"),
        ("fifo", "is not a regular file"),
        ("empty", "is empty"),
    ],
)
def test_unusable_password_file_names_file_key_and_reason(
    tmp_path: Path, kind: str, reason: str
) -> None:
    """A password_file that is missing, not a regular file or empty fails naming file and key."""
    path = write_config(tmp_path, '[[target]]\naddr = "h"\npassword_file = "pw"\n')
    password_path = path.parent / "pw"
    if kind == "directory":
        password_path.mkdir()
    elif kind == "fifo":  # a plain open() would wait for a writer forever
        os.mkfifo(password_path)
    elif kind == "empty":
        password_path.write_text("")

    message = load_error(path)

    assert message.startswith(f"{path}: target[1].password_file: ")
    assert str(password_path) in message
    assert reason in message


def test_password_file_loses_exactly_one_trailing_newline(tmp_path: Path) -> None:
    """Only the final newline of a password file is stripped; the rest is the password."""
    path = write_config(tmp_path, '[[target]]\naddr = "h"\npassword_file = "pw"\n')
    (path.parent / "pw").write_text(f" {CANARY}\n\n")

    assert only_target(load(path)).password == Secret(f" {CANARY}\n")


def test_password_credential_reads_systemds_credentials_directory(tmp_path: Path) -> None:
    """password_credential names a LoadCredential= file under $CREDENTIALS_DIRECTORY."""
    path = write_config(tmp_path, '[[target]]\naddr = "h"\npassword_credential = "cache"\n')
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "cache").write_text(f"{CANARY}\n")

    target = only_target(load(path, {"CREDENTIALS_DIRECTORY": str(credentials)}))

    assert target.password == Secret(CANARY)


def test_password_credential_without_systemd_is_a_clear_error(tmp_path: Path) -> None:
    """Outside systemd (no CREDENTIALS_DIRECTORY) password_credential says what it needs."""
    path = write_config(tmp_path, '[[target]]\naddr = "h"\npassword_credential = "cache"\n')

    message = load_error(path)

    assert "target[1].password_credential" in message
    assert "LoadCredential" in message


@pytest.mark.parametrize(
    ("top", "body", "key"),
    [
        ("interval = 5\ntimeout = 5\n", ONE_TARGET, "timeout"),
        ("interval = 5\n", ONE_TARGET + "timeout = 7\n", "target[1].timeout"),
    ],
)
def test_timeout_must_be_below_the_interval(tmp_path: Path, top: str, body: str, key: str) -> None:
    """A top-level or per-target timeout at or above the interval is refused."""
    path = write_config(tmp_path, body, top='textfile_dir = "textfile"\n' + top)

    assert load_error(path).startswith(f"{path}: {key}: must be less than interval (5s), got ")


def test_interval_flag_can_make_the_file_timeout_invalid(tmp_path: Path) -> None:
    """--interval is checked against the file's timeout."""
    path = write_config(tmp_path, ONE_TARGET, top='textfile_dir = "textfile"\ntimeout = 4\n')

    message = load_error(path, interval=3.0)

    assert message == f"{path}: timeout: must be less than interval (3s), got 4"


def test_bad_interval_flag_is_refused(tmp_path: Path) -> None:
    """--interval must be a positive number."""
    path = write_config(tmp_path, ONE_TARGET)

    assert load_error(path, interval=0.0) == "--interval: must be a number greater than 0, got 0.0"


def test_textfile_dir_from_the_file_must_exist_and_be_a_directory(tmp_path: Path) -> None:
    """A textfile_dir that is missing or a file fails naming the config file and the key."""
    # The not-writable case cannot be shown here: tests run as root, for whom os.access
    # grants W_OK on every directory; _is_writable only bites for the service user.
    path = write_config(tmp_path, ONE_TARGET, top='textfile_dir = "out"\n')
    out = path.parent / "out"

    assert load_error(path) == f"{path}: textfile_dir: {out} does not exist"
    out.write_text("")
    assert load_error(path) == f"{path}: textfile_dir: {out} is not a directory"


def test_textfile_dir_flag_is_named_when_unusable(tmp_path: Path) -> None:
    """A bad --textfile-dir is reported as the flag's, not the file's."""
    path = write_config(tmp_path, ONE_TARGET)
    missing = tmp_path / "missing"

    message = load_error(path, textfile_dir=missing)

    assert message == f"--textfile-dir: {missing} does not exist"


def test_confd_top_level_key_names_the_confd_file(tmp_path: Path) -> None:
    """A conf.d file may hold only [[target]] tables; other keys fail naming file and key."""
    path = install(tmp_path, "bad/confd_top_level")
    confd_file = path.parent / "conf.d" / "50-fast.toml"

    message = load_error(path)

    assert message.startswith(f"{confd_file}: interval: a conf.d file holds only [[target]]")


def test_duplicate_name_across_files_names_both_files(tmp_path: Path) -> None:
    """Two targets with one name fail naming both files."""
    path = install(tmp_path, "bad/duplicate_name")
    confd_file = path.parent / "conf.d" / "20-cache.toml"

    message = load_error(path)

    assert message == (
        f"{confd_file}: target 'cache'.name: 'cache' is already used by target 'cache' in {path}"
    )


def test_duplicate_addr_is_an_error_whatever_the_spelling(tmp_path: Path) -> None:
    """Two targets on one server fail even when their addresses are spelled differently."""
    path = write_config(
        tmp_path,
        '[[target]]\nname = "a"\naddr = "redis://h:6379"\n'
        '[[target]]\nname = "b"\naddr = "valkey://h/1"\n',
    )

    message = load_error(path)

    assert message == (
        f"{path}: target 'b'.addr: 'redis://h:6379' is already used by target 'a' in {path}"
    )


def test_secrets_never_show_in_the_config_repr(tmp_path: Path) -> None:
    """Neither repr nor str of a loaded configuration contains a password."""
    path = write_config(tmp_path, f'[[target]]\naddr = "h"\npassword = "{CANARY}"\n')

    cfg = load(path)

    assert only_target(cfg).password == Secret(CANARY)
    assert CANARY not in repr(cfg)
    assert CANARY not in str(cfg)


# --- flags and environment -----------------------------------------------------------------


def test_redis_addr_env_replaces_file_targets_with_env_credentials(tmp_path: Path) -> None:
    """REDIS_ADDR (comma-separated) replaces the file's targets and takes REDIS_USER/PASSWORD."""
    path = install(tmp_path, "good")
    environ = {"REDIS_ADDR": "a:1, redis://b:2", "REDIS_USER": "mon", "REDIS_PASSWORD": CANARY}

    cfg = load(path, environ)

    assert cfg.targets == tuple(
        Target(
            name=name,
            addr=addr,
            timeout=10.0,
            username="mon",
            password=Secret(CANARY),
            source="REDIS_ADDR",
        )
        for name, addr in (("a_1", "redis://a:1"), ("b_2", "redis://b:2"))
    )


def test_redis_addr_flag_wins_over_the_environment(tmp_path: Path) -> None:
    """--redis-addr replaces both the file's targets and REDIS_ADDR."""
    path = write_config(tmp_path, ONE_TARGET)

    cfg = load(path, {"REDIS_ADDR": "env:1"}, redis_addrs=("flag:1",))

    assert [(t.addr, t.source) for t in cfg.targets] == [("redis://flag:1", "--redis-addr")]


def test_flag_targets_do_not_read_the_replaced_confd(tmp_path: Path) -> None:
    """With --redis-addr, conf.d targets are replaced unread, so a broken one does not matter."""
    path = write_config(tmp_path, ONE_TARGET)
    (path.parent / "conf.d").mkdir()
    (path.parent / "conf.d" / "bad.toml").write_text("[[target]\n")

    assert only_target(load(path, redis_addrs=("h:1",))).addr == "redis://h:1"


def test_env_credentials_never_apply_to_file_targets(tmp_path: Path) -> None:
    """REDIS_USER and REDIS_PASSWORD are ignored when targets come from files."""
    path = write_config(tmp_path, ONE_TARGET)

    target = only_target(load(path, {"REDIS_USER": "mon", "REDIS_PASSWORD": CANARY}))

    assert (target.username, target.password) == (None, None)


def test_plain_password_file_env_is_the_password(tmp_path: Path) -> None:
    """A REDIS_PASSWORD_FILE that is not a JSON object holds the password itself."""
    path = write_config(tmp_path, ONE_TARGET)
    password_file = tmp_path / "pw"
    password_file.write_text(f"{CANARY}\n")
    environ = {"REDIS_ADDR": "h:1", "REDIS_PASSWORD_FILE": str(password_file)}

    assert only_target(load(path, environ)).password == Secret(CANARY)


def test_json_password_file_env_maps_addresses_to_passwords(tmp_path: Path) -> None:
    """A JSON REDIS_PASSWORD_FILE is redis_exporter's map; unmapped addresses get REDIS_PASSWORD."""
    path = write_config(tmp_path, ONE_TARGET)
    password_file = tmp_path / "pw.json"
    password_map = {"redis://a:1/": "pw-a", "b:2": "pw-b"}
    password_file.write_text(json.dumps(password_map))
    environ = {
        "REDIS_ADDR": "redis://a:1,b:2,c:3",
        "REDIS_PASSWORD_FILE": str(password_file),
        "REDIS_PASSWORD": "fallback",
    }

    cfg = load(path, environ)

    assert [t.password for t in cfg.targets] == [
        Secret("pw-a"),
        Secret("pw-b"),
        Secret("fallback"),
    ]


@pytest.mark.parametrize(
    ("content", "extra", "expected"),
    [
        (CANARY, {"REDIS_PASSWORD": CANARY}, "REDIS_PASSWORD_FILE: holds a password and so does"),
        ('{"h:1": 7}', {}, "REDIS_PASSWORD_FILE: the JSON map's values must be password strings"),
        (None, {}, "REDIS_PASSWORD_FILE: cannot read "),
    ],
)
def test_bad_password_file_env_is_refused(
    tmp_path: Path, content: str | None, extra: dict[str, str], expected: str
) -> None:
    """REDIS_PASSWORD_FILE must be readable, agree with REDIS_PASSWORD and map to strings."""
    path = write_config(tmp_path, ONE_TARGET)
    password_file = tmp_path / "pw"
    if content is not None:
        password_file.write_text(content)
    environ = {"REDIS_ADDR": "h:1", "REDIS_PASSWORD_FILE": str(password_file), **extra}

    assert load_error(path, environ).startswith(expected)


def test_password_in_redis_addr_flag_is_refused_without_echoing_it(tmp_path: Path) -> None:
    """A password on the command line is refused, its value masked in the message."""
    path = write_config(tmp_path, ONE_TARGET)

    message = load_error(path, redis_addrs=(f"redis://mon:{CANARY}@h:1",))

    assert message == (
        "--redis-addr: redis://mon:***@h:1: secrets do not belong on the command line, where any"
        " user can read them; use REDIS_PASSWORD or REDIS_PASSWORD_FILE"
    )


def test_username_alone_in_redis_addr_flag_is_accepted(tmp_path: Path) -> None:
    """A user name is not a secret, so --redis-addr may carry one."""
    path = write_config(tmp_path, ONE_TARGET)

    target = only_target(load(path, {"REDIS_USER": "env"}, redis_addrs=("redis://mon@h:1",)))

    assert (target.addr, target.username) == ("redis://h:1", "mon")


def test_password_in_redis_addr_env_is_accepted(tmp_path: Path) -> None:
    """REDIS_ADDR may carry a password, as redis_exporter allows; it leaves the addr."""
    path = write_config(tmp_path, ONE_TARGET)

    target = only_target(load(path, {"REDIS_ADDR": f"redis://:{CANARY}@h:1"}))

    assert (target.addr, target.password) == ("redis://h:1", Secret(CANARY))


def test_bad_redis_addr_names_its_source(tmp_path: Path) -> None:
    """A bad address from the environment is reported as REDIS_ADDR's."""
    path = write_config(tmp_path, ONE_TARGET)

    message = load_error(path, {"REDIS_ADDR": "h:1,ftp://x"})

    assert message.startswith("REDIS_ADDR: unsupported scheme 'ftp'")


def test_same_server_twice_on_the_command_line_is_an_error(tmp_path: Path) -> None:
    """--redis-addr given twice for one server fails."""
    path = write_config(tmp_path, ONE_TARGET)

    message = load_error(path, redis_addrs=("h", "redis://h:6379"))

    assert message == "--redis-addr: addr: 'redis://h:6379' is already used by --redis-addr"


def test_exclude_latency_histogram_metrics_drops_both_latency_commands() -> None:
    """As redis_exporter's flag does: neither LATENCY LATEST nor LATENCY HISTOGRAM is sent."""
    from textfile_redis.commands import ServerFeatures, cycle_commands  # noqa: PLC0415

    features = ServerFeatures(latency_histogram=True)
    target = Target(name="t", addr="redis://h:6379", timeout=1.0)
    assert {"latency_latest", "latency_histogram"} <= set(cycle_commands(target, features))
    quiet = Target(
        name="t", addr="redis://h:6379", timeout=1.0,
        options=Options(exclude_latency_histogram_metrics=True),
    )  # fmt: skip
    assert not {"latency_latest", "latency_histogram"} & set(cycle_commands(quiet, features))


# --- max_scrape_bytes ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "shown"), [('"16M"', "'16M'"), ("0", "0"), ("-1", "-1"), ("1.5", "1.5")]
)
@pytest.mark.parametrize("level", ["top", "target"])
def test_bad_max_scrape_bytes_names_file_and_key(
    tmp_path: Path, value: str, shown: str, level: str
) -> None:
    """max_scrape_bytes of the wrong type, zero or negative is refused naming file and key."""
    line = f"max_scrape_bytes = {value}\n"
    if level == "top":
        path = write_config(tmp_path, ONE_TARGET, top=f'textfile_dir = "textfile"\n{line}')
        key = "max_scrape_bytes"
    else:
        path = write_config(tmp_path, ONE_TARGET + line)
        key = "target[1].max_scrape_bytes"

    assert load_error(path) == (
        f"{path}: {key}: expected a whole number greater than 0, got {shown}"
    )


def test_max_scrape_bytes_defaults_to_16_mib(tmp_path: Path) -> None:
    """Unset, a target may read 16 MiB from its server per cycle."""
    path = write_config(tmp_path, ONE_TARGET)

    assert only_target(load(path)).options.max_scrape_bytes == 16 * 1024 * 1024


def test_top_level_max_scrape_bytes_is_every_targets_default_and_a_target_overrides(
    tmp_path: Path,
) -> None:
    """The top-level max_scrape_bytes applies to every target; a target's own value wins."""
    path = write_config(
        tmp_path,
        '[[target]]\naddr = "h:1"\n[[target]]\naddr = "h:2"\nmax_scrape_bytes = 2048\n',
        top='textfile_dir = "textfile"\nmax_scrape_bytes = 1000000\n',
    )
    confd = path.parent / "conf.d"
    confd.mkdir()
    (confd / "more.toml").write_text('[[target]]\naddr = "h:3"\n')

    sizes = [target.options.max_scrape_bytes for target in load(path).targets]

    assert sizes == [1_000_000, 2048, 1_000_000]


def test_command_line_targets_take_the_top_level_max_scrape_bytes(tmp_path: Path) -> None:
    """Targets from --redis-addr inherit the file's top-level max_scrape_bytes."""
    path = write_config(tmp_path, "", top='textfile_dir = "textfile"\nmax_scrape_bytes = 4096\n')

    target = only_target(load(path, redis_addrs=("h:1",)))

    assert target.options.max_scrape_bytes == 4096


# --- a configuration is loaded or refused, never a crash -----------------------------------


def test_deeply_nested_array_is_refused_naming_the_file(tmp_path: Path) -> None:
    """A TOML array nested thousands deep is a one-line refusal, not a RecursionError."""
    path = write_config(tmp_path, ONE_TARGET + "x = " + "[" * 3000 + "]" * 3000 + "\n")

    assert load_error(path) == f"{path}: nested too deeply to be a configuration"


def test_deeply_nested_conf_d_file_is_refused_naming_that_file(tmp_path: Path) -> None:
    """Absurd nesting in a conf.d file names the conf.d file, not the main one."""
    path = write_config(tmp_path, ONE_TARGET)
    (path.parent / "conf.d").mkdir()
    nested = path.parent / "conf.d" / "deep.toml"
    nested.write_text("labels = " + "{a = " * 3000 + "1" + "}" * 3000 + "\n")

    assert load_error(path) == f"{nested}: nested too deeply to be a configuration"


@pytest.mark.parametrize(
    ("body", "key"),
    [
        (ONE_TARGET + 'password_file = "pw\\u0000x"\n', "target[1].password_file"),
        (ONE_TARGET + 'lua_scripts = ["a\\u0000.lua"]\n', "target[1].lua_scripts"),
        ('[[target]]\naddr = "unix:///run/a%00b.sock"\n', "target[1].addr"),
    ],
    ids=["password_file", "lua_scripts", "unix addr"],
)
def test_nul_in_a_path_is_refused_naming_the_key(tmp_path: Path, body: str, key: str) -> None:
    """A NUL character in a path is refused with the key, not a ValueError from the OS."""
    path = write_config(tmp_path, body)

    message = load_error(path)

    assert message.startswith(f"{path}: {key}: ")
    assert "NUL" in message


def test_nul_in_textfile_dir_is_refused_naming_the_key(tmp_path: Path) -> None:
    """A NUL in textfile_dir is refused naming the key."""
    path = write_config(tmp_path, ONE_TARGET, top='textfile_dir = "text\\u0000file"\n')

    assert load_error(path) == f"{path}: textfile_dir: a path must not hold a NUL character"


class _ExplodingEnviron(dict[str, str]):
    """An environment whose every lookup raises, quoting a secret."""

    def get(self, *_args: object) -> Any:
        raise ValueError(CANARY)


def test_unexpected_exception_becomes_a_refusal_that_quotes_nothing(tmp_path: Path) -> None:
    """Any other exception while loading is a ConfigError naming the file, not its text."""
    path = write_config(tmp_path, ONE_TARGET)

    assert load_error(path, _ExplodingEnviron()) == f"{path}: cannot be loaded (ValueError)"


# --- files that are not regular files ------------------------------------------------------

FIFO_DEADLINE = 2.0  # seconds: a blocking open() of a FIFO would wait for a writer forever


def load_error_promptly(path: Path) -> str:
    """load_error in a thread that must finish within FIFO_DEADLINE; fail if it blocks."""
    outcome: list[str] = []

    def attempt() -> None:
        try:
            outcome.append(load_error(path))
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            outcome.append(f"raised {exc!r}")

    worker = threading.Thread(target=attempt, daemon=True)
    worker.start()
    worker.join(FIFO_DEADLINE)
    assert outcome, f"loading blocked for {FIFO_DEADLINE} s (opening a FIFO?)"
    return outcome[0]


@pytest.fixture
def fifos() -> Iterator[list[Path]]:
    """FIFOs the test makes; a blocked reader of one is released at teardown."""
    made: list[Path] = []
    yield made
    for fifo in made:
        with contextlib.suppress(OSError):  # no reader waiting: nothing to release
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))


def test_fifo_as_config_file_is_refused_without_blocking(tmp_path: Path, fifos: list[Path]) -> None:
    """A FIFO in place of the main file is refused at once as not a regular file."""
    path = tmp_path / "config.toml"
    os.mkfifo(path)
    fifos.append(path)

    assert load_error_promptly(path) == f"{path} is not a regular file"


@pytest.mark.parametrize("name", ["fifo.toml", "dir.toml"])
def test_conf_d_entry_that_is_not_a_file_is_refused(
    tmp_path: Path, fifos: list[Path], name: str
) -> None:
    """A FIFO or a directory named conf.d/*.toml is refused by name, without blocking."""
    path = write_config(tmp_path, ONE_TARGET)
    entry = path.parent / "conf.d" / name
    entry.parent.mkdir()
    if name == "dir.toml":
        entry.mkdir()
    else:
        os.mkfifo(entry)
        fifos.append(entry)

    assert load_error_promptly(path) == f"{entry} is not a regular file"


@pytest.mark.parametrize(
    ("line", "key"),
    [
        ('lua_scripts = ["script.lua"]', "lua_scripts"),
        ('password_file = "script.lua"', "password_file"),
    ],
)
def test_fifo_as_a_file_a_target_names_is_refused(
    tmp_path: Path, fifos: list[Path], line: str, key: str
) -> None:
    """A FIFO as a Lua script or password file is refused naming the key and the file."""
    path = write_config(tmp_path, f"{ONE_TARGET}{line}\n")
    fifo = path.parent / "script.lua"
    os.mkfifo(fifo)
    fifos.append(fifo)

    message = load_error_promptly(path)

    assert message == f"{path}: target[1].{key}: {fifo} is not a regular file"


def test_fifo_as_a_tls_file_is_refused(tmp_path: Path, fifos: list[Path]) -> None:
    """A FIFO as tls_ca_file is refused naming the key, without blocking."""
    body = '[[target]]\naddr = "rediss://h:1"\ntls_ca_file = "ca.pem"\n'
    path = write_config(tmp_path, body)
    fifo = path.parent / "ca.pem"
    os.mkfifo(fifo)
    fifos.append(fifo)

    message = load_error_promptly(path)

    assert message == f"{path}: target[1].tls_ca_file: {fifo} is not a regular file"


# --- owner ids -----------------------------------------------------------------------------


def test_file_targets_keep_the_owner_id_of_earlier_releases(tmp_path: Path) -> None:
    """With targets from the file, the owner id is still the hash of the resolved path alone."""
    path = write_config(tmp_path, ONE_TARGET)
    resolved = os.fsencode(path.resolve())

    assert load(path).owner == hashlib.sha256(resolved).hexdigest()[:12]


def test_command_line_targets_get_an_owner_id_of_their_own(tmp_path: Path) -> None:
    """--redis-addr instances sharing a config path and directory get distinct owner ids."""
    path = write_config(tmp_path, "")
    textfile = path.parent / "textfile"
    other_dir = tmp_path / "elsewhere"
    other_dir.mkdir()

    a = load(path, redis_addrs=("a:1",)).owner
    b = load(path, redis_addrs=("b:1",)).owner
    ab = load(path, redis_addrs=("a:1", "b:1")).owner
    a_elsewhere = load(path, redis_addrs=("a:1",), textfile_dir=other_dir).owner

    assert len({a, b, ab, a_elsewhere, load(path, redis_addrs=("h:1",)).owner}) == 5
    assert config.config_owner(path) not in {a, b, ab}
    assert a == config.command_line_owner(path, textfile, ["redis://a:1"])


def test_command_line_owner_ignores_spelling_order_and_secrets(tmp_path: Path) -> None:
    """Same servers, same directory: same owner, however written, ordered or authenticated."""
    path = write_config(tmp_path, "")

    flags = load(path, redis_addrs=("b:1", "redis://a:1")).owner
    env = load(path, {"REDIS_ADDR": "a:1,b:1", "REDIS_PASSWORD": CANARY}).owner
    cleanup = load_config(
        Overrides(config_path=path, redis_addrs=("a:1", "b:1")),
        {},
        read_secrets=False,
        allow_no_targets=True,
    ).owner

    assert flags == env == cleanup


def test_without_a_config_file_command_line_instances_differ(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two instances on the absent default config, told apart by their targets."""
    monkeypatch.setattr(loading, "DEFAULT_CONFIG_PATH", tmp_path / "absent" / "config.toml")
    one = load_config(Overrides(redis_addrs=("a:1",), textfile_dir=tmp_path), {})
    two = load_config(Overrides(redis_addrs=("b:1",), textfile_dir=tmp_path), {})

    assert one.owner != two.owner


# --- warnings ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        ONE_TARGET + f'password = "{CANARY}"\n',
        f'[[target]]\naddr = "redis://:{CANARY}@h:1"\n',
    ],
    ids=["password key", "password in addr"],
)
def test_world_readable_file_with_a_password_gives_one_warning(tmp_path: Path, body: str) -> None:
    """A 0644 main file holding a password gives one warning naming it, not the password."""
    path = write_config(tmp_path, body)
    path.chmod(0o644)

    (warning,) = load(path).warnings

    assert warning.startswith(f"{path} holds a password and every user may read it")
    assert CANARY not in warning


def test_world_readable_conf_d_file_with_a_password_is_named(tmp_path: Path) -> None:
    """The warning names the conf.d file that holds the password, and only that file."""
    path = write_config(tmp_path, "")
    path.chmod(0o644)
    (path.parent / "conf.d").mkdir()
    secret = path.parent / "conf.d" / "secret.toml"
    secret.write_text(f'[[target]]\naddr = "h:1"\npassword = "{CANARY}"\n')
    secret.chmod(0o604)
    (path.parent / "conf.d" / "plain.toml").write_text('[[target]]\naddr = "h:2"\n')

    assert [w.split(" ")[0] for w in load(path).warnings] == [str(secret)]


@pytest.mark.parametrize(
    ("mode", "body"),
    [
        (0o640, ONE_TARGET + f'password = "{CANARY}"\n'),
        (0o644, ONE_TARGET + 'password_file = "pw"\n'),
        (0o644, ONE_TARGET),
    ],
    ids=["not world-readable", "password in another file", "no password"],
)
def test_no_warning_without_an_exposed_password(tmp_path: Path, mode: int, body: str) -> None:
    """A file others cannot read, or one without a password, gives no warning."""
    path = write_config(tmp_path, body)
    (path.parent / "pw").write_text(CANARY)
    path.chmod(mode)

    assert load(path).warnings == ()
