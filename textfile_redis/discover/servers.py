"""Found servers: candidates probed, the same server's endpoints merged, each named once."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from .candidates import Candidate, gather
from .probe import TIMEOUT_S, UNKNOWN, Endpoint, NotRedisError, Probe, probe

if TYPE_CHECKING:
    from collections.abc import Iterable

log = logging.getLogger(__name__)

PROBES_MAX = 256
PROBE_WORKERS = 16
_NOT_NAME_CHAR_RE = re.compile(r"[^A-Za-z0-9_.-]")
_NOT_ADDRESS_NAME_CHAR_RE = re.compile(r"[^A-Za-z0-9]")

Prober = Callable[[Endpoint, float], Probe]


@dataclass(frozen=True, slots=True)
class Server:
    """A local server found: its target name and address, kind, how found, credential need."""

    name: str
    addr: str
    kind: str  # primary, replica, sentinel, cluster node, unknown
    found_by: tuple[str, ...]
    needs_credential: bool
    other_addrs: tuple[str, ...] = ()  # the same server's other endpoints (socket, TLS port)


def discover(
    proc_root: Path = Path("/proc"),
    etc_root: Path = Path("/etc"),
    *,
    timeout: float = TIMEOUT_S,
    prober: Prober = probe,
) -> list[Server]:
    """Find the local Redis, Valkey and KeyDB servers and sentinels; never raises on bad input."""
    candidates = gather(proc_root, etc_root)
    reached = _probe_all({c.endpoint for c in candidates}, timeout, prober)
    # An endpoint that answered only over TLS is known by its rediss:// form from here on.
    answered = [
        replace(c, endpoint=reached[c.endpoint][0]) for c in candidates if c.endpoint in reached
    ]
    probes = dict(reached.values())
    groups = _same_servers(answered, probes)
    servers = [_server(group, probes) for group in groups]
    return _named(servers)


def _probe_all(
    endpoints: Iterable[Endpoint], timeout: float, prober: Prober
) -> dict[Endpoint, tuple[Endpoint, Probe]]:
    """The endpoints that answer as Redis, and where; one debug line for each that does not."""
    todo = sorted(endpoints, key=_preference)[:PROBES_MAX]
    if not todo:
        return {}
    with ThreadPoolExecutor(min(PROBE_WORKERS, len(todo))) as pool:
        results = list(pool.map(lambda end: _try(end, timeout, prober), todo))
    return {end: result for end, result in zip(todo, results, strict=True) if result is not None}


def _try(endpoint: Endpoint, timeout: float, prober: Prober) -> tuple[Endpoint, Probe] | None:
    """The probe of an endpoint; a TCP port that hangs up on plain RESP is tried over TLS.

    A title shows a TLS-only server's tls-port as if plain; nothing else tells them apart.
    """
    try:
        return endpoint, prober(endpoint, timeout)
    except (NotRedisError, ConnectionResetError, BrokenPipeError) as exc:  # it hung up on RESP
        if endpoint.path or endpoint.tls:
            _dropped(endpoint, exc)
            return None
        tls = replace(endpoint, tls=True)
        try:
            return tls, prober(tls, timeout)
        except (OSError, NotRedisError, ValueError) as tls_exc:
            _dropped(endpoint, f"{exc}; over TLS: {tls_exc}")
            return None
    except (OSError, ValueError) as exc:
        _dropped(endpoint, exc)
        return None


def _dropped(endpoint: Endpoint, reason: object) -> None:
    log.debug("discover: %s does not answer as Redis (%s); ignored", endpoint.url, reason)


def _same_servers(
    answered: list[Candidate], probes: dict[Endpoint, Probe]
) -> list[list[Candidate]]:
    """Candidates grouped by server: same process, same config file, same URL or same run_id."""
    parent = list(range(len(answered)))

    def root(index: int) -> int:
        while parent[index] != index:
            parent[index] = parent[parent[index]]
            index = parent[index]
        return index

    first_of: dict[str, int] = {}
    for index, candidate in enumerate(answered):
        run_id = probes[candidate.endpoint].run_id
        keys = [candidate.group, candidate.endpoint.url, *([f"run_id {run_id}"] if run_id else [])]
        for key in keys:
            parent[root(first_of.setdefault(key, index))] = root(index)
    groups: dict[int, list[Candidate]] = {}
    for index, candidate in enumerate(answered):
        groups.setdefault(root(index), []).append(candidate)
    return list(groups.values())


def _preference(endpoint: Endpoint) -> tuple[int, int, str, int, str]:
    """Plain TCP over loopback first, then other plain TCP, then a unix socket, then TLS."""
    if endpoint.path:
        return (2, 0, "", 0, endpoint.path)
    loopback = endpoint.host.startswith("127.") or endpoint.host == "::1"
    return (3 if endpoint.tls else 0 if loopback else 1, ":" in endpoint.host, endpoint.host,
            endpoint.port, "")  # fmt: skip


def _server(group: list[Candidate], probes: dict[Endpoint, Probe]) -> Server:
    ends = sorted({c.endpoint for c in group}, key=_preference)
    chosen = probes[ends[0]]
    known = [probes[end].kind for end in ends if probes[end].kind != UNKNOWN]
    hints = [c.hint for c in group if c.hint]
    kind = chosen.kind if chosen.kind != UNKNOWN else (known or hints or [UNKNOWN])[0]
    return Server(
        name=_base_name(ends[0]),
        addr=ends[0].url,
        kind=kind,
        found_by=tuple(sorted({c.how for c in group})),
        needs_credential=chosen.needs_credential,
        other_addrs=tuple(end.url for end in ends[1:]),
    )


def _base_name(endpoint: Endpoint) -> str:
    """A port's number, or a socket's file name without `.sock`."""
    if not endpoint.path:
        return str(endpoint.port)
    return _NOT_NAME_CHAR_RE.sub("_", Path(endpoint.path).name.removesuffix(".sock")) or "socket"


def address_name(url: str) -> str:
    """The name a normalised address suggests: its host and port, or its path, made a name.

    The one rule for configured targets and discovered servers alike, so that a discovered
    server whose base name collides gets the name its address would have in the config file.
    IPv6 brackets are the URL's, not the host's: `redis://[::1]:6380` is named `1_6380`.
    """
    location = addr_location(url).replace("[", "").replace("]", "")
    return _NOT_ADDRESS_NAME_CHAR_RE.sub("_", location).strip("_")


def addr_location(url: str) -> str:
    """What follows the scheme: `host:port` or the socket's path."""
    return url.partition("://")[2]


def _named(servers: list[Server]) -> list[Server]:
    """Servers in address order; a base name shared by several becomes each one's full name."""
    counts: dict[str, int] = {}
    for server in servers:
        counts[server.name] = counts.get(server.name, 0) + 1
    renamed = [
        server if counts[server.name] == 1 else replace(server, name=address_name(server.addr))
        for server in servers
    ]
    return sorted(renamed, key=lambda server: (server.addr.startswith("unix"), server.addr))
