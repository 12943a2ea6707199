"""One cycle over 1, 10, 50 and 100 targets: ours versus redis_exporter's /scrape, concurrently.

Every target is a server of its own (100 redis-server processes at most; each is small: a few
hundred keys in two databases, commandstats, errorstats, a slowlog entry and a latency event).
Ours: one `Collector.cycle()` over all targets (a thread per target, connections kept open).
Theirs: one redis_exporter process, asked `/scrape?target=...` for every target at once, one
kept-alive HTTP connection per target, as Prometheus scrapes each target on its own connection.

    .venv/bin/python -m bench.targets [--quick]           # the cycle table above
    .venv/bin/python -m bench.targets run --targets 200 --minutes 6 --every 30
    .venv/bin/python -m bench.targets stop --targets 500

`run`: `textfile-redis run` over N servers at a 1 s interval, its RSS, CPU (share of one core)
and threads every `--every` seconds; then redis_exporter for as long, asked for every server
once a second. `stop`: SIGTERM at moments during and after a reload to N new (unreachable)
targets, and the time to exit 0. Both run the product as users do, `python -m textfile_redis`,
from this tree or from `--tree DIR` (another checkout, for a baseline).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from bench.common import (
    DEFAULT_KIND,
    REPO,
    WALL_AND_CPU,
    HttpClient,
    RedisExporter,
    RedisServer,
    Tally,
    arguments,
    child_env,
    collector_config,
    describe_machine,
    fill_keyspace,
    mib,
    populate,
    print_table,
    proc_rss_bytes,
    proc_stat_cpu_seconds,
    report_load,
    require_ok,
    require_up,
    start_process,
    timed_elsewhere,
    timed_in_process,
    wait_for,
    wall_and_cpu,
    workspace,
    write_config_file,
)
from tests.support.processes import free_ports
from textfile_redis.cycle import Collector
from textfile_redis.daemon import freeze_long_lived

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

TARGET_COUNTS = (1, 10, 50, 100)
TARGET_COUNTS_QUICK = (1, 10)
SMALL_KEYSPACE = {0: 200, 1: 100}
MIN_ITERATIONS = 3
MAX_TARGET_CYCLES = 2000  # iterations shrink as targets grow: n * iterations stays near this


LONG_INTERVAL = 1.0  # seconds: a new user's "every second"
LONG_TIMEOUT = 0.5
STOP_DELAYS = (0.0, 0.05, 0.2, 0.5, 1.0, 2.0)  # seconds from SIGHUP to SIGTERM
STOP_TARGETS_BEFORE = 10
STOP_WAIT = 30.0  # seconds a stop may take before the child is killed and the row says so


def main() -> None:
    """Dispatch: `run` and `stop` have their own options; else the cycle table."""
    if sys.argv[1:2] == ["run"]:
        long_run(long_arguments(sys.argv[2:]))
    elif sys.argv[1:2] == ["stop"]:
        stops_after_reload(long_arguments(sys.argv[2:]))
    else:
        cycle_table()


def cycle_table() -> None:
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


def long_arguments(argv: Sequence[str]) -> argparse.Namespace:
    """The options of `run` and `stop`."""
    parser = argparse.ArgumentParser(description="many targets over minutes, or stops")
    parser.add_argument("--targets", type=int, default=200)
    parser.add_argument("--minutes", type=float, default=6.0, help="run: each side's length")
    parser.add_argument("--every", type=float, default=30.0, help="run: seconds between samples")
    parser.add_argument("--tree", type=Path, default=REPO, help="the checkout to run")
    parser.add_argument("--server-kind", default=DEFAULT_KIND)
    parser.add_argument("--skip-exporter", action="store_true", help="run: ours only")
    return parser.parse_args(argv)


@dataclass(slots=True)
class Curve:
    """A process's RSS, CPU share of one core and thread count, sample by sample."""

    name: str
    seconds: list[float] = field(default_factory=list)
    rss: list[int] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    threads: list[int] = field(default_factory=list)
    note: str = ""


