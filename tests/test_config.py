"""Tests for textfile_redis.config: files, conf.d, flags, environment and every refusal.

Refusals are tables of (input, expected message). In an expected message `{main}` is the main
config file, `{etc}` its directory and `{tmp}` the test's temp directory; `…` stands for any text.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import hashlib
import json
import os
import re
import shutil
import threading
from dataclasses import dataclass, field
from operator import attrgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from textfile_redis.config import (
    DISCOVERED,
    Config,
    ConfigError,
    KeyPattern,
    LuaScript,
    Options,
    Overrides,
    Secret,
    Target,
    Tls,
    command_line_owner,
    config_owner,
    discovered,
    load_config,
    loading,
    with_servers,
)
from textfile_redis.discover import Server, TextfileDir

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from _pytest.mark.structures import ParameterSet

FIXTURES = Path(__file__).parent / "fixtures" / "config"
# A password that must never show in a message, repr or str.
CANARY = "s3cr3t-never-printed"
TOP = 'textfile_dir = "textfile"\n'
TARGET = '[[target]]\naddr = "redis://127.0.0.1:6379"\n'
ONE = TOP + TARGET
FIFO_DEADLINE = 2.0  # seconds: a blocking open() of a FIFO would wait for a writer forever


class Entry(enum.Enum):
    """A file system entry that is not a regular file, put where a file is expected."""

    FIFO = "fifo"
    DIR = "dir"


Content = str | bytes | Entry


def one(*lines: str) -> str:
    """A main file with one target (redis://127.0.0.1:6379) and these lines added to it."""
    return ONE + "".join(f"{line}\n" for line in lines)


def target(*lines: str, top: str = TOP) -> str:
    """A main file: the top-level lines, then one [[target]] holding these lines."""
    return top + "[[target]]\n" + "".join(f"{line}\n" for line in lines)


@dataclass(frozen=True)
class Given:
    """What a case starts from: files under etc/, the environment and the command line's flags."""

    main: Content | None = None  # etc/config.toml; None: not written
    files: Mapping[str, Content] = field(default_factory=dict)  # more, relative to etc/
    fixture: str | None = None  # copied under etc/ first: a file (the main one) or a directory
    environ: Mapping[str, str] = field(default_factory=dict)  # values may hold {etc}
    flags: Mapping[str, Any] = field(default_factory=dict)  # Overrides; paths may hold {etc}
    modes: Mapping[str, int] = field(default_factory=dict)  # chmod, relative to etc/


def case(name: str, main: Content | None, expected: Any, **given: Any) -> ParameterSet:
    """One row of a table: what is given, and what loading it must give or say."""
    return pytest.param(Given(main, **given), expected, id=name)


def first_as_id(rows: list[tuple[str, str]]) -> list[ParameterSet]:
    """The rows of a table, each named by its first column."""
    return [pytest.param(*row, id=row[0]) for row in rows]


def matches(message: str, expected: str) -> bool:
    """Whether the message is the expected one, `…` matching any text."""
    pattern = ".*".join(re.escape(part) for part in expected.split("…"))
    return re.fullmatch(pattern, message, re.DOTALL) is not None


class World:
    """A temp etc/ directory with a textfile directory, where a case's files are put."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.etc = tmp / "etc"
        self.main = self.etc / "config.toml"
        self.fifos: list[Path] = []

    def fill(self, text: str) -> str:
        """The text with {main}, {etc} and {tmp} replaced by this world's paths."""
        return text.format(main=self.main, etc=self.etc, tmp=self.tmp)

    def put(self, relative: str, content: Content) -> Path:
        """Make a file, FIFO or directory under etc/."""
        path = self.etc / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if content is Entry.FIFO:
            os.mkfifo(path)
            self.fifos.append(path)
        elif content is Entry.DIR:
            path.mkdir()
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)
        return path

    def build(self, given: Given) -> Overrides:
        """Lay out the case's files and return its command line."""
        (self.etc / "textfile").mkdir(parents=True)
        if given.fixture:
            source = FIXTURES / given.fixture
            if source.is_dir():
                shutil.copytree(source, self.etc, dirs_exist_ok=True)
            else:
                shutil.copy(source, self.main)
        if given.main is not None:
            self.put("config.toml", given.main)
        for relative, content in given.files.items():
            self.put(relative, content)
        for relative, mode in given.modes.items():
            (self.etc / relative).chmod(mode)
        flags = {"config_path": self.main, **given.flags}
        for key in ("config_path", "textfile_dir"):
            if isinstance(flags.get(key), str):
                flags[key] = Path(self.fill(flags[key]))
        return Overrides(**flags)

    def load(self, given: Given) -> Config:
        """Load the case's configuration."""
        overrides = self.build(given)
        return load_config(overrides, {k: self.fill(v) for k, v in given.environ.items()})

    def refusal(self, given: Given) -> str:
        """Load expecting a refusal, in a thread that must not block; return its message.

        The message is checked to be one line without the canary password.
        """
        outcome: list[str] = []

        def attempt() -> None:
            with pytest.raises(ConfigError) as caught:
                self.load(given)
            outcome.append(str(caught.value))

        worker = threading.Thread(target=attempt, daemon=True)
        worker.start()
        worker.join(FIFO_DEADLINE)
        assert outcome, f"no refusal within {FIFO_DEADLINE} s (blocked on a FIFO, or loaded?)"
        assert "\n" not in outcome[0]
        assert CANARY not in outcome[0]
        return outcome[0]

    def release_fifos(self) -> None:
        """Release a reader still blocked on one of the FIFOs, if the code under test opened one."""
        for fifo in self.fifos:
            with contextlib.suppress(OSError):  # no reader waiting: nothing to release
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    """A fresh world whose FIFOs are released at teardown."""
    made = World(tmp_path)
    yield made
    made.release_fifos()


def assert_refused(world: World, given: Given, expected: str) -> None:
    """The case is refused with the expected message."""
    message = world.refusal(given)
    assert matches(message, world.fill(expected)), f"{message!r} is not {expected!r}"


