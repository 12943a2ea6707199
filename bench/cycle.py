"""Per-cycle wall and CPU time for one target: our cycle versus one redis_exporter scrape.

Ours: `Collector.cycle()` in this process (scrape over a kept-open connection, translate, render,
atomic write), its CPU time from time.process_time(). Theirs: one HTTP GET of redis_exporter's
/metrics, its CPU time from /proc/PID/stat. Both read the same busy primary (thousands of keys in
four databases, commandstats and errorstats, a replica attached), directly and through
bench/proxy.py with 0, 1 and 10 ms added each way; the proxy counts the round trips.
"""

from __future__ import annotations

import contextlib
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bench.common import (
    WALL_AND_CPU,
    HttpClient,
    Proxy,
    RedisExporter,
    Tally,
    arguments,
    collector_config,
    describe_machine,
    ms,
    print_table,
    proc_stat_cpu_seconds,
    report_load,
    require_ok,
    require_up,
    start_busy_primary,
    timed_elsewhere,
    timed_in_process,
    wall_and_cpu,
    workspace,
)
from textfile_redis.cycle import Collector
from textfile_redis.daemon import freeze_long_lived

if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable, Iterator

    from tests.support.servers import RedisServer

DELAYS_MS = (0.0, 1.0, 10.0)
TMPFS = Path("/dev/shm")  # noqa: S108 - a fixed mount point, not a temp file name
# A scrape through 10 ms each way takes tens of round trips' time: fewer repetitions suffice.
ITERATION_SHARE = {None: 1, 0.0: 1, 1.0: 2, 10.0: 10}
MIN_ITERATIONS = 3


@dataclass(frozen=True, slots=True)
class Route:
    """Where each side connects: the server itself, or a proxy of its own in front of it."""

    key: str  # for directory names
    label: str
    ours: str
    theirs: str
    ours_proxy: Proxy | None = None
    theirs_proxy: Proxy | None = None


@dataclass(frozen=True, slots=True)
class Traffic:
    """Round trips and connections per cycle, as a proxy counted them."""

    round_trips: float
    connections: float


@dataclass(frozen=True, slots=True)
class Comparison:
    """One row: both sides over one route."""

    route: Route
    iterations: int
    ours: Tally
    theirs: Tally
    ours_traffic: Traffic | None
    theirs_traffic: Traffic | None
    theirs_stat_cpu: float  # per scrape, from /proc/PID/stat ticks: a check on schedstat's figure
    samples: tuple[int, int]  # sample lines in our file and in redis_exporter's answer


def main() -> None:
    """Compare both sides directly and at each added latency; print one table."""
    args = arguments(__doc__.splitlines()[0], iterations=1000, quick_iterations=20)
    describe_machine(args.server_kind)
    with workspace() as workdir:
        primary, _replica = start_busy_primary(args.server_kind, workdir, quick=args.quick)
        rows = [compare(workdir, primary, None, args)]
        rows += [compare(workdir, primary, None, args, Variant(same_families=True))]
        if TMPFS.is_dir():
            on_tmpfs = Variant(same_families=True, on_tmpfs=True)
            rows += [compare(workdir, primary, None, args, on_tmpfs)]
        rows += [compare(workdir, primary, delay, args) for delay in DELAYS_MS]
    print_table(
        f"One cycle, one target ({args.server_kind} primary with a replica)",
        HEADER,
        [format_row(row) for row in rows],
    )
    ours_samples, theirs_samples = rows[0].samples
    print(f"- sample lines: {ours_samples} in our file, {theirs_samples} from redis_exporter")
    checks = ", ".join(ms(row.theirs_stat_cpu) for row in rows)
    print(f"- redis_exporter CPU per scrape by /proc/PID/stat ticks, row by row: {checks}")
    report_load()


@dataclass(frozen=True, slots=True)
class Sides:
    """Both sides, ready to run over one route."""

    route: Route
    collector: Collector
    exporter: RedisExporter
    http: HttpClient

    def ours(self) -> None:
        """One of our cycles; it must succeed."""
        require_ok(self.collector.cycle())

    def theirs(self) -> None:
        """One redis_exporter scrape; it must reach the server."""
        require_up(self.http.get("/metrics"))

    def samples(self) -> tuple[int, int]:
        """Sample lines in our last file and in a fresh redis_exporter answer."""
        ours = (self.collector.config.textfile_dir / "redis_t0.prom").read_bytes()
        return count_samples(ours), count_samples(self.http.get("/metrics"))


