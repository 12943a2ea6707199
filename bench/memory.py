"""Resident memory (VmRSS) of `textfile-redis run` over many cycles, vs floors and redis_exporter.

`textfile-redis run` scrapes a busy primary (with a replica) every 20 ms; the server's own
count of INFO calls tells how many cycles it has run. Its RSS after 1,000 cycles and after
10,000 (quick: 100 and 1,000) is compared with the floor, a Python process that only imports
redis, prometheus_client and watchdog.observers (what the product imports from them), and with
redis_exporter's RSS after as many scrapes of the same server. Python children find their
modules compiled, as in an installed package (see common.child_env).
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bench.common import (
    FLOOR_IMPORTS,
    PRODUCT_IMPORTS,
    HttpClient,
    RedisExporter,
    arguments,
    child_env,
    command_calls,
    describe_machine,
    mib,
    print_table,
    proc_rss_bytes,
    ratio,
    report_load,
    start_busy_primary,
    start_process,
    venv_bin,
    wait_for,
    workspace,
    write_config_file,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from pathlib import Path

    import redis

    from tests.support.servers import RedisServer

INTERVAL = 0.02  # seconds; the product refuses a timeout not below the interval
TIMEOUT = 0.019
POLL_INTERVAL = 0.2
TREND_POINTS = 10


@dataclass(slots=True)
class Footprint:
    """A process's RSS at given cycle counts."""

    name: str
    rss: dict[int, int] = field(default_factory=dict)
    note: str = ""


class CycleCounter:
    """Counts a daemon's cycles by the server's INFO calls, less the ones it makes itself."""

    def __init__(self, client: redis.Redis) -> None:
        self._client = client
        self._polls = 0
        self._base = self._info_calls()

    def _info_calls(self) -> int:
        self._polls += 1
        return command_calls(self._client).get("info", 0)

    def cycles(self) -> int:
        """Cycles since this counter was made (each cycle sends one INFO ALL)."""
        # Each poll's own INFO shows up in the next poll's count.
        return self._info_calls() - self._base - (self._polls - 1)


def main() -> None:
    """Measure the floors, then our daemon, then redis_exporter; print one table."""
    args = arguments(__doc__.splitlines()[0], iterations=10000, quick_iterations=1000)
    marks = milestones(args.iterations)
    describe_machine(args.server_kind)
    with workspace() as workdir:
        primary, _replica = start_busy_primary(args.server_kind, workdir, quick=args.quick)
        env = child_env(workdir)
        idle_rss(f"{FLOOR_IMPORTS}, textfile_redis.cli", env)  # fills the bytecode cache
        floor = idle_rss(FLOOR_IMPORTS, env)
        product = idle_rss(PRODUCT_IMPORTS, env)
        ours = measure_daemon(workdir, primary, marks, env)
        theirs = measure_exporter(workdir, primary, marks)
    print_footprints(marks, floor, product, ours, theirs)
    report_load()


def milestones(last: int) -> list[int]:
    """The cycle counts at which RSS is read: every tenth of the run; the table shows two."""
    return [last * n // TREND_POINTS for n in range(1, TREND_POINTS + 1)]


def idle_rss(imports: str, env: dict[str, str]) -> int:
    """RSS of a fresh interpreter that ran `imports` and waits."""
    code = f"{imports}; import sys; print('ready', flush=True); sys.stdin.read()"
    with subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env
    ) as process:
        assert process.stdout is not None  # noqa: S101 - stdout=PIPE above
        process.stdout.readline()
        rss = proc_rss_bytes(process.pid)
        process.communicate(b"")
    return rss


def measure_daemon(
    workdir: Path, server: RedisServer, marks: Sequence[int], env: dict[str, str]
) -> Footprint:
    """Run `textfile-redis run` until the last mark, reading its RSS at each."""
    textfile_dir = workdir / "textfile"
    textfile_dir.mkdir()
    config = write_config_file(
        workdir / "etc" / "config.toml",
        textfile_dir,
        [server.addr],
        timeout=TIMEOUT,
        interval=INTERVAL,
    )
    admin = server.client()
    connections_before = int(admin.info("stats")["total_connections_received"])
    counter = CycleCounter(admin)
    argv = [str(venv_bin("textfile-redis")), "run", "--config", str(config), "--log-level=warning"]
    with start_process("textfile-redis run", argv, workdir / "daemon.log", env) as daemon:
        footprint = Footprint("textfile-redis run")
        for mark in marks:
            wait_until(lambda: counter.cycles() >= mark, mark, daemon.check_alive)  # noqa: B023 - called at once
            footprint.rss[mark] = proc_rss_bytes(daemon.pid)
    opened = int(admin.info("stats")["total_connections_received"]) - connections_before
    footprint.note = f"{opened - 1} reconnects after timeouts" if opened > 1 else ""
    return footprint


def wait_until(reached: Callable[[], bool], mark: int, check_alive: Callable[[], None]) -> None:
    """Poll until the daemon has run `mark` cycles; fail if it dies or stalls."""

    def done() -> bool:
        check_alive()
        return reached()

    deadline = mark * INTERVAL * 4 + 30
    wait_for(done, timeout=deadline, interval=POLL_INTERVAL, message=f"{mark} cycles not reached")


def measure_exporter(workdir: Path, server: RedisServer, marks: Sequence[int]) -> Footprint:
    """Scrape redis_exporter back to back until the last mark, reading its RSS at each."""
    footprint = Footprint("redis_exporter")
    with RedisExporter.start(workdir / "exporter", server.addr) as exporter:
        http = HttpClient(exporter.port)
        done = 0
        for mark in marks:
            for _ in range(mark - done):
                http.get("/metrics")
            done = mark
            footprint.rss[mark] = proc_rss_bytes(exporter.pid)
        http.close()
    return footprint


def print_footprints(
    marks: Sequence[int], floor: int, product: int, ours: Footprint, theirs: Footprint
) -> None:
    """One table: floors, ours, theirs; then the RSS trend of both."""
    early, late = marks[0], marks[-1]
    header = (
        "process",
        f"RSS after {early:,}",
        f"RSS after {late:,}",
        f"growth {early:,} to {late:,}",
        "vs floor",
        "vs redis_exporter",
    )
    rows = [
        [f"floor: python -c '{FLOOR_IMPORTS}'", mib(floor), "-", "-", "1.00x", "-"],
        [f"python -c '{PRODUCT_IMPORTS}'", mib(product), "-", "-", ratio(product, floor), "-"],
    ]
    for footprint in (ours, theirs):
        first, last = footprint.rss[early], footprint.rss[late]
        rows.append(
            [
                footprint.name,
                mib(first),
                mib(last),
                f"{(last - first) / 2**20:+.1f} MiB",
                ratio(first, floor),
                ratio(first, theirs.rss[early]),
            ]
        )
    print_table(
        "Resident memory (VmRSS); cycles for ours, scrapes for redis_exporter", header, rows
    )
    for footprint in (ours, theirs):
        trend = ", ".join(f"{mark:,}: {mib(footprint.rss[mark])}" for mark in marks)
        print(f"- {footprint.name} RSS by cycle: {trend}")
        if footprint.note:
            print(f"- {footprint.name}: {footprint.note}")
    print(f"- a cycle every {INTERVAL * 1000:g} ms, timeout {TIMEOUT * 1000:g} ms")


if __name__ == "__main__":
    main()