# --- refusals: the files themselves --------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        case(
            "explicit --config missing",
            None,
            "{tmp}/absent.toml: --config: no such file",
            flags={"config_path": "{tmp}/absent.toml"},
        ),
        case(
            "config under a plain file",
            None,
            "{etc}/file/config.toml: cannot read: Not a directory",
            files={"file": ""},
            flags={"config_path": "{etc}/file/config.toml"},
        ),
        case(
            "directory as config",
            None,
            "{etc} is not a regular file",
            flags={"config_path": "{etc}"},
        ),
        case("FIFO as config", Entry.FIFO, "{main} is not a regular file"),
        case(
            "invalid TOML",
            None,
            "{main}: invalid TOML: …(at line 3, column …",
            fixture="bad/invalid_toml.toml",
        ),
        case("not UTF-8", b'password = "\xff\xfe"\n', "{main}: invalid TOML: not UTF-8 text"),
        case(
            "nested too deeply",
            one("x = " + "[" * 3000 + "]" * 3000),
            "{main}: nested too deeply to be a configuration",
        ),
        case(
            "no targets, discovery off",
            TOP + "discover = false\n",
            "{main}: no targets: add [[target]] to {main}, give --redis-addr"
            " or set discover = true",
        ),
    ],
)
def test_unusable_main_file_is_refused_naming_it(world: World, given: Given, expected: str) -> None:
    """A main file that is absent, not a file, not TOML, absurd or empty is refused by name."""
    assert_refused(world, given, expected)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        case(
            "FIFO entry",
            ONE,
            "{etc}/conf.d/fifo.toml is not a regular file",
            files={"conf.d/fifo.toml": Entry.FIFO},
        ),
        case(
            "directory entry",
            ONE,
            "{etc}/conf.d/dir.toml is not a regular file",
            files={"conf.d/dir.toml": Entry.DIR},
        ),
        case(
            "nested too deeply",
            ONE,
            "{etc}/conf.d/deep.toml: nested too deeply to be a configuration",
            files={"conf.d/deep.toml": "labels = " + "{a = " * 3000 + "1" + "}" * 3000 + "\n"},
        ),
        case(
            "top-level key",
            None,
            "{etc}/conf.d/50-fast.toml: interval: a conf.d file holds only [[target]] tables;"
            " set it in the main file",
            fixture="bad/confd_top_level",
        ),
        case(
            "same name as the main file's",
            None,
            "{etc}/conf.d/20-cache.toml: target 'cache'.name: 'cache' is already used by"
            " target 'cache' in {main}",
            fixture="bad/duplicate_name",
        ),
    ],
)
def test_bad_conf_d_file_is_refused_naming_that_file(
    world: World, given: Given, expected: str
) -> None:
    """A conf.d entry that is no file, is absurd, sets top-level keys or reuses a name is named."""
    assert_refused(world, given, expected)


# --- refusals: top-level settings and their flags ------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        case(
            "interval boolean", "interval = true\n", "{main}: interval: expected a number, got true"
        ),
        case(
            "timeout array", "timeout = [1]\n", "{main}: timeout: expected a number, got an array"
        ),
        case(
            "textfile_dir number",
            "textfile_dir = 1\n",
            "{main}: textfile_dir: expected a string, got 1",
        ),
        case(
            "interval zero",
            "interval = 0\n",
            "{main}: interval: must be a number greater than 0, got 0",
        ),
        case(
            "timeout negative",
            "timeout = -1.5\n",
            "{main}: timeout: must be a number greater than 0, got -1.5",
        ),
        case(
            "interval inf",
            "interval = inf\n",
            "{main}: interval: must be a number greater than 0, got inf",
        ),
        case(
            "target string",
            "target = 'x'\n",
            "{main}: target: expected an array of tables ([[target]]), got 'x'",
        ),
        case(
            "unknown key",
            None,
            "{main}: unknown key 'intervall'; did you mean 'interval'?",
            fixture="bad/unknown_key.toml",
        ),
        case(
            "timeout at interval",
            TOP + "interval = 5\ntimeout = 5\n" + TARGET,
            "{main}: timeout: must be less than interval (5s), got 5",
        ),
        case(
            "textfile_dir NUL",
            'textfile_dir = "text\\u0000file"\n' + TARGET,
            "{main}: textfile_dir: a path must not hold a NUL character",
        ),
        case(
            "textfile_dir missing",
            'textfile_dir = "out"\n' + TARGET,
            "{main}: textfile_dir: {etc}/out does not exist",
        ),
        case(
            "textfile_dir a file",
            'textfile_dir = "out"\n' + TARGET,
            "{main}: textfile_dir: {etc}/out is not a directory",
            files={"out": ""},
        ),
        case(
            "--interval below the file's timeout",
            TOP + "timeout = 4\n" + TARGET,
            "{main}: timeout: must be less than interval (3s), got 4",
            flags={"interval": 3.0},
        ),
        case(
            "--interval zero",
            ONE,
            "--interval: must be a number greater than 0, got 0.0",
            flags={"interval": 0.0},
        ),
        case(
            "--textfile-dir missing",
            ONE,
            "--textfile-dir: {tmp}/missing does not exist",
            flags={"textfile_dir": "{tmp}/missing"},
        ),
    ],
)
def test_bad_top_level_setting_is_refused_naming_the_key(
    world: World, given: Given, expected: str
) -> None:
    """Top-level values are typed, seconds are > 0 and below the interval, textfile_dir usable."""
    assert_refused(world, given, expected)


@pytest.mark.parametrize(
    ("value", "shown"), [('"16M"', "'16M'"), ("0", "0"), ("-1", "-1"), ("1.5", "1.5")]
)
@pytest.mark.parametrize(
    ("where", "main"),
    [
        ("max_scrape_bytes", TOP + "max_scrape_bytes = {value}\n" + TARGET),
        ("target[1].max_scrape_bytes", ONE + "max_scrape_bytes = {value}\n"),
    ],
    ids=["top", "target"],
)
def test_bad_max_scrape_bytes_is_refused_naming_file_and_key(
    world: World, value: str, shown: str, where: str, main: str
) -> None:
    """max_scrape_bytes of the wrong type, zero or negative is refused at either level."""
    expected = f"{{main}}: {where}: expected a whole number greater than 0, got {shown}"
    assert_refused(world, Given(main.replace("{value}", value)), expected)


@pytest.mark.parametrize(
    ("value", "shown"),
    [('"10k"', "'10k'"), ("0", "0"), ("-5", "-5"), ("1e4", "10000.0"), ("true", "true")],
)
@pytest.mark.parametrize(
    ("where", "main"),
    [
        ("max_series", TOP + "max_series = {value}\n" + TARGET),
        ("target[1].max_series", ONE + "max_series = {value}\n"),
        ("max_series_total", TOP + "max_series_total = {value}\n" + TARGET),
    ],
    ids=["max_series top", "max_series target", "max_series_total"],
)
def test_bad_series_budget_is_refused_naming_file_and_key(
    world: World, value: str, shown: str, where: str, main: str
) -> None:
    """A series budget of the wrong type, zero or negative is refused naming file and key."""
    expected = f"{{main}}: {where}: expected a whole number greater than 0, got {shown}"
    assert_refused(world, Given(main.replace("{value}", value)), expected)


def test_max_series_total_is_top_level_only(world: World) -> None:
    """max_series_total in a [[target]] is an unknown key there: it is the whole file's."""
    given = Given(one("max_series_total = 100"))
    assert_refused(world, given, "{main}: target[1]: unknown key 'max_series_total'…")


@pytest.mark.parametrize(
    ("main", "expected"),
    [(ONE, 50_000), (TOP + "max_series_total = 1200\n" + TARGET, 1200)],
    ids=["default 50,000", "set"],
)
def test_max_series_total_is_read_from_the_top_level(
    world: World, main: str, expected: int
) -> None:
    """max_series_total defaults to 50,000 and takes the top level's value."""
    assert world.load(Given(main)).max_series_total == expected


def test_missing_found_textfile_dir_is_named_with_why_it_was_chosen(world: World) -> None:
    """Unset, textfile_dir is what discovery chose; missing, the refusal says how it was chosen."""
    overrides = world.build(Given(TARGET))

    def fallback() -> TextfileDir:
        return TextfileDir(world.tmp / "node_exporter", "the fallback")

    with pytest.raises(ConfigError) as caught:
        load_config(overrides, {}, find_textfile_dir=fallback)

    expected = "{main}: textfile_dir unset: the fallback: {tmp}/node_exporter does not exist"
    assert str(caught.value) == world.fill(expected)


