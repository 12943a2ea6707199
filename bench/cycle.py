"""Per-cycle wall and CPU time for one target: our cycle versus one redis_exporter scrape.

Ours: `Collector.cycle()` in this process (scrape over a kept-open connection, translate, render,
atomic write), its CPU time from time.process_time(). Theirs: one HTTP GET of redis_exporter's
/metrics, its CPU time from /proc/PID/stat. Both read the same busy primary (thousands of keys in
four databases, commandstats and errorstats, a replica attached), directly and through
bench/proxy.py with 0, 1 and 10 ms added each way; the proxy counts the round trips.
--commands N first has the server's clients call cheap commands until its commandstats lists N,
as on a production server (each adds lines to commandstats, latencystats and LATENCY HISTOGRAM).

The process as users run it: a `textfile-redis run` process with a short interval, its CPU per
cycle from /proc (all threads, /proc/PID/stat ticks and the live threads' schedstat), its cycles
counted by the server's INFO calls, next to `Collector.cycle()` in this process at the same pace
(what the process adds is the difference) and redis_exporter scraped at that pace.
"""

from __future__ import annotations

import contextlib
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bench.common import (
    REPO,
    WALL_AND_CPU,
    HttpClient,
    Proxy,
    RedisExporter,
    Tally,
    arguments,
    child_env,
    collector_config,
    command_calls,
    describe_machine,
    ms,
    print_table,
    proc_cpu_seconds,
    proc_stat_cpu_seconds,
    proc_thread_cpu_seconds,
    ratio,
    report_load,
    require_ok,
    require_up,
    start_busy_primary,
    start_process,
    timed_elsewhere,
    timed_in_process,
    wait_for,
    wall_and_cpu,
    workspace,
    write_config_file,
)
from bench.memory import CycleCounter
from textfile_redis.cycle import Collector
from textfile_redis.daemon import freeze_long_lived

if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable, Iterator

    import redis

    from tests.support.servers import RedisServer

DELAYS_MS = (0.0, 1.0, 10.0)
TMPFS = Path("/dev/shm")  # noqa: S108 - a fixed mount point, not a temp file name
# A scrape through 10 ms each way takes tens of round trips' time: fewer repetitions suffice.
ITERATION_SHARE = {None: 1, 0.0: 1, 1.0: 2, 10.0: 10}
MIN_ITERATIONS = 3
PROCESS_INTERVAL = 0.1  # seconds between the `run` process's cycles, and between its scrapes
PROCESS_TIMEOUT = 0.09  # the product wants a timeout below the interval
POLL_INTERVAL = 0.2
# Cheap commands of every type a cache's clients call: each is called CALLS_EACH times, so its
# LATENCY HISTOGRAM spreads over a few buckets as a real server's does.
MORE_COMMANDS: tuple[tuple[str, ...], ...] = (
    ("PING",),
    ("ECHO", "x"),
    ("EXISTS", "cache:1"),
    ("TYPE", "cache:1"),
    ("TTL", "cache:1"),
    ("PTTL", "cache:1"),
    ("STRLEN", "cache:1"),
    ("GETRANGE", "cache:1", "0", "3"),
    ("MGET", "cache:1", "cache:2"),
    ("MSET", "bench:a", "1", "bench:b", "2"),
    ("INCRBY", "bench:n", "2"),
    ("DECR", "bench:n"),
    ("APPEND", "bench:s", "x"),
    ("SETNX", "bench:x", "1"),
    ("HSET", "bench:h", "name", "x", "visits", "1"),
    ("HGET", "bench:h", "name"),
    ("HGETALL", "bench:h"),
    ("HLEN", "bench:h"),
    ("HINCRBY", "bench:h", "visits", "1"),
    ("HEXISTS", "bench:h", "name"),
    ("RPUSH", "bench:l", "a"),
    ("LRANGE", "bench:l", "0", "-1"),
    ("LLEN", "bench:l"),
    ("LINDEX", "bench:l", "0"),
    ("SCARD", "tags"),
    ("SISMEMBER", "tags", "red"),
    ("SMEMBERS", "tags"),
    ("ZCARD", "leaderboard"),
    ("ZSCORE", "leaderboard", "ada"),
    ("ZRANGE", "leaderboard", "0", "-1"),
    ("XLEN", "events"),
    ("DBSIZE",),
    ("TIME",),
    ("LASTSAVE",),
    ("UNLINK", "bench:none"),
    ("PEXPIRE", "bench:s", "100000"),
    ("GETDEL", "bench:none"),
    ("SETRANGE", "bench:s", "0", "y"),
    ("RANDOMKEY",),
    ("TOUCH", "cache:1"),
)
CALLS_EACH = 50


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
    args = arguments(__doc__.splitlines()[0], iterations=1000, quick_iterations=20, more=options)
    describe_machine(args.server_kind)
    with workspace() as workdir:
        primary, _replica = start_busy_primary(args.server_kind, workdir, quick=args.quick)
        call_more_commands(primary.client(), args.commands)
        rows = [compare(workdir, primary, None, args)]
        rows += [compare(workdir, primary, None, args, Variant(same_families=True))]
        if TMPFS.is_dir():
            on_tmpfs = Variant(same_families=True, on_tmpfs=True)
            rows += [compare(workdir, primary, None, args, on_tmpfs)]
        if not args.direct_only:
            rows += [compare(workdir, primary, delay, args) for delay in DELAYS_MS]
        processes = [compare_processes(workdir, primary, args, row) for row in rows[:2]]
        distinct = len(command_calls(primary.client()))
    print_table(
        f"One cycle, one target ({args.server_kind} primary with a replica)",
        HEADER,
        [format_row(row) for row in rows],
    )
    ours_samples, theirs_samples = rows[0].samples
    print(f"- sample lines: {ours_samples} in our file, {theirs_samples} from redis_exporter")
    print(f"- commands in the server's commandstats at the end: {distinct}")
    checks = ", ".join(ms(row.theirs_stat_cpu) for row in rows)
    print(f"- redis_exporter CPU per scrape by /proc/PID/stat ticks, row by row: {checks}")
    title = f"The process as users run it, a cycle every {PROCESS_INTERVAL * 1000:g} ms"
    print_table(title, PROCESS_HEADER, [format_process_row(row) for row in processes])
    report_load()


