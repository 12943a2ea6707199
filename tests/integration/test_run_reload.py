"""Live reload of `textfile-redis run`: conf.d changes and SIGHUP, without a restart."""

from __future__ import annotations

import signal
from typing import TYPE_CHECKING

import pytest
from runner import RunningDaemon, write_config
from servers import wait_for

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from servers import RedisServer

RELOAD_DEADLINE = 1.0  # seconds: the promise made to an operator dropping a conf.d file


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
        interval="0.5",
        timeout="0.4",
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


def test_removing_the_last_target_removes_its_file_and_the_daemon_idles(
    replica_pair: tuple[RedisServer, RedisServer], textfile_dir: Path, tmp_path: Path
) -> None:
    """With its only target's conf.d file gone, the file goes and the daemon keeps running."""
    primary, _replica = replica_pair
    etc = tmp_path / "only-confd"
    (etc / "conf.d").mkdir(parents=True)
    config = etc / "config.toml"
    config.write_text(f'textfile_dir = "{textfile_dir}"\ninterval = 0.5\ntimeout = 0.4\n')
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