def test_unset_textfile_dir_is_node_exporters_with_the_reason(world: World) -> None:
    """Unset, textfile_dir is the one node_exporter reads, and the configuration says why."""
    overrides = world.build(Given(TARGET))
    chosen = world.etc / "textfile"

    def found() -> TextfileDir:
        return TextfileDir(chosen, "from node_exporter's --collector.textfile.directory (pid 7)")

    cfg = load_config(overrides, {}, find_textfile_dir=found)

    assert cfg.textfile_dir == chosen
    assert cfg.textfile_reason == (
        "textfile_dir unset: from node_exporter's --collector.textfile.directory (pid 7)"
    )


# --- refusals: a target's keys -------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        case(
            "unknown key",
            target('addr = "h"', "label = {}"),
            "{main}: target[1]: unknown key 'label'; did you mean 'labels'?",
        ),
        case(
            "second target's type",
            None,
            "{main}: target[2].timeout: expected a number, got 'abc'",
            fixture="bad/wrong_type.toml",
        ),
        case(
            "named by its name",
            target('name = "cache"', 'addr = "h"', "username = 7"),
            "{main}: target 'cache'.username: expected a string, got 7",
        ),
        case(
            "single table",
            TOP + f'[target]\naddr = "h"\npassword = "{CANARY}"\n',
            "{main}: target: expected an array of tables ([[target]]), got a table",
        ),
        case(
            "password not quoted",
            target('addr = "h"', f'password = ["{CANARY}"]'),
            "{main}: target[1].password: expected a string, got an array",
        ),
        case(
            "missing addr",
            target('name = "cache"'),
            "{main}: target 'cache'.addr: missing; every [[target]] needs one",
        ),
        case(
            "password twice",
            target(f'addr = "redis://:{CANARY}@h"', 'password_file = "pw"'),
            "{main}: target[1].addr: conflicts with password_file; give the password once",
        ),
        case(
            "timeout at interval",
            TOP + "interval = 5\n" + TARGET + "timeout = 7\n",
            "{main}: target[1].timeout: must be less than interval (5s), got 7",
        ),
        case(
            "NUL in password_file",
            one('password_file = "pw\\u0000x"'),
            "{main}: target[1].password_file: a path must not hold a NUL character",
        ),
        case(
            "NUL in lua_scripts",
            one('lua_scripts = ["a\\u0000.lua"]'),
            "{main}: target[1].lua_scripts: a path must not hold a NUL character",
        ),
        case(
            "NUL in unix addr",
            target('addr = "unix:///run/a%00b.sock"'),
            "{main}: target[1].addr: a socket path must not hold a NUL character: unix:///run/a%00b.sock",
        ),
        case(
            "same server twice",
            target('name = "a"', 'addr = "redis://h:6379"')
            + '[[target]]\nname = "b"\naddr = "valkey://h/1"\n',
            "{main}: target 'b'.addr: 'redis://h:6379' is already used by target 'a' in {main}",
        ),
        case(
            "no systemd credentials",
            target('addr = "h"', 'password_credential = "cache"'),
            "{main}: target[1].password_credential: needs systemd's LoadCredential="
            " (CREDENTIALS_DIRECTORY is not set)",
        ),
    ],
)
def test_bad_target_is_refused_naming_the_target_and_key(
    world: World, given: Given, expected: str
) -> None:
    """A target's unknown, mistyped, missing, conflicting or duplicate key names target and key."""
    assert_refused(world, given, expected)


@pytest.mark.parametrize(
    ("line", "expected"),
    first_as_id(
        [
            ('name = "a b"', "name: may hold only letters, digits, '_', '.' and '-', got 'a b'"),
            ('labels = { 1x = "v" }', "labels: '1x' is not a valid label name"),
            ('labels = { addr = "v" }', "labels: 'addr' is reserved: metrics use it already"),
            ('labels = { __meta = "v" }', "labels: '__meta' is reserved: metrics use it already"),
            ('labels = { cmd = "v" }', "labels: 'cmd' is reserved: metrics use it already"),
            ("labels = { env = 1 }", "labels.env: expected a string, got 1"),
            ('labels = "env=prod"', "labels: expected a table, got 'env=prod'"),
            ('config_command = ""', "config_command: must be one word, got ''"),
            ("tls_skip_verify = 1", "tls_skip_verify: expected true or false, got 1"),
            ('password_file = ""', "password_file: must not be empty"),
        ]
    ),
)
def test_bad_target_value_is_refused_naming_the_key(world: World, line: str, expected: str) -> None:
    """Names, labels, config_command and typed keys of a TLS target are checked one by one."""
    given = Given(target('addr = "rediss://h"', line))
    assert_refused(world, given, f"{{main}}: target[1].{expected}")


@pytest.mark.parametrize(
    ("written", "expected"),
    first_as_id(
        [
            (
                "http://127.0.0.1:6379",
                "unsupported scheme 'http', expected redis://, …: http://127.0.0.1:6379",
            ),
            ("redis://:6379", "empty or invalid host: redis://:6379"),
            ("redis://", "empty or invalid host: redis://"),
            ("redis://h:abc", "port must be a number from 1 to 65535: redis://h:abc"),
            ("redis://h:70000", "port must be a number from 1 to 65535: redis://h:70000"),
            ("redis://h:0", "port must be a number from 1 to 65535: redis://h:0"),
            ("redis://[::1", "port must be a number from 1 to 65535: redis://[::1"),
            (
                "redis://h:1/cache",
                "the path may only be a database number such as /0: redis://h:1/cache",
            ),
            (
                "unix://host/run/redis.sock",
                "a unix socket address has no host; write unix:///path/redis.sock: …",
            ),
            (
                "unix:///run/redis/",
                "expected the path of a socket, got a directory: unix:///run/redis/",
            ),
            (
                f"unix://:{CANARY}@run/redis.sock",
                (
                    "a unix socket address has no host; write unix:///path/redis.sock: "
                    "unix://:***@run/redis.sock"
                ),
            ),
            (
                f"redis://h:1/0?password={CANARY}",
                "the only query parameter accepted is db: redis://h:1/0?***",
            ),
            (
                f"redis://user:{CANARY}@h:bad",
                "port must be a number from 1 to 65535: redis://user:***@h:bad",
            ),
        ]
    ),
)
def test_bad_address_is_refused_naming_addr(world: World, written: str, expected: str) -> None:
    """A bad scheme, host, port, path or query is refused, the address shown without secrets."""
    assert_refused(
        world, Given(target(f'addr = "{written}"')), f"{{main}}: target[1].addr: {expected}"
    )


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        case(
            "skip_verify without TLS",
            target('addr = "redis://h"', "tls_skip_verify = true"),
            "tls_skip_verify: needs a TLS addr (rediss:// or valkeys://)",
        ),
        case(
            "CA without TLS",
            target('addr = "h:1"', 'tls_ca_file = "ca.pem"'),
            "tls_ca_file: needs a TLS addr (rediss:// or valkeys://)",
            files={"ca.pem": "pem"},
        ),
        case(
            "cert without key",
            target('addr = "rediss://h"', 'tls_cert_file = "ca.pem"'),
            "tls_key_file: missing; tls_cert_file needs it",
            files={"ca.pem": "pem"},
        ),
        case(
            "key without cert",
            target('addr = "rediss://h"', 'tls_key_file = "ca.pem"'),
            "tls_cert_file: missing; tls_key_file needs it",
            files={"ca.pem": "pem"},
        ),
        case(
            "absent CA",
            target('addr = "rediss://h"', 'tls_ca_file = "absent.pem"'),
            "tls_ca_file: cannot read {etc}/absent.pem: No such file or directory",
        ),
        case(
            "FIFO CA",
            target('addr = "rediss://h:1"', 'tls_ca_file = "ca.pem"'),
            "tls_ca_file: {etc}/ca.pem is not a regular file",
            files={"ca.pem": Entry.FIFO},
        ),
    ],
)
def test_bad_tls_keys_are_refused(world: World, given: Given, expected: str) -> None:
    """tls_* keys need a TLS addr, a cert needs its key and both need readable regular files."""
    assert_refused(world, given, f"{{main}}: target[1].{expected}")


