"""`run` with discovery on the real /proc: servers that start, stop, restart or want a password.

The configuration's discover_only lists the ports of this test's servers, so servers that other
tests run meanwhile are found but not collected: the product's own filter, not a test switch.
"""

from __future__ import annotations

import contextlib
import signal
import time
from typing import TYPE_CHECKING

import pytest

from tests.support.config import write_config
from tests.support.daemon import RunningDaemon, textfile_redis
from tests.support.exposition import Exposition
from tests.support.processes import free_port, wait_for
from tests.support.servers import RedisServer, binary_for

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

INTERVAL = 0.5  # seconds between cycles
DISCOVER_INTERVAL = 2.0  # seconds between rediscoveries: longer than a restart takes here
# What a discovery takes besides its period: probes (0.5 s at most) and the next cycle's start.
SLACK = 1.5
WITHIN_TWO_PERIODS = 2 * DISCOVER_INTERVAL + SLACK
PASSWORD = "discovered-secret"  # noqa: S105 - the test server's own


def _redis_up(path: Path) -> float | None:
    """redis_up in a textfile, None while the file is absent or being replaced."""
    try:
        return Exposition.read(path).value("redis_up")
    except FileNotFoundError:
        return None


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[dict[str, RedisServer]]:
    """A Redis 7.0 server and a Valkey 9.1 server that wants a password."""
    for kind in ("redis-7.0", "valkey-9.1"):
        if binary_for(kind) is None:
            pytest.skip(f"no {kind} here")
    with contextlib.ExitStack() as running:
        yield {
            "steady": running.enter_context(RedisServer.start("redis-7.0", tmp_path / "steady")),
            "locked": running.enter_context(
                RedisServer.start("valkey-9.1", tmp_path / "locked", password=PASSWORD)
            ),
        }


def test_run_follows_servers_that_start_stop_restart_or_need_a_credential(
    servers: dict[str, RedisServer], tmp_path: Path, textfile_dir: Path
) -> None:
    """With discovery on, `run` writes a file for every server it finds, as the rules say.

    A server started meanwhile gets its file within two rediscovery periods and loses it the same
    way once stopped; one that restarts keeps its file (redis_up 0, then 1); one that wants a
    password has redis_up 0 and a log line saying what to add, until a reload brings its
    [[credential]].
    """
    steady, locked = servers["steady"], servers["locked"]
    later_port = free_port()
    etc = tmp_path / "etc"
    etc.mkdir()
    ports = [str(steady.port), str(locked.port), str(later_port)]
    top = {
        "interval": INTERVAL,
        "timeout": 0.4,
        "discover": True,
        "discover_interval": DISCOVER_INTERVAL,
        "discover_only": ports,
    }
    config = write_config(etc / "config.toml", textfile_dir, [], **top)
    steady_file = textfile_dir / f"redis_{steady.port}.prom"
    locked_file = textfile_dir / f"redis_{locked.port}.prom"
    later_file = textfile_dir / f"redis_{later_port}.prom"

    checked = textfile_redis("check", "--config", str(config))
    assert checked.returncode == 0, checked.stderr
    assert f"{steady.port}\t{steady.addr}\tdiscovered" in checked.stdout
    assert (
        f"needs a credential: add a [[credential]] with match = '{locked.port}'" in checked.stdout
    )

    daemon = RunningDaemon(config, tmp_path / "daemon.log")
    try:
        wait_for(lambda: _redis_up(steady_file) == 1, message="steady server not collected")
        wait_for(lambda: _redis_up(locked_file) == 0, message="locked server has no file")
        advice = f"it needs a credential: add a [[credential]] with match = '{locked.port}'"
        wait_for(lambda: advice in daemon.log(), message="no line says what the server needs")

        started = time.monotonic()
        later = RedisServer.start("redis-7.0", tmp_path / "later", pick_port=lambda: later_port)
        late = "a new server's file did not come within two rediscovery periods"
        wait_for(lambda: _redis_up(later_file) == 1, timeout=WITHIN_TWO_PERIODS, message=late)
        assert time.monotonic() - started < WITHIN_TWO_PERIODS

        _restart_keeps_the_file(steady, steady_file, tmp_path)

        later.stop()
        stayed = "a stopped server's file stayed past two rediscovery periods"
        wait_for(lambda: not later_file.exists(), timeout=WITHIN_TWO_PERIODS, message=stayed)

        secret = etc / "locked.password"
        secret.write_text(PASSWORD + "\n")
        credential = f'\n[[credential]]\nmatch = "{locked.port}"\npassword_file = "{secret}"\n'
        config.write_text(config.read_text() + credential)
        daemon.send(signal.SIGHUP)
        wait_for(lambda: _redis_up(locked_file) == 1, message="the credential was not used")
        assert PASSWORD not in daemon.log()
    finally:
        daemon.kill()


def _restart_keeps_the_file(server: RedisServer, path: Path, tmp_path: Path) -> None:
    """Stop the server, see redis_up 0 in its file, start it on its port, see redis_up 1."""
    port = server.port
    server.stop()
    wait_for(lambda: _redis_up(path) == 0, message="a stopped server still shows up")
    again = RedisServer.start("redis-7.0", tmp_path / "again", pick_port=lambda: port)
    try:
        wait_for(lambda: _redis_up(path) == 1, message="a restarted server's file was not renewed")
        assert path.exists()
    finally:
        again.stop()
