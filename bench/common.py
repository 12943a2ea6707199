"""Shared by the benchmarks: servers, redis_exporter, the proxy, measurements and tables.

Every benchmark runs both sides against the same servers in one process, so a busy machine slows
both alike and the ratios stay fair. Servers come from tests/support/, the test suite's own
starters; redis_exporter is Debian's prometheus-redis-exporter.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import itertools
import json
import os
import platform
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import redis
import redis.utils

from tests.support.processes import (
    ManagedProcess,
    free_port,
    launch_on_free_port,
    spawn,
    stop_all,
    wait_for,
)
from tests.support.servers import RedisServer, binary_for, populate
from textfile_redis.config import Config, Overrides, load_config

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

    from textfile_redis.cycle import TargetReport

__all__ = ["RedisServer", "free_port", "populate", "wait_for"]

REPO = Path(__file__).resolve().parent.parent
BENCH_DIR = REPO / "bench"

DEFAULT_KIND = "redis-7.0"
EXPORTER_BINARY = "prometheus-redis-exporter"
EXPORTER_DEFAULT_PORT = 9121
LOOPBACK = "127.0.0.1"
HTTP_TIMEOUT = 30.0
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
# Thousands of keys over several databases: INFO's keyspace section as on a real cache.
KEYS_PER_DB = {0: 5000, 1: 2000, 2: 1000, 3: 500}
KEYS_PER_DB_QUICK = {0: 500, 1: 200, 2: 100, 3: 50}
PIPELINE_BATCH = 1000
FLOOR_IMPORTS = "import redis, prometheus_client, watchdog.observers"
PRODUCT_IMPORTS = "import textfile_redis.cli"
PRODUCT_ENV = ("REDIS_ADDR", "REDIS_USER", "REDIS_PASSWORD", "REDIS_PASSWORD_FILE")


# --- command line ----------------------------------------------------------------------------


def arguments(
    description: str,
    *,
    iterations: int,
    quick_iterations: int,
    more: Callable[[argparse.ArgumentParser], None] | None = None,
) -> argparse.Namespace:
    """The options every benchmark takes, plus `more`; --quick swaps in `quick_iterations`."""
    parser = argparse.ArgumentParser(description=description)
    if more is not None:
        more(parser)
    parser.add_argument("--quick", action="store_true", help="a few iterations: proves it runs")
    parser.add_argument("--iterations", type=int, help=f"measured repetitions ({iterations})")
    parser.add_argument(
        "--server-kind", default=DEFAULT_KIND, help="a server kind of tests/support/servers.py"
    )
    args = parser.parse_args()
    if args.iterations is None:
        args.iterations = quick_iterations if args.quick else iterations
    args.warmup = max(2, args.iterations // 10)
    return args


# --- processes ---------------------------------------------------------------------------------


@contextlib.contextmanager
def workspace() -> Iterator[Path]:
    """A temp directory for servers and textfiles; everything started in it stops at the end."""
    with tempfile.TemporaryDirectory(prefix="textfile-redis-bench-") as name:
        try:
            yield Path(name)
        finally:
            stop_everything()


def stop_everything() -> None:
    """Stop every server, exporter and proxy still running (tests.support.processes lists them)."""
    stop_all()


def start_busy_primary(kind: str, workdir: Path, *, quick: bool) -> tuple[RedisServer, RedisServer]:
    """A primary that looks like a busy cache, and its replica; both stop with the workspace."""
    primary = RedisServer.start(kind, workdir / "primary")
    fill_keyspace(primary, KEYS_PER_DB_QUICK if quick else KEYS_PER_DB)
    populate(primary.client())  # commandstats, errorstats, slowlog and a latency event
    replica = RedisServer.start(kind, workdir / "replica", replica_of=primary)
    return primary, replica


def fill_keyspace(server: RedisServer, keys_per_db: dict[int, int]) -> None:
    """Write strings, hashes and lists, a third of them with a TTL, in pipelined batches."""
    for db, count in keys_per_db.items():
        pipe = server.client(db=db).pipeline(transaction=False)
        for n in range(count):
            _queue_key(pipe, n)
            if n % PIPELINE_BATCH == PIPELINE_BATCH - 1:
                pipe.execute()
        pipe.execute()


def _queue_key(pipe: redis.client.Pipeline, n: int) -> None:
    ttl = 3600 if n % 3 == 0 else None
    if n % 5 == 0:
        pipe.hset(f"user:{n}", mapping={"name": f"user-{n}", "visits": n})
        if ttl:
            pipe.expire(f"user:{n}", ttl)
    elif n % 7 == 0:
        pipe.rpush(f"queue:{n}", "a", "b", "c")
    else:
        pipe.set(f"cache:{n}", "x" * 64, ex=ttl)


class RedisExporter(ManagedProcess):
    """Debian's redis_exporter on a free loopback port, with --redis-only-metrics."""

    name = "redis_exporter"

    @classmethod
    def start(cls, workdir: Path, redis_addr: str) -> RedisExporter:
        """Start it scraping `redis_addr` on /metrics (and any target on /scrape)."""
        binary = shutil.which(EXPORTER_BINARY)
        if binary is None:
            msg = f"{EXPORTER_BINARY} is not on PATH: apt-get install prometheus-redis-exporter"
            raise FileNotFoundError(msg)
        workdir.mkdir(parents=True, exist_ok=True)

        def launch(port: int) -> RedisExporter:
            argv = [binary, *exporter_options(port, redis_addr)]
            log_path = workdir / f"redis_exporter-{port}.log"
            return cls(spawn(argv, log_path), port, log_path)

        return launch_on_free_port(launch, RedisExporter.wait_until_serving)

    def wait_until_serving(self) -> None:
        """Wait for /health, which answers without scraping Redis."""
        wait_for(self._healthy, message=f"redis_exporter on {self.port} never answered /health")

    def _healthy(self) -> bool:
        self.check_alive()
        try:
            with contextlib.closing(HttpClient(self.port)) as client:
                client.get("/health")
        except OSError:
            return False
        return True

    def cpu_seconds(self) -> float:
        """User plus system CPU the process has used so far."""
        return proc_cpu_seconds(self.pid)

    def scrape_path(self, addr: str) -> str:
        """The multi-target endpoint's path for one server."""
        return f"/scrape?target={addr}"