@pytest.mark.parametrize(
    ("line", "expected"),
    first_as_id(
        [
            ('check_keys = "db0=a"', "check_keys: expected a list of strings, got 'db0=a'"),
            (
                'check_keys = ["a=b=c"]',
                "check_keys: 'a=b=c' is not db=pattern; write '=' in a key as %3D",
            ),
            ('check_keys = ["dbx=a"]', "check_keys: 'dbx=a': 'dbx' is not a database like db0"),
            ('count_keys = ["db0="]', "count_keys: 'db0=' has no key or pattern"),
            ('check_key_groups = [""]', "check_key_groups: holds an empty string"),
            (
                "max_distinct_key_groups = 0",
                "max_distinct_key_groups: expected a whole number greater than 0, got 0",
            ),
            (
                "check_keys_batch_size = 1.5",
                "check_keys_batch_size: expected a whole number greater than 0, got 1.5",
            ),
            ("scan_budget = 20", "scan_budget: must be less than interval (15s), got 20"),
            (
                'lua_scripts = ["missing.lua"]',
                "lua_scripts: cannot read {etc}/missing.lua: No such file or directory",
            ),
            ('export_client_list = "yes"', "export_client_list: expected true or false, got 'yes'"),
            ("insight_top_n = 101", "insight_top_n: must be at most 100, got 101"),
            ("insight_top_n = 0", "insight_top_n: expected a whole number greater than 0, got 0"),
        ]
    ),
)
def test_bad_opt_in_value_is_refused_naming_the_key(world: World, line: str, expected: str) -> None:
    """Each malformed opt-in value is refused with the target, the key and the problem."""
    assert_refused(world, Given(one(line)), f"{{main}}: target[1].{expected}")


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        case(
            "missing",
            one('password_file = "pw"'),
            "password_file: cannot read {etc}/pw: No such file or directory",
        ),
        case(
            "directory",
            one('password_file = "pw"'),
            "password_file: {etc}/pw is not a regular file",
            files={"pw": Entry.DIR},
        ),
        case(
            "FIFO",
            one('password_file = "pw"'),
            "password_file: {etc}/pw is not a regular file",
            files={"pw": Entry.FIFO},
        ),
        case(
            "empty",
            one('password_file = "pw"'),
            "password_file: {etc}/pw is empty",
            files={"pw": ""},
        ),
        case(
            "FIFO as a password file",
            one('password_file = "script.lua"'),
            "password_file: {etc}/script.lua is not a regular file",
            files={"script.lua": Entry.FIFO},
        ),
        case(
            "FIFO as a Lua script",
            one('lua_scripts = ["script.lua"]'),
            "lua_scripts: {etc}/script.lua is not a regular file",
            files={"script.lua": Entry.FIFO},
        ),
    ],
)
def test_unusable_file_a_target_names_is_refused(world: World, given: Given, expected: str) -> None:
    """A password file or script that is missing, not a regular file or empty names file and key."""
    assert_refused(world, given, f"{{main}}: target[1].{expected}")


# --- refusals: flags and environment -------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        case(
            "file and variable",
            ONE,
            "REDIS_PASSWORD_FILE: holds a password and so does REDIS_PASSWORD; set only one",
            files={"pw": CANARY},
            environ={
                "REDIS_ADDR": "h:1",
                "REDIS_PASSWORD_FILE": "{etc}/pw",
                "REDIS_PASSWORD": CANARY,
            },
        ),
        case(
            "map to a number",
            ONE,
            "REDIS_PASSWORD_FILE: the JSON map's values must be password strings",
            files={"pw": '{"h:1": 7}'},
            environ={"REDIS_ADDR": "h:1", "REDIS_PASSWORD_FILE": "{etc}/pw"},
        ),
        case(
            "missing file",
            ONE,
            "REDIS_PASSWORD_FILE: cannot read {etc}/pw: No such file or directory",
            environ={"REDIS_ADDR": "h:1", "REDIS_PASSWORD_FILE": "{etc}/pw"},
        ),
        case(
            "password in --redis-addr",
            ONE,
            "--redis-addr: redis://mon:***@h:1: secrets do not belong on the command line, where"
            " any user can read them; use REDIS_PASSWORD or REDIS_PASSWORD_FILE",
            flags={"redis_addrs": (f"redis://mon:{CANARY}@h:1",)},
        ),
        case(
            "bad REDIS_ADDR",
            ONE,
            "REDIS_ADDR: unsupported scheme 'ftp', expected …: ftp://x",
            environ={"REDIS_ADDR": "h:1,ftp://x"},
        ),
        case(
            "one server twice",
            ONE,
            "--redis-addr: addr: 'redis://h:6379' is already used by --redis-addr",
            flags={"redis_addrs": ("h", "redis://h:6379")},
        ),
    ],
)
def test_bad_command_line_target_is_refused_naming_its_source(
    world: World, given: Given, expected: str
) -> None:
    """--redis-addr and REDIS_* values are refused naming the flag or variable, secrets masked."""
    assert_refused(world, given, expected)


class _ExplodingEnviron(dict[str, str]):
    """An environment whose every lookup raises, quoting a secret."""

    def get(self, *_args: object) -> Any:
        raise ValueError(CANARY)


def test_unexpected_exception_becomes_a_refusal_that_quotes_nothing(world: World) -> None:
    """Any other exception while loading is a ConfigError naming the file, not its text."""
    overrides = world.build(Given(ONE))

    with pytest.raises(ConfigError) as caught:
        load_config(overrides, _ExplodingEnviron())

    assert str(caught.value) == f"{world.main}: cannot be loaded (ValueError)"


# --- what loads ----------------------------------------------------------------------------


def test_good_config_reads_main_file_then_confd(world: World) -> None:
    """The main file's targets come first, then conf.d's, with every key applied."""
    cfg = world.load(Given(fixture="good"))

    path, etc = world.main, world.etc
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


