"""CPU of one cycle with the insight families (client load, ACL log) next to without them.

One server with many connections (`--clients`, spread over 20 ACL users and 200 client names)
and a full ACL log (128 entries). Each row is one `Collector.cycle()` with the options named:
none, export_client_load, export_acl_log, both, and export_client_list (one series per client)
for comparison. Series are the file's; redis_exporter has none of these families.
"""

from __future__ import annotations

import contextlib
import time
from typing import TYPE_CHECKING

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from bench.common import (
    Tally,
    arguments,
    collector_config,
    describe_machine,
    ms,
    print_table,
    redis_cpu_seconds,
    report_load,
    require_ok,
    timed_in_process,
    workspace,
)
from tests.support.servers import RedisServer, raw_command
from textfile_redis import catalog
from textfile_redis.cycle import Collector

if TYPE_CHECKING:
    import argparse
    from collections.abc import Iterator
    from pathlib import Path

HEADER = ("options", "series", "insight series", "cycle wall", "cycle CPU", "server CPU / cycle")
INSIGHT = {
    entry.name
    for entry in catalog.FAMILIES
    if entry.option in {catalog.CLIENT_LOAD_OPTION, catalog.ACL_LOG_OPTION}
}
USERS, NAMES, PASSWORD = 20, 200, "bench"  # a throwaway server's users
ROWS = {
    "none": [],
    "export_client_load": ["export_client_load = true"],
    "export_acl_log": ["export_acl_log = true"],
    "both": ["export_client_load = true", "export_acl_log = true"],
    "export_client_list": ["export_client_list = true"],
}


@contextlib.contextmanager
def connected(server: RedisServer, clients: int) -> Iterator[None]:
    """`clients` open connections, each an ACL user's (of USERS) with a name (of NAMES)."""
    admin = server.client()
    for n in range(USERS):
        raw_command(admin, "ACL", "SETUSER", f"u{n}", "on", f">{PASSWORD}", "+ping", "+client")
    opened = []
    try:
        for n in range(clients):
            client = redis.Redis(
                port=server.port,
                username=f"u{n % USERS}",
                password=PASSWORD,
                protocol=2,
                driver_info=None,
                retry=Retry(NoBackoff(), 0),
            )
            raw_command(client, "CLIENT", "SETNAME", f"app{n % NAMES}")
            opened.append(client)
        _fill_acl_log(server)
        yield
    finally:
        for client in opened:
            client.close()


def _fill_acl_log(server: RedisServer) -> None:
    """128 entries: a failed AUTH per user (u0 to u19), then per name that is no user."""
    guest = server.client()
    for n in range(128):
        user = f"u{n}" if n < USERS else f"nobody{n}"
        with contextlib.suppress(redis.AuthenticationError):
            raw_command(guest, "AUTH", user, "wrong")


def measure(
    workdir: Path, server: RedisServer, top: list[str], args: argparse.Namespace
) -> list[str]:
    """One row: series, then a cycle's median wall, CPU, and the server's CPU per cycle."""
    collector = Collector(collector_config(workdir, [server.addr], timeout=10.0, top=top))
    cycles = Tally()
    admin = server.client()
    try:
        for _ in range(args.warmup):
            require_ok(collector.cycle())
        before = redis_cpu_seconds(admin)
        for _ in range(args.iterations):
            timed_in_process(cycles, lambda: require_ok(collector.cycle()))
        server_cpu = (redis_cpu_seconds(admin) - before) / args.iterations
    finally:
        collector.close()
    (path,) = (workdir / "textfile").glob("*.prom")
    lines = [line for line in path.read_text().splitlines() if not line.startswith("#")]
    insight = sum(1 for line in lines if line.partition("{")[0] in INSIGHT)
    return [f"{len(lines):,}", f"{insight:,}", ms(cycles.wall), ms(cycles.cpu_each), ms(server_cpu)]


def main() -> None:
    """Time a cycle with each insight option; print one table."""
    args = arguments(__doc__.splitlines()[0], iterations=50, quick_iterations=3)
    args.clients = 200 if args.quick else 2000
    describe_machine(args.server_kind)
    started = time.monotonic()
    with workspace() as workdir:
        server = RedisServer.start(args.server_kind, workdir / "server")
        with connected(server, args.clients):
            rows = [
                [name, *measure(workdir / name, server, top, args)] for name, top in ROWS.items()
            ]
    title = f"Insight families ({args.server_kind}, {args.clients:,} clients, ACL log full)"
    print_table(f"{title}, {args.iterations} cycles", HEADER, rows)
    print(f"- run took {time.monotonic() - started:.0f} s")
    report_load()


if __name__ == "__main__":
    main()
