"""Live reload of `textfile-redis run`: conf.d changes, SIGHUP, and what must be refused."""

from __future__ import annotations

import os
import signal
import time
from typing import TYPE_CHECKING

import pytest

from tests.support.config import write_config
from tests.support.daemon import RunningDaemon, textfile_redis
from tests.support.processes import wait_for

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from tests.support.servers import RedisServer

RELOAD_DEADLINE = 1.0  # seconds: the promise made to an operator dropping a conf.d file
# Reloading is the daemon's business, the same whatever the server's version: one version does.
ONE_KIND = pytest.mark.parametrize("server_kind", ["redis-7.0"], indirect=True)


@pytest.fixture
def etc(tmp_path: Path) -> Path:
    """A configuration directory with an empty conf.d."""
    directory = tmp_path / "etc"
    (directory / "conf.d").mkdir(parents=True)
    return directory


@pytest.fixture
def daemon(
    replica_pair: tuple[RedisServer, RedisServer], etc: Path, textfile_dir: Path, tmp_path: Path
) -> Iterator[RunningDaemon]:
    """A daemon scraping the primary every 0.5 s, its config in etc/config.toml."""
    primary, _replica = replica_pair
    config = write_config(
        etc / "config.toml",
        textfile_dir,
        [{"name": "primary", "addr": primary.addr}],
        interval=0.5,
        timeout=0.4,
    )
    running = RunningDaemon(config, tmp_path / "daemon.log")
    wait_for((textfile_dir / "redis_primary.prom").exists, message="no first file")
    yield running
    running.kill()


def _drop_target(etc: Path, name: str, addr: str) -> Path:
    """Write conf.d/<name>.toml holding one target, as Ansible would."""
    path = etc / "conf.d" / f"{name}.toml"
    path.write_text(f'[[target]]\nname = "{name}"\naddr = "{addr}"\n')
    return path


def _our_connection_ids(server: RedisServer) -> set[str]:
    """Client ids of connections whose last command was one of our pipeline's."""
    clients = server.client().client_list()
    ours = {"latency", "latency|latest", "latency|histogram", "commandlog", "commandlog|len"}
    return {c["id"] for c in clients if c["cmd"] in ours}


@ONE_KIND
def test_added_conf_d_file_gets_its_file_within_a_second(
    daemon: RunningDaemon,
    replica_pair: tuple[RedisServer, RedisServer],
    etc: Path,
    textfile_dir: Path,
) -> None:
    """A target file dropped into conf.d is scraped and written within a second."""
    _primary, replica = replica_pair
    _drop_target(etc, "replica", replica.addr)
    wait_for(
        (textfile_dir / "redis_replica.prom").exists,
        timeout=RELOAD_DEADLINE,
        message="the added target's file did not appear within a second",
    )
    wait_for(lambda: "added: replica" in daemon.log(), message="reload not logged")


@ONE_KIND
def test_removed_conf_d_file_loses_its_file_within_a_second(
    daemon: RunningDaemon,
    replica_pair: tuple[RedisServer, RedisServer],
    etc: Path,
    textfile_dir: Path,
) -> None:
    """Removing a target's conf.d file deletes its metrics file; the others stay."""
    _primary, replica = replica_pair
    added = _drop_target(etc, "replica", replica.addr)
    wait_for((textfile_dir / "redis_replica.prom").exists, message="never added")
    added.unlink()
    wait_for(
        lambda: not (textfile_dir / "redis_replica.prom").exists(),
        timeout=RELOAD_DEADLINE,
        message="the removed target's file stayed",
    )
    assert (textfile_dir / "redis_primary.prom").exists()
    wait_for(lambda: "removed: replica" in daemon.log(), message="reload not logged")


@ONE_KIND
def test_invalid_file_is_refused_and_the_running_config_stays(
    daemon: RunningDaemon, etc: Path, textfile_dir: Path
) -> None:
    """An invalid conf.d file is refused with a log line naming it and the key; work goes on."""
    bad = etc / "conf.d" / "bad.toml"
    bad.write_text('[[target]]\naddr = "http://127.0.0.1:1"\n')
    wait_for(lambda: "reload refused" in daemon.log(), message="the bad file was not refused")
    refusal = next(line for line in daemon.log().splitlines() if "reload refused" in line)
    assert str(bad) in refusal
    assert "addr" in refusal
    before = (textfile_dir / "redis_primary.prom").stat().st_ino
    wait_for(
        lambda: (textfile_dir / "redis_primary.prom").stat().st_ino != before,
        message="the running configuration stopped writing",
    )
    assert sorted(p.name for p in textfile_dir.iterdir()) == ["redis_primary.prom"]
    assert daemon.process.poll() is None


@ONE_KIND
def test_sighup_reloads_and_unchanged_targets_keep_their_connection(
    daemon: RunningDaemon,
    replica_pair: tuple[RedisServer, RedisServer],
    etc: Path,
    textfile_dir: Path,
) -> None:
    """SIGHUP applies an edited main file; the unchanged target keeps its connection."""
    primary, replica = replica_pair
    wait_for(lambda: _our_connection_ids(primary), message="no connection of ours seen")
    connections = _our_connection_ids(primary)
    config = etc / "config.toml"
    config.write_text(
        config.read_text() + f'[[target]]\nname = "replica"\naddr = "{replica.addr}"\n'
    )
    daemon.send(signal.SIGHUP)
    wait_for((textfile_dir / "redis_replica.prom").exists, message="SIGHUP ignored")
    before = (textfile_dir / "redis_primary.prom").stat().st_ino
    wait_for(lambda: (textfile_dir / "redis_primary.prom").stat().st_ino != before)
    assert _our_connection_ids(primary) == connections


