"""Candidate endpoints of local servers: from titles, listening sockets and config files."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import TYPE_CHECKING

from . import conffile
from .probe import Endpoint
from .procfs import Listener, Process, listeners, processes, socket_inodes

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator
    from pathlib import Path

SERVER_NAMES = frozenset(
    {"redis-server", "valkey-server", "keydb-server", "redis-sentinel", "valkey-sentinel"}
)
CONFIG_DIRS = ("redis", "valkey")
CONFIG_FILES_MAX = 64
CLUSTER_BUS_OFFSET = 10000
TITLE_HINTS = {"[sentinel]": "sentinel", "[cluster]": "cluster node"}
WILDCARDS_V4 = frozenset({"*", "0.0.0.0"})  # noqa: S104 - names of the wildcard, not a bind
WILDCARDS_V6 = frozenset({"::", "::*"})


@dataclass(frozen=True, slots=True)
class Candidate:
    """An endpoint worth probing, how it was found, and what it belongs to (a process, a file)."""

    endpoint: Endpoint
    how: str
    group: str
    hint: str | None = None  # the kind a title shows: sentinel or cluster node


def gather(proc_root: Path, etc_root: Path) -> list[Candidate]:
    """Every candidate on this host; unreadable and vanished entries are skipped."""
    found: list[Candidate] = []
    sockets = listeners(proc_root)
    for process in processes(proc_root):
        if process.named(SERVER_NAMES):
            found += from_process(process, proc_root, sockets)
    for path in config_files(etc_root):
        listening = conffile.from_file(path)
        if listening is not None:
            how = f"config {path}"
            found += [Candidate(end, how, how) for end in endpoints(listening)]
    return found


def from_process(
    process: Process, proc_root: Path, sockets: dict[int, Listener]
) -> list[Candidate]:
    """A server process's candidates: its title, its listening sockets, its command line."""
    group = f"pid {process.pid}"
    hint = _hint(process)
    found = [Candidate(end, f"title (pid {process.pid})", group, hint) for end in title(process)]
    mine = [sockets[inode] for inode in socket_inodes(proc_root, process.pid) if inode in sockets]
    how = f"socket (pid {process.pid})"
    found += [Candidate(end, how, group, hint) for end in _socket_endpoints(mine)]
    listening = conffile.from_argv(process.argv, proc_root / str(process.pid) / "cwd")
    if listening is not None:
        how = f"{' and '.join(listening.sources)} (pid {process.pid})"
        found += [Candidate(end, how, group, hint) for end in endpoints(listening)]
    return found


def _hint(process: Process) -> str | None:
    words = " ".join(process.argv).split()
    hints = [TITLE_HINTS[word] for word in words if word in TITLE_HINTS]
    if hints:
        return hints[0]
    return "sentinel" if process.program.endswith("-sentinel") else None


def title(process: Process) -> list[Endpoint]:
    """The address a server's title shows: `*:6379`, `[::1]:6380`, `unixsocket:/run/r.sock`."""
    found: list[Endpoint] = []
    for word in " ".join(process.argv).split()[1:]:
        if word.startswith("unixsocket:/"):
            found.append(Endpoint(path=word.removeprefix("unixsocket:")))
            continue
        host, sep, port = word.rpartition(":")
        if sep and port.isdigit() and 0 < int(port) <= conffile.HIGHEST_PORT:
            local = loopback(host.strip("[]"))
            if local is not None:
                found.append(Endpoint(host=local, port=int(port)))
    return found


def loopback(host: str) -> str | None:
    """The host to connect to for a bound address: wildcards over loopback; None if not an IP."""
    host = host.removeprefix("-")  # Redis 7: `bind -::1` binds when the address exists
    if host in WILDCARDS_V4:
        return "127.0.0.1"
    if host in WILDCARDS_V6:
        return "::1"
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return None


def _rank(host: str) -> int:
    """Which bound address to use: loopback IPv4 first, then loopback IPv6, then the rest."""
    address = ipaddress.ip_address(host)
    return (0 if address.version == 4 else 1) if address.is_loopback else 2  # noqa: PLR2004


def best_host(hosts: Iterable[str]) -> str | None:
    """The address to reach a server bound to all of `hosts`."""
    usable = [local for local in map(loopback, hosts) if local is not None]
    return min(usable, key=_rank) if usable else None


def _socket_endpoints(mine: list[Listener]) -> list[Endpoint]:
    ports: dict[int, list[str]] = {}
    for listener in mine:
        if listener.port:
            ports.setdefault(listener.port, []).append(listener.host)
    # A cluster node's bus (port + 10000) speaks its own protocol: not probed.
    found = [
        Endpoint(host=host, port=port)
        for port, hosts in sorted(ports.items())
        if port - CLUSTER_BUS_OFFSET not in ports and (host := best_host(hosts)) is not None
    ]
    return found + [Endpoint(path=listener.path) for listener in mine if listener.path]


def endpoints(listening: conffile.Listening) -> list[Endpoint]:
    """The endpoints a config names: its port, its tls-port (rediss://), its unix socket."""
    host = best_host(listening.binds or ("*",))
    found: list[Endpoint] = []
    port = listening.effective_port()
    if host is not None and port:
        found.append(Endpoint(host=host, port=port))
    if host is not None and listening.tls_port:
        found.append(Endpoint(host=host, port=listening.tls_port, tls=True))
    if listening.unixsocket and listening.unixsocket.startswith("/"):
        found.append(Endpoint(path=listening.unixsocket))
    return found


def config_files(etc_root: Path) -> Iterator[Path]:
    """/etc/redis/*.conf and /etc/valkey/*.conf, at most CONFIG_FILES_MAX of each."""
    for name in CONFIG_DIRS:
        try:
            paths = sorted((etc_root / name).glob("*.conf"))
        except OSError:
            continue
        yield from paths[:CONFIG_FILES_MAX]
