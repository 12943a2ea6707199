"""systemd notifications (READY, WATCHDOG, STOPPING, STATUS) over NOTIFY_SOCKET, stdlib only."""

from __future__ import annotations

import logging
import os
import socket
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping

log = logging.getLogger(__name__)


class Notifier:
    """Sends sd_notify messages; does nothing when systemd did not ask for them."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._address = _socket_address(environ.get("NOTIFY_SOCKET", ""))
        self.watchdog_seconds = _watchdog_seconds(environ)

    @property
    def enabled(self) -> bool:
        """True when NOTIFY_SOCKET names a socket to talk to."""
        return self._address is not None

    def ready(self, status: str) -> None:
        """Tell systemd start-up is complete (Type=notify)."""
        self._send(f"READY=1\nSTATUS={status}")

    def watchdog(self) -> None:
        """Keep systemd's watchdog from restarting us."""
        if self.watchdog_seconds is not None:
            self._send("WATCHDOG=1")

    def status(self, status: str) -> None:
        """Show one line in `systemctl status`."""
        self._send(f"STATUS={status}")

    def stopping(self) -> None:
        """Tell systemd the stop has begun."""
        self._send("STOPPING=1")

    def _send(self, message: str) -> None:
        if self._address is None:
            return
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
                sock.setblocking(False)  # noqa: FBT003 - socket's API; a listener that stopped reading must not stall the loop
                sock.sendto(message.encode(), self._address)
        except OSError as exc:  # systemd gone or socket replaced: not worth failing a cycle for
            log.debug("sd_notify to %s failed: %s", self._address, exc)


def _socket_address(path: str) -> str | None:
    if not path:
        return None
    return "\0" + path[1:] if path.startswith("@") else path  # "@" names an abstract socket


def _watchdog_seconds(environ: Mapping[str, str]) -> float | None:
    """WATCHDOG_USEC in seconds, when it is meant for this process (WATCHDOG_PID, if set)."""
    usec = environ.get("WATCHDOG_USEC", "")
    pid = environ.get("WATCHDOG_PID", "")
    if not usec.isdigit() or int(usec) == 0 or (pid and pid != str(os.getpid())):
        return None
    return int(usec) / 1e6