@ONE_KIND
def test_removing_the_last_target_removes_its_file_and_the_daemon_idles(
    replica_pair: tuple[RedisServer, RedisServer], textfile_dir: Path, tmp_path: Path
) -> None:
    """With its only target's conf.d file gone, the file goes and the daemon keeps running."""
    primary, _replica = replica_pair
    etc = tmp_path / "only-confd"
    (etc / "conf.d").mkdir(parents=True)
    config = etc / "config.toml"
    # discover = false: unset, discovery would come on with no target left.
    config.write_text(
        f'textfile_dir = "{textfile_dir}"\ninterval = 0.5\ntimeout = 0.4\ndiscover = false\n'
    )
    only = _drop_target(etc, "primary", primary.addr)
    daemon = RunningDaemon(config, tmp_path / "daemon.log")
    try:
        wait_for((textfile_dir / "redis_primary.prom").exists, message="no first file")
        only.unlink()
        wait_for(lambda: not any(textfile_dir.iterdir()), message="the last file stayed")
        wait_for(lambda: "no targets left" in daemon.log(), message="no warning logged")
        assert daemon.process.poll() is None
    finally:
        daemon.kill()


# --- configurations that must be refused, never crash ----------------------------------------

NESTED = "x = " + "[" * 3000 + "]" * 3000 + "\n"
REFUSAL_DEADLINE = 5.0  # seconds; a FIFO opened the blocking way never returns at all


def _refused_at_start(config: Path) -> str:
    """Run `run --config`; assert exit 78 with one stderr line and no traceback; that line."""
    result = textfile_redis("run", "--config", str(config), timeout=REFUSAL_DEADLINE)
    assert result.returncode == 78, result.stderr[-2000:]
    assert len(result.stderr.splitlines()) == 1, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    return result.stderr


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (NESTED, "nested too deeply"),
        ('[[target]]\naddr = "redis://127.0.0.1:1"\npassword_file = "p\\u0000w"\n', "NUL"),
    ],
    ids=["nested array", "NUL in a path"],
)
def test_invalid_config_at_start_is_one_line_and_exit_78(
    etc: Path, textfile_dir: Path, body: str, problem: str
) -> None:
    """A deeply nested array or a NUL in a path: exit 78, one line naming the file."""
    config = etc / "config.toml"
    config.write_text(f'textfile_dir = "{textfile_dir}"\n{body}')

    line = _refused_at_start(config)

    assert str(config) in line
    assert problem in line


@pytest.mark.parametrize("where", ["config.toml", "conf.d/fifo.toml"])
def test_fifo_as_config_file_at_start_is_refused_promptly(etc: Path, where: str) -> None:
    """A FIFO as the main file or a conf.d file: exit 78 at once, not a hang."""
    fifo = etc / where
    if where != "config.toml":
        write_config(etc / "config.toml", etc, [{"addr": "redis://127.0.0.1:1"}])
    os.mkfifo(fifo)

    assert f"{fifo} is not a regular file" in _refused_at_start(etc / "config.toml")


def _fresh(path: Path) -> Callable[[], bool]:
    """A predicate: the file has been replaced since this call."""
    before = path.stat().st_ino
    return lambda: path.stat().st_ino != before


@ONE_KIND
@pytest.mark.parametrize("bad", ["nested", "fifo"])
def test_bad_config_at_reload_is_refused_and_the_daemon_goes_on(
    daemon: RunningDaemon, etc: Path, textfile_dir: Path, bad: str
) -> None:
    """A nested array or a FIFO in conf.d at reload: one refusal line; files stay fresh."""
    entry = etc / "conf.d" / "bad.toml"
    if bad == "nested":
        entry.write_text(NESTED)
    else:
        os.mkfifo(entry)
        daemon.send(signal.SIGHUP)  # a FIFO's creation may carry no event a reload waits for
    wait_for(lambda: "reload refused" in daemon.log(), message="the bad file was not refused")
    assert "Traceback" not in daemon.log()
    wait_for(_fresh(textfile_dir / "redis_primary.prom"), message="writing stopped")
    assert daemon.process.poll() is None
    started = time.monotonic()
    daemon.send(signal.SIGTERM)
    assert daemon.wait(RELOAD_DEADLINE) == 0
    assert time.monotonic() - started < RELOAD_DEADLINE


@ONE_KIND
def test_world_readable_config_with_a_password_warns_in_one_line(
    replica_pair: tuple[RedisServer, RedisServer], etc: Path, textfile_dir: Path, tmp_path: Path
) -> None:
    """A config file others may read that holds a password: one warning naming it, no secret."""
    primary, _replica = replica_pair
    config = write_config(
        etc / "config.toml",
        textfile_dir,
        [{"name": "primary", "addr": primary.addr, "password": "s3cr3t-never-printed"}],
        interval=0.5,
        timeout=0.4,
    )
    config.chmod(0o644)
    running = RunningDaemon(config, tmp_path / "daemon.log")
    try:
        wait_for(lambda: "holds a password" in running.log(), message="no warning")
        warnings = [line for line in running.log().splitlines() if "holds a password" in line]
        assert len(warnings) == 1
        assert str(config) in warnings[0]
        assert "s3cr3t-never-printed" not in running.log()
    finally:
        running.kill()