def test_missing_default_config_uses_embedded_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without a config file the defaults apply: 15 s interval, 5 s timeout, port 6379."""
    default = tmp_path / "etc" / "config.toml"
    monkeypatch.setattr(loading, "DEFAULT_CONFIG_PATH", default)

    cfg = load_config(Overrides(redis_addrs=("localhost",), textfile_dir=tmp_path), {})

    assert (cfg.interval, cfg.timeout, cfg.config_path) == (15.0, 5.0, default)
    assert cfg.watched_paths == (default, default.parent / "conf.d")
    assert cfg.targets == (
        Target(
            name="localhost_6379", addr="redis://localhost:6379", timeout=5.0, source="--redis-addr"
        ),
    )


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        case(
            "conf.d in name order, hidden and other files skipped",
            TOP,
            [
                ("a_1", "redis://a:1", "{etc}/conf.d/10-a.toml"),
                ("b_1", "redis://b:1", "{etc}/conf.d/20-b.toml"),
            ],
            files={
                "conf.d/20-b.toml": '[[target]]\naddr = "b:1"\n',
                "conf.d/10-a.toml": '[[target]]\naddr = "a:1"\n',
                "conf.d/.#10-a.toml": "not toml at all [",
                "conf.d/notes.txt": "not toml at all [",
            },
        ),
        case(
            "REDIS_ADDR replaces the files' targets",
            None,
            [("a_1", "redis://a:1", "REDIS_ADDR"), ("b_2", "redis://b:2", "REDIS_ADDR")],
            fixture="good",
            environ={"REDIS_ADDR": "a:1, redis://b:2"},
        ),
        case(
            "--redis-addr wins over REDIS_ADDR",
            ONE,
            [("flag_1", "redis://flag:1", "--redis-addr")],
            environ={"REDIS_ADDR": "env:1"},
            flags={"redis_addrs": ("flag:1",)},
        ),
        case(
            "--redis-addr leaves conf.d unread",
            ONE,
            [("h_1", "redis://h:1", "--redis-addr")],
            files={"conf.d/bad.toml": "[[target]\n"},
            flags={"redis_addrs": ("h:1",)},
        ),
    ],
)
def test_targets_come_from_files_or_else_the_command_line(
    world: World, given: Given, expected: list[tuple[str, str, str]]
) -> None:
    """Files give targets in order; --redis-addr, else REDIS_ADDR, replaces them all."""
    targets = world.load(given).targets

    assert [(t.name, t.addr, t.source) for t in targets] == [
        (name, addr, world.fill(source)) for name, addr, source in expected
    ]


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
    world: World, written: str, addr: str, name: str
) -> None:
    """Every accepted spelling becomes a canonical addr, and the name derives from it."""
    (loaded,) = world.load(Given(target(f'addr = "{written}"'))).targets

    assert (loaded.addr, loaded.name, loaded.tls) == (addr, name, None)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        case(
            "--interval shrinks the unset timeout",
            ONE,
            ("{etc}/textfile", 2.0, 1.0, [1.0]),
            flags={"interval": 2.0},
        ),
        case(
            "--textfile-dir replaces the file's",
            target("addr = 'h:1'", top='textfile_dir = "missing"\n'),
            ("{tmp}", 15.0, 5.0, [5.0]),
            flags={"textfile_dir": "{tmp}"},
        ),
        case(
            "the file's own",
            target("addr = 'h:1'", "timeout = 2", top=TOP + "interval = 9\ntimeout = 4\n"),
            ("{etc}/textfile", 9.0, 4.0, [2.0]),
        ),
    ],
)
def test_top_level_settings_come_from_the_file_and_flags(
    world: World, given: Given, expected: tuple[str, float, float, list[float]]
) -> None:
    """textfile_dir, interval and timeout come from the file, flags win, a target's timeout wins."""
    cfg = world.load(given)

    textfile_dir, interval, timeout, timeouts = expected
    assert (cfg.textfile_dir, cfg.interval, cfg.timeout) == (
        Path(world.fill(textfile_dir)),
        interval,
        timeout,
    )
    assert [t.timeout for t in cfg.targets] == timeouts


TWO = '[[target]]\naddr = "h:1"\n[[target]]\naddr = "h:2"\n'


@pytest.mark.parametrize(
    ("given", "attribute", "expected"),
    [
        pytest.param(
            Given(
                target(
                    'addr = "h"', 'config_command = "CFG"', top=TOP + 'config_command = "RENAMED"\n'
                )
            ),
            "config_command",
            ["CFG"],
            id="config_command: the target's own",
        ),
        pytest.param(
            Given(target('addr = "h"', top=TOP + 'config_command = "RENAMED"\n')),
            "config_command",
            ["RENAMED"],
            id="config_command: the top level's",
        ),
        pytest.param(
            Given(
                TOP + "include_config_metrics = true\n" + TWO + "include_config_metrics = false\n"
            ),
            "options.include_config_metrics",
            [True, False],
            id="include_config_metrics",
        ),
        pytest.param(
            Given(TOP + 'count_keys = ["q:*"]\n' + TWO + "include_config_metrics = false\n"),
            "options.count_keys",
            [(KeyPattern(0, "q:*"),)] * 2,
            id="count_keys",
        ),
        pytest.param(
            Given(ONE),
            "options.max_scrape_bytes",
            [16 * 1024 * 1024],
            id="max_scrape_bytes: 16 MiB",
        ),
        pytest.param(
            Given(
                TOP + "max_scrape_bytes = 1000000\n" + TWO + "max_scrape_bytes = 2048\n",
                files={"conf.d/more.toml": '[[target]]\naddr = "h:3"\n'},
            ),
            "options.max_scrape_bytes",
            [1_000_000, 2048, 1_000_000],
            id="max_scrape_bytes: conf.d too",
        ),
        pytest.param(
            Given(TOP + "max_scrape_bytes = 4096\n", flags={"redis_addrs": ("h:1",)}),
            "options.max_scrape_bytes",
            [4096],
            id="max_scrape_bytes: --redis-addr too",
        ),
        pytest.param(Given(ONE), "options.max_series", [10_000], id="max_series: 10,000"),
        pytest.param(
            Given(
                TOP + "max_series = 3000\n" + TWO + "max_series = 200\n",
                files={"conf.d/more.toml": '[[target]]\naddr = "h:3"\nmax_series = 7\n'},
            ),
            "options.max_series",
            [3000, 200, 7],
            id="max_series: top level, own, conf.d",
        ),
    ],
)
def test_top_level_values_are_every_targets_default(
    world: World, given: Given, attribute: str, expected: list[object]
) -> None:
    """A top-level value applies to every target, wherever from, unless it sets its own."""
    targets = world.load(given).targets

    assert [attrgetter(attribute)(t) for t in targets] == expected


