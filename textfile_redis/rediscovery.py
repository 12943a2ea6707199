"""Rediscovery for the run loop: discovery on a worker thread, and which servers still count.

A server absent from one discovery is not gone: it may be restarting. It keeps its target (and
its file, with redis_up 0) until it is absent from FORGET_AFTER discoveries in a row.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

    from .discover import Server

log = logging.getLogger(__name__)

FORGET_AFTER = 2  # discoveries in a row a server must be absent from to lose its target


@dataclass(frozen=True, slots=True)
class Discovered:
    """What a discovery came back with: the servers found, or why it failed."""

    servers: tuple[Server, ...] | None
    failure: str = ""


def discover_in_background(
    discover: Callable[[], Sequence[Server]], post: Callable[[Discovered], None]
) -> None:
    """Run discover on a daemon thread and post what it found (or why not) when done."""

    def work() -> None:
        try:
            found = Discovered(tuple(discover()))
        except Exception as exc:  # noqa: BLE001 - a failed discovery must reach the loop as one
            found = Discovered(None, f"{type(exc).__name__}: {exc}")
        post(found)

    threading.Thread(target=work, name="discover", daemon=True).start()


class Sightings:
    """The servers that count as present: seen lately, or missed fewer than FORGET_AFTER times."""

    def __init__(self) -> None:
        self._known: dict[str, tuple[Server, int]] = {}  # by addr: the server, times missed

    def update(self, found: Iterable[Server]) -> tuple[list[str], list[str]]:
        """Note a discovery's servers; the addresses that came and those now forgotten."""
        seen = {server.addr: server for server in found}
        came = sorted(seen.keys() - self._known.keys())
        gone = []
        for addr, (server, missed) in list(self._known.items()):
            if addr in seen:
                continue
            if missed + 1 >= FORGET_AFTER:
                del self._known[addr]
                gone.append(addr)
            else:
                self._known[addr] = (server, missed + 1)
        self._known.update((addr, (server, 0)) for addr, server in seen.items())
        return came, sorted(gone)

    def servers(self) -> list[Server]:
        """The servers present, in address order (unix sockets last)."""
        known = (server for server, _ in self._known.values())
        return sorted(known, key=lambda server: (server.addr.startswith("unix"), server.addr))

    def clear(self) -> None:
        """Forget every server (discovery was turned off)."""
        self._known.clear()