def exporter_options(port: int, redis_addr: str) -> list[str]:
    """redis_exporter's flags: loopback only, and only Redis metrics, as we export."""
    return [
        f"--web.listen-address={LOOPBACK}:{port}",
        f"--redis.addr={redis_addr}",
        "--redis-only-metrics",
    ]


class HttpClient:
    """One kept-alive HTTP connection, as Prometheus keeps one per target."""

    def __init__(self, port: int) -> None:
        self._connection = http.client.HTTPConnection(LOOPBACK, port, timeout=HTTP_TIMEOUT)

    def get(self, path: str) -> bytes:
        """GET path and return the body; raise OSError unless it is 200 OK."""
        self._connection.request("GET", path)
        response = self._connection.getresponse()
        body = response.read()
        if response.status != http.client.OK:
            msg = f"GET {path}: HTTP {response.status}"
            raise OSError(msg)
        return body

    def close(self) -> None:
        """Close the connection."""
        self._connection.close()


class Proxy(ManagedProcess):
    """bench/proxy.py in its own process, so its CPU time is nobody's; see that file."""

    name = "proxy"

    @classmethod
    def start(cls, workdir: Path, upstream_port: int, delay_ms: float) -> Proxy:
        """Start a proxy to `upstream_port` with `delay_ms` each way; return once it listens."""
        workdir.mkdir(parents=True, exist_ok=True)
        log_path = workdir / f"proxy-{upstream_port}-{delay_ms:g}ms-{time.monotonic_ns()}.log"
        argv = [sys.executable, "-m", "bench.proxy", f"--upstream-port={upstream_port}"]
        argv.append(f"--delay-ms={delay_ms}")
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, cwd=REPO
            )
        assert process.stdout is not None  # noqa: S101 - stdout=PIPE above
        port = int(process.stdout.readline().split()[1])
        return cls(process, port, log_path)

    @property
    def addr(self) -> str:
        """The proxy's address as a redis:// URL."""
        return f"redis://{LOOPBACK}:{self.port}"

    def counters(self) -> dict[str, int]:
        """The proxy's counters now: connections, round_trips, bytes_to_server, bytes_to_client."""
        assert self.process.stdin is not None  # noqa: S101 - stdin=PIPE in start()
        assert self.process.stdout is not None  # noqa: S101 - stdout=PIPE in start()
        self.process.stdin.write(b"stats\n")
        self.process.stdin.flush()
        counters: dict[str, int] = json.loads(self.process.stdout.readline())
        return counters

    def stop(self) -> None:
        """End of stdin stops it cleanly; SIGTERM if it does not."""
        if self.process.stdin is not None and not self.process.stdin.closed:
            with contextlib.suppress(BrokenPipeError):
                self.process.stdin.close()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(2)
        super().stop()