def test_opt_in_families_parse_with_redis_exporters_syntax(world: World) -> None:
    """check_keys and friends take redis_exporter's db=pattern strings; lua scripts are read."""
    given = Given(
        one(
            'check_keys = ["db3=session:*", "user:%3Dodd"]',
            'count_keys = ["db1=queue:*"]',
            'check_key_groups = ["^(.*)_[^_]+$"]',
            "max_distinct_key_groups = 5",
            "scan_budget = 0.5",
            'lua_scripts = ["queue.lua"]',
            "export_client_list = true",
        ),
        files={"queue.lua": "return {'depth', '3'}\n"},
    )

    (loaded,) = world.load(given).targets

    assert loaded.options == Options(
        check_keys=(KeyPattern(3, "session:*"), KeyPattern(0, "user:=odd")),
        count_keys=(KeyPattern(1, "queue:*"),),
        check_key_groups=("^(.*)_[^_]+$",),
        max_distinct_key_groups=5,
        scan_budget=0.5,
        lua_scripts=(LuaScript(world.etc / "queue.lua", "return {'depth', '3'}\n"),),
        export_client_list=True,
    )
    assert loaded.options.lua_scripts[0].source == "return {'depth', '3'}\n"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        case(
            "rediss:// with tls_* files",
            target(
                'addr = "rediss://h:6380"',
                'tls_ca_file = "ca.pem"',
                'tls_cert_file = "client.pem"',
                'tls_key_file = "client.key"',
                "tls_skip_verify = true",
            ),
            (
                "rediss://h:6380",
                Tls(Path("ca.pem"), Path("client.pem"), Path("client.key"), skip_verify=True),
            ),
            files={"ca.pem": "pem", "client.pem": "pem", "client.key": "pem"},
        ),
        case(
            "valkeys:// without tls_* keys",
            target('addr = "valkeys://h"'),
            ("rediss://h:6379", Tls()),
        ),
    ],
)
def test_tls_addr_carries_its_tls_files(
    world: World, given: Given, expected: tuple[str, Tls]
) -> None:
    """A TLS addr gets a Tls value from the tls_* keys, paths relative to the file naming them."""
    (loaded,) = world.load(given).targets

    addr, tls = expected

    def under_etc(path: Path | None) -> Path | None:
        return None if path is None else world.etc / path

    files = Tls(under_etc(tls.ca_file), under_etc(tls.cert_file), under_etc(tls.key_file))
    assert (loaded.addr, loaded.tls) == (
        addr,
        dataclasses.replace(files, skip_verify=tls.skip_verify),
    )


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        case(
            "user and password in a file's addr",
            target(f'addr = "redis://monitor:{CANARY}@h:1/0"'),
            [("redis://h:1", "monitor", CANARY)],
        ),
        case(
            "password in a unix addr",
            target(f'addr = "unix://:{CANARY}@/run/r.sock"'),
            [("unix:///run/r.sock", None, CANARY)],
        ),
        case(
            "password_file, one newline off",
            target('addr = "h"', 'password_file = "pw"'),
            [("redis://h:6379", None, f" {CANARY}\n")],
            files={"pw": f" {CANARY}\n\n"},
        ),
        case(
            "password_credential",
            target('addr = "h"', 'password_credential = "cache"'),
            [("redis://h:6379", None, CANARY)],
            files={"credentials/cache": f"{CANARY}\n"},
            environ={"CREDENTIALS_DIRECTORY": "{etc}/credentials"},
        ),
        case(
            "REDIS_USER/PASSWORD not for file targets",
            ONE,
            [("redis://127.0.0.1:6379", None, None)],
            environ={"REDIS_USER": "mon", "REDIS_PASSWORD": CANARY},
        ),
        case(
            "REDIS_ADDR with REDIS_USER/PASSWORD",
            ONE,
            [("redis://a:1", "mon", CANARY), ("redis://b:2", "mon", CANARY)],
            environ={
                "REDIS_ADDR": "a:1, redis://b:2",
                "REDIS_USER": "mon",
                "REDIS_PASSWORD": CANARY,
            },
        ),
        case(
            "REDIS_PASSWORD_FILE holding a password",
            ONE,
            [("redis://h:1", None, CANARY)],
            files={"pw": f"{CANARY}\n"},
            environ={"REDIS_ADDR": "h:1", "REDIS_PASSWORD_FILE": "{etc}/pw"},
        ),
        case(
            "REDIS_PASSWORD_FILE holding a map",
            ONE,
            [
                ("redis://a:1", None, "pw-a"),
                ("redis://b:2", None, "pw-b"),
                ("redis://c:3", None, "fallback"),
            ],
            files={"pw.json": json.dumps({"redis://a:1/": "pw-a", "b:2": "pw-b"})},
            environ={
                "REDIS_ADDR": "redis://a:1,b:2,c:3",
                "REDIS_PASSWORD_FILE": "{etc}/pw.json",
                "REDIS_PASSWORD": "fallback",
            },
        ),
        case(
            "a user name in --redis-addr",
            ONE,
            [("redis://h:1", "mon", None)],
            environ={"REDIS_USER": "env"},
            flags={"redis_addrs": ("redis://mon@h:1",)},
        ),
        case(
            "a password in REDIS_ADDR",
            ONE,
            [("redis://h:1", None, CANARY)],
            environ={"REDIS_ADDR": f"redis://:{CANARY}@h:1"},
        ),
    ],
)
def test_credentials_come_from_one_place_and_leave_the_addr(
    world: World, given: Given, expected: list[tuple[str, str | None, str | None]]
) -> None:
    """User and password come from the addr, a file, a credential or REDIS_*, never kept in addr."""
    targets = world.load(given).targets

    assert [(t.addr, t.username, t.password) for t in targets] == [
        (addr, user, None if password is None else Secret(password))
        for addr, user, password in expected
    ]


def test_command_line_targets_take_the_files_top_level_values(world: World) -> None:
    """REDIS_ADDR targets are whole Targets with the file's timeout and the variable as source."""
    environ = {"REDIS_ADDR": "a:1", "REDIS_USER": "mon", "REDIS_PASSWORD": CANARY}

    cfg = world.load(Given(fixture="good", environ=environ))

    assert cfg.targets == (
        Target(
            name="a_1",
            addr="redis://a:1",
            timeout=10.0,
            username="mon",
            password=Secret(CANARY),
            source="REDIS_ADDR",
        ),
    )


def test_secrets_never_show_in_the_config_repr(world: World) -> None:
    """Neither repr nor str of a loaded configuration contains a password."""
    cfg = world.load(Given(target('addr = "h"', f'password = "{CANARY}"')))

    assert cfg.targets[0].password == Secret(CANARY)
    assert CANARY not in repr(cfg)
    assert CANARY not in str(cfg)


def test_exclude_latency_histogram_metrics_drops_both_latency_commands() -> None:
    """As redis_exporter's flag does: neither LATENCY LATEST nor LATENCY HISTOGRAM is sent."""
    from textfile_redis.commands import ServerFeatures, cycle_commands  # noqa: PLC0415

    features = ServerFeatures(latency_histogram=True)
    loud = Target(name="t", addr="redis://h:6379", timeout=1.0)
    quiet = Target(
        name="t",
        addr="redis://h:6379",
        timeout=1.0,
        options=Options(exclude_latency_histogram_metrics=True),
    )

    assert {"latency_latest", "latency_histogram"} <= set(cycle_commands(loud, features))
    assert not {"latency_latest", "latency_histogram"} & set(cycle_commands(quiet, features))


# --- owner ids -----------------------------------------------------------------------------


def test_owner_is_a_short_hash_of_the_resolved_config_path(world: World) -> None:
    """The owner id is the hash of the resolved path, as in earlier releases, through symlinks."""
    owner = world.load(Given(ONE)).owner
    link = world.etc / "link.toml"
    link.symlink_to(world.main)

    assert owner == hashlib.sha256(os.fsencode(world.main.resolve())).hexdigest()[:12]
    assert load_config(Overrides(config_path=link), {}).owner == owner == config_owner(world.main)


def test_command_line_targets_get_an_owner_id_of_their_own(world: World) -> None:
    """--redis-addr instances sharing a config path and directory get distinct owner ids."""
    world.build(Given(TOP))
    other_dir = world.tmp / "elsewhere"
    other_dir.mkdir()

    def owner(*addrs: str, textfile_dir: Path | None = None) -> str:
        overrides = Overrides(world.main, textfile_dir=textfile_dir, redis_addrs=addrs)
        return load_config(overrides, {}).owner

    a, b, ab = owner("a:1"), owner("b:1"), owner("a:1", "b:1")

    assert len({a, b, ab, owner("a:1", textfile_dir=other_dir), owner("h:1")}) == 5
    assert config_owner(world.main) not in {a, b, ab}
    assert a == command_line_owner(world.main, world.etc / "textfile", ["redis://a:1"])


