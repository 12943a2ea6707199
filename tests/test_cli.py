"""The command line's contract: exit codes, one-line errors on stderr, never a traceback."""

from __future__ import annotations

import signal
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest

from tests.support.daemon import PRODUCT_ENV
from textfile_redis.cli import main, reloader
from textfile_redis.config import Overrides, load_config
from textfile_redis.discover import TextfileDir

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path


@dataclass(frozen=True, slots=True)
class Ran:
    """How a command ended: exit status and what it printed."""

    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Callable[..., Ran]:
    """Run the command line in this process, as a shell would see it: status, stdout, stderr.

    The product's environment variables are cleared, and the signal handlers that one-shot
    commands install are put back afterwards.
    """
    for name in PRODUCT_ENV:
        monkeypatch.delenv(name, raising=False)

    def run(*argv: str) -> Ran:
        capsys.readouterr()
        handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
        try:
            status = main(list(argv))
        except SystemExit as exited:  # argparse: usage errors, --help, --version
            status = exited.code if isinstance(exited.code, int) else 1
        finally:
            for signum, handler in handlers.items():
                signal.signal(signum, handler)
        out, err = capsys.readouterr()
        return Ran(status, out, err)

    return run


BAD_CONFIGS = {
    "unknown_key": ('textfile_dir = "{dir}"\nintervall = 5\n', "intervall"),
    "wrong_type": ('textfile_dir = "{dir}"\ninterval = "often"\n', "interval"),
    "timeout_not_below_interval": (
        'textfile_dir = "{dir}"\ninterval = 5\ntimeout = 5\n[[target]]\naddr = "h:1"\n',
        "timeout",
    ),
    "bad_url": ('textfile_dir = "{dir}"\n[[target]]\naddr = "http://h:1"\n', "addr"),
    "bad_port": ('textfile_dir = "{dir}"\n[[target]]\naddr = "redis://h:99999"\n', "addr"),
    "duplicate_name": (
        (
            'textfile_dir = "{dir}"\n[[target]]\nname = "a"\naddr = "h:1"\n'
            '[[target]]\nname = "a"\naddr = "h:2"\n'
        ),
        "name",
    ),
    "unreadable_password_file": (
        'textfile_dir = "{dir}"\n[[target]]\naddr = "h:1"\npassword_file = "/no/such/file"\n',
        "password_file",
    ),
    "textfile_dir_missing": (
        'textfile_dir = "/no/such/dir"\n[[target]]\naddr = "h:1"\n',
        "textfile_dir",
    ),
    "invalid_toml": ("textfile_dir = \n", "invalid TOML"),
}


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
@pytest.mark.parametrize("command", ["once", "check", "run"])
def test_bad_config_exits_78_with_one_line_naming_file_and_key(
    cli: Callable[..., Ran], tmp_path: Path, case: str, command: str
) -> None:
    """Every kind of bad configuration gives exit 78 and one stderr line naming file and key."""
    text, key = BAD_CONFIGS[case]
    path = tmp_path / "config.toml"
    path.write_text(text.format(dir=tmp_path))
    result = cli(command, "--config", str(path))
    assert result.returncode == 78
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert str(path) in lines[0]
    assert key in lines[0]
    assert "Traceback" not in result.stderr


def test_password_on_the_command_line_is_refused_without_echo(
    cli: Callable[..., Ran], tmp_path: Path
) -> None:
    """A password in --redis-addr is refused (exit 78) and never repeated in the message."""
    result = cli(
        "once", "--redis-addr", "redis://:hunter2@127.0.0.1:1", "--textfile-dir", str(tmp_path)
    )
    assert result.returncode == 78
    assert "hunter2" not in result.stderr
    assert "REDIS_PASSWORD" in result.stderr


def test_usage_error_exits_2(cli: Callable[..., Ran], tmp_path: Path) -> None:
    """An unknown option or a missing command is a usage error: exit 2."""
    assert cli("once", "--no-such-option").returncode == 2
    assert cli().returncode == 2
    assert cli("once", "--interval", "-1", "--textfile-dir", str(tmp_path)).returncode == 2


def test_check_validates_without_connecting(cli: Callable[..., Ran], tmp_path: Path) -> None:
    """`check` accepts a valid configuration even when its server is down, exit 0."""
    path = tmp_path / "config.toml"
    path.write_text(f'textfile_dir = "{tmp_path}"\n[[target]]\naddr = "127.0.0.1:1"\n')
    result = cli("check", "--config", str(path))
    assert result.returncode == 0, result.stderr
    assert "1 target" in result.stdout