def options(parser: argparse.ArgumentParser) -> None:
    """The options of this benchmark alone."""
    parser.add_argument(
        "--commands", type=int, default=0, help="distinct commands the server has seen (0: as is)"
    )
    parser.add_argument("--direct-only", action="store_true", help="no rows through proxies")


def call_more_commands(client: redis.Redis, distinct: int) -> None:
    """Call cheap commands until the server's commandstats lists `distinct` (or the list ends)."""
    calls = iter(MORE_COMMANDS)
    while len(command_calls(client)) < distinct and (command := next(calls, None)) is not None:
        pipe = client.pipeline(transaction=False)
        for _ in range(CALLS_EACH):
            pipe.execute_command(*command)  # type: ignore[no-untyped-call]  # untyped in redis-py
        pipe.execute()


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


@dataclass(frozen=True, slots=True)
class ProcessComparison:
    """A `textfile-redis run` process and redis_exporter, at the same pace, CPU per cycle."""

    label: str
    cycles: int
    ours: float  # /proc/PID/stat ticks, every thread that ever ran
    ours_schedstat: float  # the live threads' schedstat, to the nanosecond
    ours_main: float  # the main thread's schedstat: the daemon's loop, not the collection
    paced: float  # Collector.cycle() in this process at the process's pace
    in_process: float  # the matching in-process row's figure (back to back), for comparison
    theirs: float