# --- what a process costs ------------------------------------------------------------------------


def proc_cpu_seconds(pid: int) -> float:
    """CPU time a process has used so far, all its threads, to the nanosecond.

    /proc/PID/stat's utime and stime count 10 ms ticks, too coarse for a few scrapes; each
    thread's schedstat starts with its time on a CPU in nanoseconds. redis_exporter's Go threads
    live as long as the process, so the sum over live threads is the whole.
    """
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(FileNotFoundError):  # a thread that ended meanwhile
            total += int((task / "schedstat").read_text().split()[0])
    return total / 1e9


def proc_thread_cpu_seconds(pid: int, tid: int) -> float:
    """One thread's time on a CPU so far, to the nanosecond (its schedstat); the main's: pid."""
    return int(Path(f"/proc/{pid}/task/{tid}/schedstat").read_text().split()[0]) / 1e9


def proc_stat_cpu_seconds(pid: int) -> float:
    """The utime + stime of /proc/PID/stat (10 ms ticks), to check proc_cpu_seconds over a run."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat.rsplit(")", 1)[1].split()  # the command name may hold spaces and parentheses
    utime, stime = int(fields[11]), int(fields[12])
    return (utime + stime) / CLOCK_TICKS


def proc_rss_bytes(pid: int) -> int:
    """VmRSS of a process, from /proc/PID/status."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    msg = f"no VmRSS for pid {pid}"
    raise LookupError(msg)


def children_cpu_seconds() -> float:
    """CPU used by this process's waited-for children so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


@dataclass(slots=True)
class Tally:
    """Wall time of each repetition and the CPU time they used in all."""

    walls: list[float] = field(default_factory=list)
    cpu: float = 0.0

    def add(self, wall: float, cpu: float) -> None:
        """Record one repetition."""
        self.walls.append(wall)
        self.cpu += cpu

    @property
    def wall(self) -> float:
        """The median wall time."""
        return statistics.median(self.walls)

    @property
    def cpu_each(self) -> float:
        """CPU time per repetition: the total over all divided by their count."""
        return self.cpu / len(self.walls)


def timed_in_process(tally: Tally, work: Callable[[], object]) -> None:
    """Run work here and record its wall time and this process's CPU time (all threads)."""
    cpu0, wall0 = time.process_time(), time.perf_counter()
    work()
    wall1, cpu1 = time.perf_counter(), time.process_time()
    tally.add(wall1 - wall0, cpu1 - cpu0)