def test_command_line_owner_ignores_spelling_order_and_secrets(world: World) -> None:
    """Same servers, same directory: same owner, however written, ordered or authenticated."""
    world.build(Given(TOP))

    flags = Overrides(world.main, redis_addrs=("b:1", "redis://a:1"))
    env = {"REDIS_ADDR": "a:1,b:1", "REDIS_PASSWORD": CANARY}
    cleanup = Overrides(world.main, redis_addrs=("a:1", "b:1"))

    assert (
        load_config(flags, {}).owner
        == load_config(Overrides(world.main), env).owner
        == load_config(cleanup, {}, read_secrets=False, allow_no_targets=True).owner
    )


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
    ("given", "expected"),
    [
        case(
            "password key",
            one(f'password = "{CANARY}"'),
            ["config.toml"],
            modes={"config.toml": 0o644},
        ),
        case(
            "password in addr",
            target(f'addr = "redis://:{CANARY}@h:1"'),
            ["config.toml"],
            modes={"config.toml": 0o644},
        ),
        case(
            "only the conf.d file holding one",
            TOP,
            ["conf.d/secret.toml"],
            files={
                "conf.d/secret.toml": f'[[target]]\naddr = "h:1"\npassword = "{CANARY}"\n',
                "conf.d/plain.toml": '[[target]]\naddr = "h:2"\n',
            },
            modes={"config.toml": 0o644, "conf.d/secret.toml": 0o604, "conf.d/plain.toml": 0o644},
        ),
        case("not world-readable", one(f'password = "{CANARY}"'), [], modes={"config.toml": 0o640}),
        case(
            "password in another file",
            one('password_file = "pw"'),
            [],
            files={"pw": CANARY},
            modes={"config.toml": 0o644, "pw": 0o644},
        ),
        case("no password", ONE, [], modes={"config.toml": 0o644}),
    ],
)
def test_world_readable_file_holding_a_password_is_named_in_a_warning(
    world: World, given: Given, expected: list[str]
) -> None:
    """Each file every user may read that holds a password gives one warning naming it, not it."""
    warnings = world.load(given).warnings

    paths = [world.etc / name for name in expected]
    assert list(warnings) == [
        f"{path} holds a password and every user may read it: chmod o-r {path}" for path in paths
    ]
    assert not any(CANARY in warning for warning in warnings)


# --- discovery: its switch, its interval, its filters and [[credential]] tables ------------

CREDENTIAL = '[[credential]]\nmatch = "6379"\n'


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        case(
            "discover string",
            TOP + 'discover = "yes"\n',
            "{main}: discover: expected true or false, got 'yes'",
        ),
        case(
            "discover_interval boolean",
            TOP + "discover_interval = true\n",
            "{main}: discover_interval: expected a number, got true",
        ),
        case(
            "discover_interval below interval",
            TOP + "interval = 10\ndiscover_interval = 5\n",
            "{main}: discover_interval: must be at least interval (10s), got 5",
        ),
        case(
            "discover_only a string",
            TOP + 'discover_only = "6379"\n',
            "{main}: discover_only: expected a list of strings, got '6379'",
        ),
        case(
            "discover_exclude port too high",
            TOP + 'discover_exclude = ["70000"]\n',
            "{main}: discover_exclude: port must be from 1 to 65535, got 70000",
        ),
        case(
            "discover_only neither name nor address",
            TOP + 'discover_only = ["a b"]\n',
            "{main}: discover_only: expected a port, a socket path, an address or a discovered"
            " name, got 'a b'",
        ),
        case(
            "credential a string",
            TOP + 'credential = "x"\n',
            "{main}: credential: expected an array of tables ([[credential]]), got 'x'",
        ),
        case(
            "credential with an inline password",
            TOP + CREDENTIAL + f'password = "{CANARY}"\n',
            "{main}: credential[1]: unknown key 'password'; did you mean 'password_file'?",
        ),
        case(
            "credential without match",
            TOP + '[[credential]]\npassword_file = "pw"\n',
            "{main}: credential[1].match: missing; every [[credential]] needs one",
        ),
        case(
            "credential match an integer",
            TOP + '[[credential]]\nmatch = 6379\npassword_file = "pw"\n',
            "{main}: credential[1].match: expected a string, got 6379",
        ),
        case(
            "credential without a password",
            TOP + CREDENTIAL + 'username = "monitor"\n',
            "{main}: credential[1].password_file: missing; a [[credential]] needs password_file"
            " or password_credential",
        ),
        case(
            "credential username a number",
            TOP + CREDENTIAL + 'username = 1\npassword_file = "pw"\n',
            "{main}: credential[1].username: expected a string, got 1",
            files={"pw": CANARY},
        ),
        case(
            "credential password_file missing",
            TOP + CREDENTIAL + 'password_file = "absent"\n',
            "{main}: credential[1].password_file: cannot read {etc}/absent: No such file or"
            " directory",
        ),
        case(
            "credential password twice",
            TOP + CREDENTIAL + 'password_file = "pw"\npassword_credential = "pw"\n',
            "{main}: credential[1].password_credential: conflicts with password_file; give the"
            " password once",
            files={"pw": CANARY},
            environ={"CREDENTIALS_DIRECTORY": "{etc}"},
        ),
        case(
            "credential match used twice",
            TOP + (CREDENTIAL + 'password_file = "pw"\n') * 2,
            "{main}: credential[2].match: '6379' is already used by credential[1] in {main}",
            files={"pw": CANARY},
        ),
        case(
            "credential match holding a password",
            TOP
            + f'[[credential]]\nmatch = "redis://:{CANARY}@127.0.0.1:6379"\npassword_file = "pw"\n',
            "{main}: credential[1].match: names a server, not how to log in: use username and"
            " password_file",
            files={"pw": CANARY},
        ),
        case(
            "credential match of an unknown scheme",
            TOP + '[[credential]]\nmatch = "http://h:1"\npassword_file = "pw"\n',
            "{main}: credential[1].match: unsupported scheme 'http', expected …: http://h:1",
            files={"pw": CANARY},
        ),
        case(
            "credential checked with discovery off",
            TOP + "discover = false\n" + TARGET + "[[credential]]\nmatch = 1\n",
            "{main}: credential[1].match: expected a string, got 1",
        ),
    ],
)
def test_bad_discovery_setting_is_refused_naming_file_and_key(
    world: World, given: Given, expected: str
) -> None:
    """discover, discover_interval, the filters and [[credential]] tables are typed and checked."""
    assert_refused(world, given, expected)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        case("no target: on by default", TOP, ("no target configured", 60.0)),
        case("a target: off by default", ONE, None),
        case("a conf.d target: off by default", TOP, None, files={"conf.d/a.toml": TARGET}),
        case("--redis-addr: off by default", TOP, None, flags={"redis_addrs": ("h:1",)}),
        case("REDIS_ADDR: off by default", TOP, None, environ={"REDIS_ADDR": "h:1"}),
        case(
            "discover = true wins over a target",
            TOP + "discover = true\n" + TARGET,
            ("discover = true in {main}", 60.0),
        ),
        case("at least 30 s", TOP + "interval = 5\n", ("no target configured", 30.0)),
        case("four intervals", TOP + "interval = 10\n", ("no target configured", 40.0)),
        case("its own interval", TOP + "discover_interval = 20\n", ("no target configured", 20.0)),
    ],
)
def test_discovery_is_on_without_targets_and_an_explicit_setting_wins(
    world: World, given: Given, expected: tuple[str, float] | None
) -> None:
    """Unset, discover is on when no target is named; it looks every 4 intervals, at least 30 s."""
    discovery = world.load(given).discovery

    if expected is None:
        assert discovery is None
    else:
        assert discovery is not None
        assert (discovery.reason, discovery.interval) == (world.fill(expected[0]), expected[1])