def compare_processes(
    workdir: Path, server: RedisServer, args: argparse.Namespace, row: Comparison
) -> ProcessComparison:
    """`textfile-redis run` over half the row's cycles, then redis_exporter at its pace."""
    same = row.route.key == "direct-same"
    top = ["exclude_latency_histogram_metrics = true"] if same else []
    here = workdir / f"process-{row.route.key}"
    (here / "textfile").mkdir(parents=True)
    config = write_config_file(
        here / "config.toml",
        here / "textfile",
        [server.addr],
        timeout=PROCESS_TIMEOUT,
        interval=PROCESS_INTERVAL,
        top=top,
    )
    cycles = max(MIN_ITERATIONS, args.iterations // 2)
    ours = run_process(here, server, config, cycles, args.warmup)
    paced = paced_cycles(here / "in-process", server, top, cycles, args.warmup)
    with RedisExporter.start(here / "exporter", server.addr) as exporter:
        theirs = paced_scrapes(HttpClient(exporter.port), exporter.pid, cycles, args.warmup)
    label = row.route.label.replace("loopback, direct", "`run` process")
    return ProcessComparison(
        label, ours.cycles, *ours.per_cycle(), paced, row.ours.cpu_each, theirs
    )


def paced_cycles(
    here: Path, server: RedisServer, top: list[str], cycles: int, warmup: int
) -> float:
    """CPU per `Collector.cycle()` in this process, one every PROCESS_INTERVAL as `run` does.

    The same collection as the process's, at its pace: a cycle after 100 ms idle costs more
    than one straight after another (caches gone cold), so the process's own overhead is its
    figure less this one, not less the back-to-back figure.
    """
    collector = Collector(collector_config(here, [server.addr], top=top))
    try:
        for _ in range(warmup):
            require_ok(collector.cycle())
        freeze_long_lived()  # as the daemon does after its first cycle
        cpu0 = time.process_time()
        at_pace(lambda: require_ok(collector.cycle()), cycles)
        return (time.process_time() - cpu0) / cycles
    finally:
        collector.close()


@dataclass(frozen=True, slots=True)
class ProcessCpu:
    """A run process's CPU over `cycles` cycles: stat ticks, schedstat, its main thread's."""

    cycles: int
    ticks: float
    schedstat: float
    main_thread: float

    def per_cycle(self) -> tuple[float, float, float]:
        """Each figure divided by the cycles counted."""
        return (
            self.ticks / self.cycles,
            self.schedstat / self.cycles,
            self.main_thread / self.cycles,
        )


def run_process(
    here: Path, server: RedisServer, config: Path, cycles: int, warmup: int
) -> ProcessCpu:
    """The run process's CPU over at least `cycles` cycles."""
    counter = CycleCounter(server.client())
    # As `textfile-redis run` starts, but this tree's package: the console script imports the
    # editable install's, which may be another checkout.
    argv = [sys.executable, "-m", "textfile_redis", "run", "--config", str(config)]
    env = {**child_env(here), "PYTHONPATH": str(REPO)}
    with start_process("textfile-redis run", argv, here / "run.log", env) as daemon:
        wait_cycles(counter, warmup, daemon.check_alive)
        start = counter.cycles()
        before = _process_cpu(daemon.pid)
        wait_cycles(counter, start + cycles, daemon.check_alive)
        after = _process_cpu(daemon.pid)
        counted = counter.cycles() - start
    return ProcessCpu(counted, *(b - a for a, b in zip(before, after, strict=True)))


def _process_cpu(pid: int) -> tuple[float, float, float]:
    """Ticks of every thread, schedstat of the live ones, schedstat of the main thread."""
    return proc_stat_cpu_seconds(pid), proc_cpu_seconds(pid), proc_thread_cpu_seconds(pid, pid)


def wait_cycles(counter: CycleCounter, mark: int, check_alive: Callable[[], None]) -> None:
    """Poll the server until the daemon has run `mark` cycles; fail if it dies or stalls."""

    def done() -> bool:
        check_alive()
        return counter.cycles() >= mark

    timeout = mark * PROCESS_INTERVAL * 4 + 30
    wait_for(done, timeout=timeout, interval=POLL_INTERVAL, message=f"{mark} cycles not reached")


def paced_scrapes(http: HttpClient, pid: int, scrapes: int, warmup: int) -> float:
    """redis_exporter's CPU per scrape, one GET /metrics every PROCESS_INTERVAL."""
    for _ in range(warmup):
        require_up(http.get("/metrics"))
    cpu0 = proc_cpu_seconds(pid)
    at_pace(lambda: require_up(http.get("/metrics")), scrapes)
    cpu = (proc_cpu_seconds(pid) - cpu0) / scrapes
    http.close()
    return cpu


def at_pace(work: Callable[[], object], times: int) -> None:
    """Run `work` `times` times, starting one every PROCESS_INTERVAL, as `run` cycles."""
    next_start = time.perf_counter()
    for _ in range(times):
        work()
        next_start += PROCESS_INTERVAL
        time.sleep(max(0.0, next_start - time.perf_counter()))  # the pace is the point


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


PROCESS_HEADER = (
    "process",
    "cycles",
    "CPU per cycle (stat ticks)",
    "the same by schedstat",
    "of which the main thread",
    "in-process, same pace",
    "process / that",
    "in-process, back to back (above)",
    "process / that",
    "CPU exporter",
    "CPU ratio",
)


def format_process_row(row: ProcessComparison) -> list[str]:
    """One row of the process table; ratios are ours / theirs."""
    return [
        row.label,
        str(row.cycles),
        ms(row.ours),
        ms(row.ours_schedstat),
        ms(row.ours_main),
        ms(row.paced),
        ratio(row.ours, row.paced),
        ms(row.in_process),
        ratio(row.ours, row.in_process),
        ms(row.theirs),
        ratio(row.ours, row.theirs),
    ]


def both(ours: Traffic | None, theirs: Traffic | None, pick: Callable[[Traffic], float]) -> str:
    """`1 / 6` for a proxied row, `-` for a direct one."""
    if ours is None or theirs is None:
        return "-"
    return f"{pick(ours):.3g} / {pick(theirs):.3g}"


if __name__ == "__main__":
    main()