class Sampler:
    """Samples one process every `every` seconds: RSS now, CPU share since the last sample."""

    def __init__(self, curve: Curve, pid: int, every: float) -> None:
        self.curve, self._pid, self._every = curve, pid, every
        self._start = self._last = time.monotonic()
        self._cpu = proc_stat_cpu_seconds(pid)
        self._due = self._start + every

    def poll(self) -> None:
        """Take a sample when one is due."""
        now = time.monotonic()
        if now < self._due:
            return
        cpu = proc_stat_cpu_seconds(self._pid)
        curve = self.curve
        curve.seconds.append(now - self._start)
        curve.rss.append(proc_rss_bytes(self._pid))
        curve.cpu.append((cpu - self._cpu) / (now - self._last))
        curve.threads.append(_threads(self._pid))
        self._cpu, self._last, self._due = cpu, now, self._due + self._every


def _threads(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Threads:"):
            return int(line.split()[1])
    return 0


def long_run(args: argparse.Namespace) -> None:
    """Ours, then redis_exporter, each for --minutes over the same servers; the curves."""
    describe_machine(args.server_kind)
    with workspace() as workdir:
        servers = start_servers(args.server_kind, workdir, args.targets)
        addrs = [server.addr for server in servers]
        curves = [watch_daemon(workdir, addrs, args)]
        if not args.skip_exporter:
            curves.append(watch_exporter(workdir, addrs, args))
    print_curves(curves, args)
    report_load()


def product_env(workdir: Path, tree: Path) -> dict[str, str]:
    """A child's environment that imports textfile_redis from `tree`, compiled as installed.

    The child runs with `python -P`: `-m` would otherwise put the working directory first.
    """
    env = child_env(workdir)
    env["PYTHONPATH"] = str(tree)
    return env


def watch_daemon(workdir: Path, addrs: Sequence[str], args: argparse.Namespace) -> Curve:
    """`textfile-redis run` at a 1 s interval over every server, sampled for --minutes."""
    textfile_dir = workdir / "textfile"
    textfile_dir.mkdir()
    config = write_config_file(
        workdir / "etc" / "config.toml",
        textfile_dir,
        addrs,
        timeout=LONG_TIMEOUT,
        interval=LONG_INTERVAL,
    )
    argv = [sys.executable, "-P", "-m", "textfile_redis", "run", "--config", str(config)]
    env = product_env(workdir, args.tree)
    with start_process(
        "textfile-redis run", [*argv, "--log-level=warning"], workdir / "d.log", env
    ) as daemon:
        wait_for(lambda: len(list(textfile_dir.iterdir())) >= len(addrs), timeout=60)
        sampler = Sampler(Curve("textfile-redis run"), daemon.pid, args.every)
        stale = 0
        end = time.monotonic() + args.minutes * 60
        while time.monotonic() < end:
            time.sleep(min(1.0, args.every))
            daemon.check_alive()
            stale = max(stale, _stale_files(textfile_dir, 3 * LONG_INTERVAL))
            sampler.poll()
    sampler.curve.note = f"at most {stale} file(s) older than {3 * LONG_INTERVAL:g} s at a check"
    return sampler.curve


def _stale_files(textfile_dir: Path, age: float) -> int:
    now = time.time()
    count = 0
    for path in textfile_dir.glob("*.prom"):
        with contextlib.suppress(FileNotFoundError):
            count += now - path.stat().st_mtime > age
    return count


def watch_exporter(workdir: Path, addrs: Sequence[str], args: argparse.Namespace) -> Curve:
    """redis_exporter asked for every server at once, once a second, sampled for --minutes."""
    with (
        RedisExporter.start(workdir / "exporter", addrs[0]) as exporter,
        concurrent_scrapes(exporter, addrs) as scrape_all,
    ):
        scrape_all()
        sampler = Sampler(Curve("redis_exporter"), exporter.pid, args.every)
        start = time.monotonic()
        late = 0
        tick = 0
        while (now := time.monotonic()) < start + args.minutes * 60:
            tick += 1
            scrape_all()
            sampler.poll()
            wait = start + tick * LONG_INTERVAL - time.monotonic()
            late += wait < 0
            time.sleep(max(0.0, wait))
    sampler.curve.note = f"{late} of {tick} rounds of scrapes outlasted the interval"
    del now
    return sampler.curve


def print_curves(curves: Sequence[Curve], args: argparse.Namespace) -> None:
    """One row per sample, both sides side by side; then the means after the first minute."""
    header = ["seconds"]
    for curve in curves:
        header += [f"{curve.name} RSS", f"{curve.name} CPU", f"{curve.name} threads"]
    rows = []
    for n, seconds in enumerate(curves[0].seconds):
        row = [f"{seconds:.0f}"]
        for curve in curves:
            if n < len(curve.seconds):
                row += [mib(curve.rss[n]), f"{curve.cpu[n]:.0%}", str(curve.threads[n])]
            else:
                row += ["-", "-", "-"]
        rows.append(row)
    title = f"{args.targets} targets, a cycle every {LONG_INTERVAL:g} s, for {args.minutes:g} min"
    print_table(title, header, rows)
    for curve in curves:
        settled = [n for n, s in enumerate(curve.seconds) if s > 60] or [0]
        cpu = sum(curve.cpu[n] for n in settled) / len(settled)
        growth = (curve.rss[-1] - curve.rss[settled[0]]) / 2**20
        print(
            f"- {curve.name}: CPU {cpu:.0%} of a core after the first minute; RSS "
            f"{mib(curve.rss[settled[0]])} at {curve.seconds[settled[0]]:.0f} s, "
            f"{mib(curve.rss[-1])} at the end ({growth:+.1f} MiB); {curve.note}"
        )


def stops_after_reload(args: argparse.Namespace) -> None:
    """SIGTERM at moments after a SIGHUP that swaps in N new targets; time to exit."""
    rows = []
    with workspace() as workdir:
        for n, delay in enumerate(STOP_DELAYS):
            took, status, left = stop_after_reload(workdir / f"stop-{n}", args, delay)
            rows.append([str(args.targets), f"{delay * 1000:.0f} ms", took, status, str(left)])
    header = ("targets reloaded", "SIGTERM after SIGHUP", "exit after", "status", "files left")
    print_table("Stop during and after a reload", header, rows)


def stop_after_reload(
    workdir: Path, args: argparse.Namespace, delay: float
) -> tuple[str, str, int]:
    """One stop: a daemon with a few targets, a reload to N others, SIGTERM `delay` after."""
    textfile_dir = workdir / "textfile"
    textfile_dir.mkdir(parents=True)
    ports = free_ports(STOP_TARGETS_BEFORE + args.targets)
    addrs = [f"redis://127.0.0.1:{port}" for port in ports]
    config = workdir / "etc" / "config.toml"

    def configure(chosen: Sequence[str], prefix: str) -> None:
        write_config_file(config, textfile_dir, chosen, timeout=LONG_TIMEOUT, interval=1)
        config.write_text(config.read_text().replace('name = "t', f'name = "{prefix}'))

    configure(addrs[:STOP_TARGETS_BEFORE], "a")
    argv = [sys.executable, "-P", "-m", "textfile_redis", "run", "--config", str(config)]
    env = product_env(workdir, args.tree)
    with start_process("textfile-redis run", argv, workdir / "d.log", env) as daemon:
        wait_for(lambda: len(list(textfile_dir.glob("*.prom"))) >= STOP_TARGETS_BEFORE)
        configure(addrs[STOP_TARGETS_BEFORE:], "b")
        os.kill(daemon.pid, signal.SIGHUP)
        time.sleep(delay)
        signalled = time.monotonic()
        os.kill(daemon.pid, signal.SIGTERM)
        try:
            status = str(daemon.process.wait(STOP_WAIT))
        except subprocess.TimeoutExpired:
            status = "killed"
        took = f"{time.monotonic() - signalled:.3f} s"
    return took, status, len(list(textfile_dir.iterdir()))


if __name__ == "__main__":
    main()