def timed_elsewhere(tally: Tally, pid: int, work: Callable[[], object]) -> None:
    """Run work here (a request) and record its wall time and process `pid`'s CPU time."""
    cpu0, wall0 = proc_cpu_seconds(pid), time.perf_counter()
    work()
    wall1, cpu1 = time.perf_counter(), proc_cpu_seconds(pid)
    tally.add(wall1 - wall0, cpu1 - cpu0)


# --- Redis's own view --------------------------------------------------------------------------


def command_calls(client: redis.Redis) -> dict[str, int]:
    """Calls per command (`info`, `config|get`, ...) from INFO commandstats."""
    stats = client.info("commandstats")
    return {name.removeprefix("cmdstat_"): int(v["calls"]) for name, v in stats.items()}


def redis_cpu_seconds(client: redis.Redis) -> float:
    """The server's used_cpu_sys + used_cpu_user (its whole process, background threads too)."""
    cpu = client.info("cpu")
    return float(cpu["used_cpu_sys"]) + float(cpu["used_cpu_user"])


# --- our side -----------------------------------------------------------------------------------


def collector_config(
    workdir: Path, addrs: Sequence[str], timeout: float = 5.0, top: Sequence[str] = ()
) -> Config:
    """A Config as `textfile-redis` would load it: a TOML file naming each target.

    top: more top-level lines, such as redis_exporter flags every target takes.
    """
    textfile_dir = workdir / "textfile"
    textfile_dir.mkdir(parents=True, exist_ok=True)
    path = write_config_file(workdir / "config.toml", textfile_dir, addrs, timeout=timeout, top=top)
    return load_config(Overrides(config_path=path), {})


def write_config_file(  # noqa: PLR0913 - the few settings benchmarks vary
    path: Path,
    textfile_dir: Path,
    addrs: Sequence[str],
    *,
    timeout: float,
    interval: float = 15,
    top: Sequence[str] = (),
) -> Path:
    """Write a config.toml with one target per address, named t0, t1, ..."""
    lines = [f'textfile_dir = "{textfile_dir}"', f"interval = {interval}", f"timeout = {timeout}"]
    lines += top
    for n, addr in enumerate(addrs):
        lines += ["[[target]]", f'name = "t{n}"', f'addr = "{addr}"']
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def start_process(
    name: str, argv: Sequence[str], log_path: Path, env: dict[str, str]
) -> ManagedProcess:
    """Start a child with its output in log_path; it stops with the workspace, like the servers."""
    log_path.write_bytes(b"")
    with log_path.open("ab") as log:
        child = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log, env=env)
    process = ManagedProcess(child, 0, log_path)
    process.name = name
    return process


def require_ok(reports: list[TargetReport]) -> None:
    """A benchmark of failing cycles would measure the wrong thing: stop instead."""
    for report in reports:
        if not report.ok:
            raise RuntimeError(report.describe())


def require_up(body: bytes) -> None:
    """Likewise for redis_exporter: its scrape must have reached the server."""
    if b"\nredis_up 1\n" not in body:
        msg = "redis_exporter answered without redis_up 1"
        raise RuntimeError(msg)


def child_env(workdir: Path, *, bytecode_cache: bool = True) -> dict[str, str]:
    """The environment for Python children, with compiled modules cached as an install has them.

    pip compiles an installed package's modules; an editable install under
    PYTHONDONTWRITEBYTECODE=1 (as in this project's shells) compiles ours at every start, which
    costs time and memory no deployment pays. The cache lives in the workspace, not the tree.
    redis_exporter's variables, which the product reads, are dropped.
    """
    env = {k: v for k, v in os.environ.items() if k not in PRODUCT_ENV}
    if bytecode_cache:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(workdir / "pycache")
    else:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def venv_bin(name: str) -> Path:
    """A console script beside the running interpreter (.venv/bin/textfile-redis)."""
    return Path(sys.executable).parent / name


# --- reporting -----------------------------------------------------------------------------------


def ms(seconds: float) -> str:
    """Seconds as milliseconds, to a precision that suits the size."""
    value = seconds * 1000
    return f"{value:.2f} ms" if value < 10 else f"{value:.1f} ms"