def test_check_connect_reports_each_target(cli: Callable[..., Ran], tmp_path: Path) -> None:
    """`check --connect` tries every target and exits 1 naming the one that is down."""
    path = tmp_path / "config.toml"
    path.write_text(
        f'textfile_dir = "{tmp_path}"\ntimeout = 1\n'
        '[[target]]\nname = "down"\naddr = "127.0.0.1:1"\n'
    )
    result = cli("check", "--connect", "--config", str(path))
    assert result.returncode == 1
    assert "target down" in result.stdout
    assert "Connection refused" in result.stdout


def test_cleanup_removes_only_this_configurations_files(
    cli: Callable[..., Ran], tmp_path: Path
) -> None:
    """`cleanup` removes the files this configuration wrote and nothing else."""
    path = tmp_path / "config.toml"
    path.write_text(
        f'textfile_dir = "{tmp_path}"\n[[target]]\nname = "down"\naddr = "127.0.0.1:1"\n'
    )
    assert cli("once", "--config", str(path)).returncode == 1
    (tmp_path / "node.prom").write_text("node_x 1\n")
    (tmp_path / "redis_other.prom").write_text("# textfile-redis owner=ffffffffffff target=x\n")
    result = cli("cleanup", "--config", str(path))
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in tmp_path.glob("*.prom")) == ["node.prom", "redis_other.prom"]


def test_json_logs_are_one_object_per_line(cli: Callable[..., Ran], tmp_path: Path) -> None:
    """--log-format json writes parseable lines with level and message."""
    import json  # noqa: PLC0415 - only this test parses JSON

    result = cli(
        "once",
        "--log-format",
        "json",
        "--redis-addr",
        "127.0.0.1:1",
        "--textfile-dir",
        str(tmp_path),
    )
    assert result.returncode == 1
    entries = [json.loads(line) for line in result.stderr.splitlines()]
    assert entries
    assert entries[-1]["level"] == "error"
    assert "Connection refused" in entries[-1]["msg"]


def test_cleanup_reads_no_secret(cli: Callable[..., Ran], tmp_path: Path) -> None:
    """`cleanup` works where secrets are out of reach, as in systemd's ExecStopPost=."""
    path = tmp_path / "config.toml"
    path.write_text(
        f'textfile_dir = "{tmp_path}"\n[[target]]\nname = "a"\naddr = "127.0.0.1:1"\n'
        'password_credential = "cache"\n'
    )
    (tmp_path / "redis_a.prom").write_text(f"# textfile-redis owner={_owner(path)} target=a\n")
    assert cli("once", "--config", str(path)).returncode == 78
    result = cli("cleanup", "--config", str(path))
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "redis_a.prom").exists()


def _owner(config_path: Path) -> str:
    from textfile_redis.config import config_owner  # noqa: PLC0415 - the test's only use

    return config_owner(config_path)


def test_cleanup_works_when_no_target_is_left(cli: Callable[..., Ran], tmp_path: Path) -> None:
    """A configuration whose last target was removed can still clean up that target's file."""
    path = tmp_path / "config.toml"
    path.write_text(f'textfile_dir = "{tmp_path}"\ndiscover = false\n')
    (tmp_path / "redis_gone.prom").write_text(
        f"# textfile-redis owner={_owner(path)} target=gone\n"
    )
    assert cli("once", "--config", str(path)).returncode == 78
    result = cli("cleanup", "--config", str(path))
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "redis_gone.prom").exists()


def test_check_names_a_target_whose_file_another_tool_holds(
    cli: Callable[..., Ran], tmp_path: Path
) -> None:
    """A foreign file under a target's name would refuse every write: check says so, exit 1."""
    textfile_dir = tmp_path / "textfile"
    textfile_dir.mkdir()
    (textfile_dir / "redis_theirs.prom").write_text("# another tool's metrics\nx 1\n")
    config = tmp_path / "config.toml"
    config.write_text(
        f'textfile_dir = "{textfile_dir}"\n'
        '[[target]]\nname = "theirs"\naddr = "h:1"\n[[target]]\nname = "free"\naddr = "h:2"\n'
    )
    ran = cli("check", "--config", str(config))
    status, printed = ran.returncode, ran.stdout
    assert status == 1
    assert (
        "target theirs: cannot write redis_theirs.prom: it is not a textfile-redis file" in printed
    )
    assert "target free" not in printed
    assert (textfile_dir / "redis_theirs.prom").read_text().startswith("# another tool's")


