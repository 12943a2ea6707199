"""systemd integration: READY, WATCHDOG, STATUS and STOPPING reach NOTIFY_SOCKET in order."""

from __future__ import annotations

import signal
import socket
from typing import TYPE_CHECKING

import pytest

from tests.support.config import write_config
from tests.support.daemon import RunningDaemon, clean_env
from tests.support.processes import wait_for

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from tests.support.servers import RedisServer


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[socket.socket]:
    """A unix datagram socket listening as systemd's NOTIFY_SOCKET would."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as listener:
        listener.bind(str(tmp_path / "notify.sock"))
        listener.setblocking(False)  # noqa: FBT003 - socket's own API
        yield listener


def _drain(listener: socket.socket, into: list[str]) -> list[str]:
    """Append every datagram waiting on the socket to `into`."""
    try:
        while True:
            into.append(listener.recv(4096).decode())
    except BlockingIOError:
        return into


@pytest.mark.parametrize("server_kind", ["redis-7.0"], indirect=True)
def test_ready_watchdog_and_stopping_in_order(
    server: RedisServer, notify_socket: socket.socket, textfile_dir: Path, tmp_path: Path
) -> None:
    """READY=1 after the first cycle, WATCHDOG=1 on healthy cycles, STOPPING=1 on SIGTERM."""
    config = write_config(
        tmp_path / "c.toml",
        textfile_dir,
        [{"name": "a", "addr": server.addr}],
        interval=0.2,
        timeout=0.1,
    )
    env = clean_env(NOTIFY_SOCKET=notify_socket.getsockname(), WATCHDOG_USEC="10000000")
    daemon = RunningDaemon(config, tmp_path / "daemon.log", env=env)
    try:
        messages: list[str] = []
        wait_for(
            lambda: sum("WATCHDOG=1" in m for m in _drain(notify_socket, messages)) >= 2,
            message="no two watchdog pings",
        )
        daemon.send(signal.SIGTERM)
        assert daemon.wait(5) == 0
    finally:
        daemon.kill()
    _drain(notify_socket, messages)
    kinds = [m.split("=", 1)[0] for m in messages]
    assert kinds[0] == "READY"
    assert "STATUS=1/1 targets up" in messages[0]
    assert kinds[-1] == "STOPPING"
    assert kinds.index("WATCHDOG") > 0
    assert set(kinds) == {"READY", "WATCHDOG", "STATUS", "STOPPING"}


@pytest.mark.parametrize("server_kind", ["redis-7.0"], indirect=True)
def test_without_notify_socket_nothing_is_sent(
    server: RedisServer, notify_socket: socket.socket, textfile_dir: Path, tmp_path: Path
) -> None:
    """With NOTIFY_SOCKET unset the daemon runs and stops as usual, sending nothing."""
    config = write_config(tmp_path / "c.toml", textfile_dir, [{"name": "a", "addr": server.addr}])
    daemon = RunningDaemon(config, tmp_path / "daemon.log")
    try:
        wait_for((textfile_dir / "redis_a.prom").exists, message="no file written")
        daemon.send(signal.SIGTERM)
        assert daemon.wait(5) == 0
    finally:
        daemon.kill()
    assert _drain(notify_socket, []) == []
