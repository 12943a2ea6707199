"""`textfile-redis once` end to end, process start to exit, against redis_exporter's nearest.

redis_exporter has no one-shot mode; the nearest thing is starting it, scraping /metrics once
and stopping it, timed here from the start of the process to the last byte of that scrape.
Beside them, floors: an interpreter that does nothing, one that only imports redis,
prometheus_client and watchdog.observers, and one that imports textfile_redis.cli. All read the
same busy primary (with a replica); the runs are interleaved; CPU is the child's user + system
time from getrusage(RUSAGE_CHILDREN). Python children find their modules compiled, as in an
installed package (see common.child_env); one more row shows `once` compiling ours each time.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from typing import TYPE_CHECKING

from bench.common import (
    EXPORTER_BINARY,
    FLOOR_IMPORTS,
    PRODUCT_IMPORTS,
    HttpClient,
    Tally,
    arguments,
    child_env,
    children_cpu_seconds,
    describe_machine,
    exporter_options,
    free_port,
    ms,
    print_table,
    ratio,
    report_load,
    require_up,
    start_busy_primary,
    venv_bin,
    wait_for,
    workspace,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from pathlib import Path

READY_POLL = 0.0005  # seconds between attempts to reach the starting exporter
READY_DEADLINE = 10.0


def main() -> None:
    """Time every contender, interleaved; print one table."""
    args = arguments(__doc__.splitlines()[0], iterations=50, quick_iterations=5)
    describe_machine(args.server_kind)
    with workspace() as workdir:
        primary, _replica = start_busy_primary(args.server_kind, workdir, quick=args.quick)
        contenders = make_contenders(workdir, primary.addr)
        tallies = {name: Tally() for name in contenders}
        for _ in range(args.warmup):
            for run in contenders.values():
                run()
        for _ in range(args.iterations):
            for name, run in contenders.items():
                timed_child(tallies[name], run)
    print_results(tallies, args.iterations)
    report_load()


def make_contenders(workdir: Path, addr: str) -> dict[str, Callable[[], None]]:
    """Each contender runs one child process to completion."""
    textfile_dir = workdir / "textfile"
    textfile_dir.mkdir()
    once = [str(venv_bin("textfile-redis")), "once", "--redis-addr", addr]
    once += ["--textfile-dir", str(textfile_dir)]
    python = sys.executable
    env, compiling = child_env(workdir), child_env(workdir, bytecode_cache=False)
    return {
        "textfile-redis once": lambda: run_to_end(once, env),
        "redis_exporter: start, one scrape, stop": lambda: exporter_once(workdir, addr),
        "floor: python -c pass": lambda: run_to_end([python, "-c", "pass"], env),
        f"floor: python -c '{FLOOR_IMPORTS}'": lambda: run_to_end(
            [python, "-c", FLOOR_IMPORTS], env
        ),
        f"python -c '{PRODUCT_IMPORTS}'": lambda: run_to_end([python, "-c", PRODUCT_IMPORTS], env),
        "textfile-redis once, compiling its modules (PYTHONDONTWRITEBYTECODE=1)": lambda: (
            run_to_end(once, compiling)
        ),
    }


def timed_child(tally: Tally, run: Callable[[], None]) -> None:
    """Record the wall time of run() and the CPU time of the children it waited for."""
    cpu0, wall0 = children_cpu_seconds(), time.perf_counter()
    run()
    wall1, cpu1 = time.perf_counter(), children_cpu_seconds()
    tally.add(wall1 - wall0, cpu1 - cpu0)


def run_to_end(argv: Sequence[str], env: dict[str, str]) -> None:
    """Run a command; a failure would make its time meaningless."""
    subprocess.run(argv, check=True, stdin=subprocess.DEVNULL, capture_output=True, env=env)


def exporter_once(workdir: Path, addr: str) -> None:
    """Start redis_exporter, scrape it as soon as it answers, stop it."""
    port = free_port()
    argv = [EXPORTER_BINARY, *exporter_options(port, addr)]
    with (workdir / "exporter.log").open("ab") as log:
        process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    try:
        require_up(first_scrape(port, process))
    finally:
        process.terminate()
        process.wait()


def first_scrape(port: int, process: subprocess.Popen[bytes]) -> bytes:
    """GET /metrics, retrying while the exporter is not listening yet."""

    def scraped() -> bytes:
        if process.poll() is not None:
            msg = f"redis_exporter on port {port} exited with code {process.poll()}"
            raise RuntimeError(msg)
        with contextlib.closing(HttpClient(port)) as client, contextlib.suppress(OSError):
            return client.get("/metrics")
        return b""  # not listening yet: empty, so wait_for asks again

    message = f"redis_exporter on port {port} never answered"
    return wait_for(scraped, timeout=READY_DEADLINE, interval=READY_POLL, message=message)


def print_results(tallies: dict[str, Tally], iterations: int) -> None:
    """One row per contender; ratios against redis_exporter's start + scrape."""
    reference = tallies["redis_exporter: start, one scrape, stop"]
    rows = [
        [
            name,
            ms(tally.wall),
            ratio(tally.wall, reference.wall),
            ms(tally.cpu_each),
            ratio(tally.cpu_each, reference.cpu_each),
        ]
        for name, tally in tallies.items()
    ]
    header = ("process, start to exit", "wall", "vs exporter", "CPU", "vs exporter")
    print_table(f"One-shot collection, median of {iterations} runs", header, rows)


if __name__ == "__main__":
    main()