def compare(
    workdir: Path,
    server: RedisServer,
    delay_ms: float | None,
    args: argparse.Namespace,
    variant: Variant | None = None,
) -> Comparison:
    """Run both sides in turn, `iterations` times each after a warm-up, over one route."""
    iterations = max(MIN_ITERATIONS, args.iterations // ITERATION_SHARE[delay_ms])
    variant = variant or Variant()
    with both_sides(workdir, server, delay_ms, variant) as sides:
        for _ in range(args.warmup):
            sides.ours()
            sides.theirs()
        freeze_long_lived()  # as the daemon does after its first cycle
        return measure(sides, iterations)


@dataclass(frozen=True, slots=True)
class Variant:
    """How our side runs in a direct row: which families, where the textfiles go.

    same_families: ours without the LATENCY families (a third of our file), which Debian's
    redis_exporter 1.45 does not have, so both sides export about the same series.
    on_tmpfs: our textfiles in /dev/shm, where fsync and rename do not wait for a disk.
    """

    same_families: bool = False
    on_tmpfs: bool = False


@contextlib.contextmanager
def both_sides(
    workdir: Path, server: RedisServer, delay_ms: float | None, variant: Variant
) -> Iterator[Sides]:
    """Start the route, redis_exporter and our collector; stop them all afterwards."""
    with contextlib.ExitStack() as running:
        route = open_route(running, workdir, server, delay_ms, variant)
        exporter = running.enter_context(RedisExporter.start(workdir / "exporter", route.theirs))
        top = ["exclude_latency_histogram_metrics = true"] if variant.same_families else []
        ours_dir = workdir / route.key
        if variant.on_tmpfs:
            ours_dir = Path(running.enter_context(tempfile.TemporaryDirectory(dir=TMPFS)))
        collector = Collector(collector_config(ours_dir, [route.ours], top=top))
        running.callback(collector.close)
        http = HttpClient(exporter.port)
        running.callback(http.close)
        yield Sides(route, collector, exporter, http)


def measure(sides: Sides, iterations: int) -> Comparison:
    """Alternate the two sides `iterations` times; count what the proxies saw meanwhile."""
    route, pid = sides.route, sides.exporter.pid
    ours_before, theirs_before = snapshot(route.ours_proxy), snapshot(route.theirs_proxy)
    ticks_before = proc_stat_cpu_seconds(pid)
    ours, theirs = Tally(), Tally()
    for _ in range(iterations):
        timed_in_process(ours, sides.ours)
        timed_elsewhere(theirs, pid, sides.theirs)
    ticks_each = (proc_stat_cpu_seconds(pid) - ticks_before) / iterations
    return Comparison(
        route,
        iterations,
        ours,
        theirs,
        traffic(route.ours_proxy, ours_before, iterations),
        traffic(route.theirs_proxy, theirs_before, iterations),
        ticks_each,
        sides.samples(),
    )


def open_route(
    running: contextlib.ExitStack,
    workdir: Path,
    server: RedisServer,
    delay_ms: float | None,
    variant: Variant,
) -> Route:
    """Direct when delay_ms is None; else one proxy per side, so each side's traffic is its own."""
    if delay_ms is None and variant.on_tmpfs:
        label = "loopback, direct, same families, textfiles on tmpfs"
        return Route("direct-tmpfs", label, server.addr, server.addr)
    if delay_ms is None and variant.same_families:
        return Route("direct-same", "loopback, direct, same families", server.addr, server.addr)
    if delay_ms is None:
        return Route("direct", "loopback, direct", server.addr, server.addr)
    proxies = [
        running.enter_context(Proxy.start(workdir / "proxies", server.port, delay_ms))
        for _ in range(2)
    ]
    label = f"proxy, +{delay_ms:g} ms each way"
    return Route(
        f"proxy-{delay_ms:g}ms", label, proxies[0].addr, proxies[1].addr, proxies[0], proxies[1]
    )


def count_samples(exposition: bytes) -> int:
    """Lines that are samples, not comments."""
    return sum(1 for line in exposition.splitlines() if line and not line.startswith(b"#"))


def snapshot(proxy: Proxy | None) -> dict[str, int]:
    """The proxy's counters, or nothing without a proxy."""
    return proxy.counters() if proxy is not None else {}


def traffic(proxy: Proxy | None, before: dict[str, int], cycles: int) -> Traffic | None:
    """What the proxy counted since `before`, per cycle."""
    if proxy is None:
        return None
    after = proxy.counters()
    return Traffic(
        (after["round_trips"] - before["round_trips"]) / cycles,
        (after["connections"] - before["connections"]) / cycles,
    )


HEADER = (
    "path",
    "n",
    *WALL_AND_CPU,
    "round trips ours/exporter",
    "connections ours/exporter",
)


def format_row(row: Comparison) -> list[str]:
    """One table row; ratios are ours / exporter's, below 1 is better."""
    return [
        row.route.label,
        str(row.iterations),
        *wall_and_cpu(row.ours, row.theirs),
        both(row.ours_traffic, row.theirs_traffic, lambda t: t.round_trips),
        both(row.ours_traffic, row.theirs_traffic, lambda t: t.connections),
    ]


def both(ours: Traffic | None, theirs: Traffic | None, pick: Callable[[Traffic], float]) -> str:
    """`1 / 6` for a proxied row, `-` for a direct one."""
    if ours is None or theirs is None:
        return "-"
    return f"{pick(ours):.3g} / {pick(theirs):.3g}"


if __name__ == "__main__":
    main()