def test_credentials_and_filters_are_read_in_normal_form(world: World) -> None:
    """Matches are kept normalised (ports, paths, addresses, names); passwords read once."""
    main = TOP + 'discover_only = ["6379", "localhost:6380"]\ndiscover_exclude = ["sentinel"]\n'
    for match in ("06379", "/run/redis/redis-server.sock", "valkey://127.0.0.1:7000", "cache"):
        main += f'[[credential]]\nmatch = "{match}"\nusername = "mon"\npassword_file = "pw"\n'

    discovery = world.load(Given(main, files={"pw": CANARY + "\n"})).discovery

    assert discovery is not None
    assert (discovery.only, discovery.exclude) == (
        ("6379", "redis://localhost:6380"),
        ("sentinel",),
    )
    assert [(c.match, c.username, c.password) for c in discovery.credentials] == [
        (match, "mon", Secret(CANARY))
        for match in ("6379", "/run/redis/redis-server.sock", "redis://127.0.0.1:7000", "cache")
    ]
    assert CANARY not in repr(discovery)


# --- discovered servers as targets ---------------------------------------------------------


def server(
    addr: str, name: str = "", *, needs_credential: bool = False, other_addrs: tuple[str, ...] = ()
) -> Server:
    """A server as discover() reports one."""
    name = name or addr.rpartition(":")[2]
    return Server(name, addr, "primary", ("title (pid 1)",), needs_credential, other_addrs)


SOCKET = "unix:///run/redis/redis-server.sock"


def discovering(world: World, *lines: str, files: Mapping[str, Content] | None = None) -> Config:
    """A configuration with discovery on, the main file's lines added."""
    main = TOP + "discover = true\ntimeout = 2\ncheck_keys = ['db0=a*']\n"
    return world.load(Given(main + "".join(f"{line}\n" for line in lines), files=files or {}))


@pytest.mark.parametrize(
    ("configured", "found"),
    [
        ("redis://127.0.0.1:6379", server("redis://127.0.0.1:6379")),
        ("localhost:6379", server("redis://127.0.0.1:6379")),
        ("redis://[::1]:6379", server("redis://[::1]:6379")),
        (SOCKET, server("redis://127.0.0.1:6379", other_addrs=(SOCKET,))),
        (
            "redis://127.0.0.1:6379",
            server(SOCKET, "redis-server", other_addrs=("redis://127.0.0.1:6379",)),
        ),
    ],
)
def test_a_configured_target_wins_over_the_same_server_discovered(
    world: World, configured: str, found: Server
) -> None:
    """A server a target already names (by its address or any other) gets no second target."""
    cfg = discovering(world, f'[[target]]\nname = "mine"\naddr = "{configured}"')

    assert [t.name for t in with_servers(cfg, [found]).targets] == ["mine"]


def test_discovered_servers_become_targets_with_the_top_level_defaults(world: World) -> None:
    """A discovered server is a Target named as found, inheriting timeout, options and owner."""
    cfg = discovering(world, 'config_command = "CFG"')

    merged = with_servers(
        cfg, [server("redis://127.0.0.1:6380"), server("rediss://127.0.0.1:6390")]
    )

    assert merged.owner == cfg.owner
    assert merged.targets == (
        Target(
            name="6380",
            addr="redis://127.0.0.1:6380",
            timeout=2.0,
            config_command="CFG",
            options=Options(check_keys=(KeyPattern(0, "a*"),)),
            source=DISCOVERED,
        ),
        Target(
            name="6390",
            addr="rediss://127.0.0.1:6390",
            timeout=2.0,
            tls=Tls(),
            config_command="CFG",
            options=Options(check_keys=(KeyPattern(0, "a*"),)),
            source=DISCOVERED,
        ),
    )
    assert discovered(merged) == list(merged.targets)
    assert with_servers(merged, []).targets == ()


@pytest.mark.parametrize(
    "match",
    ["6379", "redis-server", "/run/redis/redis-server.sock", "127.0.0.1:6379", "localhost:6379"],
)
def test_a_credential_matches_a_discovered_server_by_any_of_its_names(
    world: World, match: str
) -> None:
    """A [[credential]] matching a server's name, port, socket or address gives it its login."""
    cfg = discovering(
        world,
        f'[[credential]]\nmatch = "{match}"\nusername = "mon"\npassword_file = "pw"',
        files={"pw": CANARY},
    )
    found = server(
        "redis://127.0.0.1:6379", "redis-server", needs_credential=True, other_addrs=(SOCKET,)
    )

    (merged,) = with_servers(cfg, [found]).targets

    assert (merged.username, merged.password, merged.advice) == ("mon", Secret(CANARY), "")


def test_a_server_needing_a_credential_without_one_is_told_what_to_add(world: World) -> None:
    """Without a matching [[credential]] the target has no password, and advice naming it."""
    cfg = discovering(
        world, '[[credential]]\nmatch = "7000"\npassword_file = "pw"', files={"pw": CANARY}
    )

    (merged,) = with_servers(cfg, [server("redis://127.0.0.1:6379", needs_credential=True)]).targets

    assert merged.password is None
    assert merged.advice == (
        "it needs a credential: add a [[credential]] with match = '6379' and password_file or"
        " password_credential"
    )


@pytest.mark.parametrize(
    ("lines", "names"),
    [
        ([], ["6379", "6380", "redis-server"]),
        (['discover_only = ["6380", "/run/redis/redis-server.sock"]'], ["6380", "redis-server"]),
        (['discover_exclude = ["redis://localhost:6379", "redis-server"]'], ["6380"]),
        (['discover_only = ["6379", "6380"]', 'discover_exclude = ["6380"]'], ["6379"]),
    ],
)
def test_discover_only_and_exclude_choose_servers(
    world: World, lines: list[str], names: list[str]
) -> None:
    """discover_only keeps the servers it matches, discover_exclude drops those it matches."""
    cfg = discovering(world, *lines)
    found = [
        server("redis://127.0.0.1:6379"),
        server("redis://127.0.0.1:6380"),
        server(SOCKET, "redis-server"),
    ]

    assert [t.name for t in with_servers(cfg, found).targets] == names


def test_a_discovered_name_a_target_holds_becomes_the_full_address_name(world: World) -> None:
    """A configured target named like a discovered server on another address keeps its name."""
    cfg = discovering(world, '[[target]]\nname = "6379"\naddr = "redis://10.0.0.1:6379"')

    merged = with_servers(cfg, [server("redis://127.0.0.1:6379")])

    assert [(t.name, t.addr) for t in merged.targets] == [
        ("6379", "redis://10.0.0.1:6379"),
        ("127_0_0_1_6379", "redis://127.0.0.1:6379"),
    ]


def test_with_discovery_off_no_server_becomes_a_target(world: World) -> None:
    """A configuration with discovery off takes no discovered server."""
    cfg = world.load(Given(ONE))

    assert with_servers(cfg, [server("redis://127.0.0.1:6380")]).targets == cfg.targets
