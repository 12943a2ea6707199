"""One cycle over 1, 10, 50 and 100 targets: ours versus redis_exporter's /scrape, concurrently.

Every target is a server of its own (100 redis-server processes at most; each is small: a few
hundred keys in two databases, commandstats, errorstats, a slowlog entry and a latency event).
Ours: one `Collector.cycle()` over all targets (a thread per target, connections kept open).
Theirs: one redis_exporter process, asked `/scrape?target=...` for every target at once, one
kept-alive HTTP connection per target, as Prometheus scrapes each target on its own connection.
"""

from __future__ import annotations

import contextlib
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from bench.common import (
    WALL_AND_CPU,
    HttpClient,
    RedisExporter,
    RedisServer,
    Tally,
    arguments,
    collector_config,
    describe_machine,
    fill_keyspace,
    populate,
    print_table,
    report_load,
    require_ok,
    require_up,
    timed_elsewhere,
    timed_in_process,
    wall_and_cpu,
    workspace,
)
from textfile_redis.cycle import Collector
from textfile_redis.daemon import freeze_long_lived

if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable, Iterator, Sequence
    from pathlib import Path

TARGET_COUNTS = (1, 10, 50, 100)
TARGET_COUNTS_QUICK = (1, 10)
SMALL_KEYSPACE = {0: 200, 1: 100}
MIN_ITERATIONS = 3
MAX_TARGET_CYCLES = 2000  # iterations shrink as targets grow: n * iterations stays near this


def main() -> None:
    """Start the servers once; measure each target count; print one table."""
    args = arguments(__doc__.splitlines()[0], iterations=200, quick_iterations=5)
    counts = TARGET_COUNTS_QUICK if args.quick else TARGET_COUNTS
    describe_machine(args.server_kind)
    with workspace() as workdir:
        servers = start_servers(args.server_kind, workdir, max(counts))
        exporter = RedisExporter.start(workdir / "exporter", servers[0].addr)
        rows = [compare(workdir, servers[:count], exporter, args) for count in counts]
    print_table("One cycle over many targets, one server each", HEADER, rows)
    report_load()


def start_servers(kind: str, workdir: Path, count: int) -> list[RedisServer]:
    """Start `count` small servers with some content each."""
    servers = []
    for n in range(count):
        server = RedisServer.start(kind, workdir / f"server-{n}")
        fill_keyspace(server, SMALL_KEYSPACE)
        populate(server.client())
        servers.append(server)
    return servers


def compare(
    workdir: Path, servers: Sequence[RedisServer], exporter: RedisExporter, args: argparse.Namespace
) -> list[str]:
    """Both sides over the same servers, alternating, after a warm-up; one table row."""
    iterations = max(MIN_ITERATIONS, min(args.iterations, MAX_TARGET_CYCLES // len(servers)))
    addrs = [server.addr for server in servers]
    with contextlib.ExitStack() as running:
        collector = Collector(collector_config(workdir / f"ours-{len(addrs)}", addrs))
        running.callback(collector.close)
        scrape_all = running.enter_context(concurrent_scrapes(exporter, addrs))
        ours, theirs = Tally(), Tally()
        for _ in range(args.warmup):
            require_ok(collector.cycle())
            scrape_all()
        freeze_long_lived()  # as the daemon does after its first cycle
        for _ in range(iterations):
            timed_in_process(ours, lambda: require_ok(collector.cycle()))
            timed_elsewhere(theirs, exporter.pid, scrape_all)
    return [str(len(addrs)), str(iterations), *wall_and_cpu(ours, theirs)]


@contextlib.contextmanager
def concurrent_scrapes(
    exporter: RedisExporter, addrs: Sequence[str]
) -> Iterator[Callable[[], None]]:
    """A function that asks redis_exporter for every target at once, each on its connection."""
    paths = [exporter.scrape_path(addr) for addr in addrs]
    clients = [HttpClient(exporter.port) for _ in addrs]
    with ThreadPoolExecutor(max_workers=len(addrs)) as pool:

        def scrape_all() -> None:
            for body in pool.map(lambda client, path: client.get(path), clients, paths):
                require_up(body)

        try:
            yield scrape_all
        finally:
            for client in clients:
                client.close()


HEADER = ("targets", "n", *WALL_AND_CPU)


if __name__ == "__main__":
    main()