def mib(size: float) -> str:
    """Bytes as MiB."""
    return f"{size / 2**20:.1f} MiB"


def ratio(ours: float, theirs: float) -> str:
    """The ratio ours / theirs as `0.42x`; below 1 means we use less."""
    return f"{ours / theirs:.2f}x" if theirs > 0 else "n/a"


def wall_and_cpu(ours: Tally, theirs: Tally) -> list[str]:
    """Table cells: both sides' wall and CPU times, each followed by ours / theirs."""
    return [
        ms(ours.wall),
        ms(theirs.wall),
        ratio(ours.wall, theirs.wall),
        ms(ours.cpu_each),
        ms(theirs.cpu_each),
        ratio(ours.cpu_each, theirs.cpu_each),
    ]


WALL_AND_CPU = ("wall ours", "wall exporter", "wall ratio", "CPU ours", "CPU exporter", "CPU ratio")


def print_table(title: str, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """A Markdown table with aligned columns, ready to paste into RESULTS.md."""
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    print(f"\n### {title}\n")
    print(line(header))
    print("| " + " | ".join("-" * w for w in widths) + " |")
    for row in rows:
        print(line(row))
    print()


def describe_machine(kind: str) -> None:
    """Print what the numbers depend on: CPU, versions, parser, filesystem and load."""
    print(f"- machine: {os.cpu_count()} CPUs, {_cpu_model()}, load average {_load()}")
    print(f"- Python {platform.python_version()}, redis-py {redis.__version__}, parser {_parser()}")
    print(f"- {_exporter_version()}; server {kind} ({_server_version(kind)})")
    print(f"- temp files on {_filesystem(tempfile.gettempdir())} (textfiles are fsynced)")
    print(f"- textfile-redis {_product_revision()}")
    if is_listening(EXPORTER_DEFAULT_PORT):  # Debian's package may have started its service
        print(f"- note: something listens on {EXPORTER_DEFAULT_PORT}; these runs use their own")


def report_load() -> None:
    """Print the load average at the end: above the CPU count, the machine was busy."""
    print(f"- load average at the end: {_load()} on {os.cpu_count()} CPUs")


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def _load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def _parser() -> str:
    return "hiredis" if redis.utils.HIREDIS_AVAILABLE else "pure Python"


def _exporter_version() -> str:
    binary = shutil.which(EXPORTER_BINARY)
    if binary is None:
        return "redis_exporter missing"
    # It logs a line that reads: Redis Metrics Exporter 1.45.0-2+b4  build date ...
    words = _output(binary, "--version").split()
    version = next((w for w, n in itertools.pairwise(words) if n == "build"), "?")
    return f"redis_exporter {version}"


def _server_version(kind: str) -> str:
    binary = binary_for(kind)
    if binary is None:
        return "missing"
    return _output(str(binary), "--version").split(" sha=")[0]


def _product_revision() -> str:
    """The commit measured, and whether the package's files differ from it."""
    git = shutil.which("git")
    if git is None:
        return "(no git)"
    head = _output(git, "-C", str(REPO), "rev-parse", "--short", "HEAD")
    changed = _output(git, "-C", str(REPO), "status", "--porcelain", "--", "textfile_redis")
    return f"at {head or '?'}" + (" with uncommitted changes to textfile_redis/" if changed else "")


def _filesystem(path: str) -> str:
    return _output("stat", "-f", "-c", "%T", path) or "unknown filesystem"


def _output(*argv: str) -> str:
    """What a command printed, stdout and stderr, stripped; never raises for its exit code."""
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    return (result.stdout + result.stderr).strip()


def is_listening(port: int) -> bool:
    """Whether something accepts connections on the loopback port."""
    with socket.socket() as probe:
        probe.settimeout(0.2)
        return probe.connect_ex((LOOPBACK, port)) == 0