@pytest.mark.parametrize(
    "argv",
    [
        ["--config", "{config}", "--log-level", "debug", "check"],
        ["check", "--config", "{config}", "--log-level", "debug"],
        ["--log-level", "debug", "check", "--config", "{config}"],
    ],
    ids=["before", "after", "both"],
)
def test_options_go_before_or_after_the_command(
    cli: Callable[..., Ran], tmp_path: Path, argv: list[str]
) -> None:
    """Global options are taken wherever they stand, as users of other tools write them."""
    config = tmp_path / "config.toml"
    config.write_text(f'textfile_dir = "{tmp_path}"\n[[target]]\naddr = "h:1"\n')
    ran = cli(*[word.format(config=config) for word in argv])
    assert ran.returncode == 0
    assert f"configuration ok: 1 target(s), writing to {tmp_path}" in ran.stdout


@pytest.mark.parametrize(
    ("command", "listed", "not_listed"),
    [
        ("run", ["--interval", "--config", "--redis-addr"], ["--connect"]),
        ("once", ["--config", "--redis-addr"], ["--interval", "--connect"]),
        ("check", ["--interval", "--connect"], []),
        ("cleanup", ["--config", "--textfile-dir", "--redis-addr"], ["--interval", "--connect"]),
    ],
)
def test_each_commands_help_lists_only_the_options_it_uses(
    cli: Callable[..., Ran], command: str, listed: list[str], not_listed: list[str]
) -> None:
    """`COMMAND --help` offers what that command reads, and nothing it would ignore."""
    ran = cli(command, "--help")
    assert ran.returncode == 0
    shown = ran.stdout
    assert all(option in shown for option in listed)
    assert not any(option in shown for option in not_listed)


def test_check_warns_of_a_password_file_every_user_can_read(
    cli: Callable[..., Ran], tmp_path: Path
) -> None:
    """`check` and `once` say, as `run` does, that a config with a password is world-readable."""
    config = tmp_path / "config.toml"
    config.write_text(
        f'textfile_dir = "{tmp_path}"\n[[target]]\naddr = "h:1"\npassword = "not-shown-here"\n'
    )
    config.chmod(0o644)
    ran = cli("check", "--config", str(config))
    assert ran.returncode == 0
    logged = ran.stderr
    assert str(config) in logged
    assert "WARNING" in logged
    assert "not-shown-here" not in logged


def test_discover_needs_no_configuration(cli: Callable[..., Ran], tmp_path: Path) -> None:
    """`discover` runs with no config file anywhere and ends with the textfile directory chosen."""
    ran = cli("discover")
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.splitlines()[-1].startswith("textfile directory: ")
    assert all(len(line.split("\t")) >= 5 for line in ran.stdout.splitlines()[:-1])
    assert not (tmp_path / "config.toml").exists()


def test_discover_toml_is_toml(cli: Callable[..., Ran]) -> None:
    """`discover --toml` prints a TOML document of [[target]] tables with a name and an addr."""
    ran = cli("discover", "--toml")
    assert ran.returncode == 0, ran.stderr
    document = tomllib.loads(ran.stdout)
    assert set(document) <= {"target"}
    assert all(set(table) == {"name", "addr"} for table in document.get("target", []))
    assert ran.stdout.startswith("# textfile directory: ")


def test_discover_takes_no_configuration_options(cli: Callable[..., Ran]) -> None:
    """`discover` offers --toml and logging options, not --config: it reads no configuration."""
    assert cli("discover", "--config", "/etc/x.toml").returncode == 2
    assert "--toml" in cli("discover", "--help").stdout


def test_a_reload_keeps_the_textfile_directory_run_found_at_start(tmp_path: Path) -> None:
    """Found from node_exporter at start, the directory is not looked for again at a reload."""
    config_path = tmp_path / "config.toml"
    config_path.write_text('[[target]]\naddr = "h:1"\n')
    overrides = Overrides(config_path=config_path)
    found_at_start = TextfileDir(tmp_path, "from node_exporter's flag (pid 1)")
    started = load_config(overrides, {}, find_textfile_dir=lambda: found_at_start)

    reloaded = reloader(started, overrides)()

    assert reloaded.textfile_dir == tmp_path
    assert reloaded.owner == started.owner
    config_path.write_text(f'textfile_dir = "{tmp_path / "named"}"\n[[target]]\naddr = "h:1"\n')
    (tmp_path / "named").mkdir()
    assert reloader(started, overrides)().textfile_dir == tmp_path / "named"
