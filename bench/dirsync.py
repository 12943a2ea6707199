"""What an fsync of the textfile directory after each rename costs, on a real disk and on tmpfs.

Each write is write_atomic's system calls (exclusive temp, fchmod, write, fsync, rename over
the target), once as they are and once followed by open(dir), fsync(dir), close: the directory
sync that makes the rename itself survive a crash. The two alternate write by write, so a busy
machine slows both alike. A third row times the product's own `write_atomic` as it is now. No
server is needed: the file is a cycle's worth of bytes (--size, about one busy primary's file).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from bench.common import Tally, ms, print_table, report_load, timed_in_process
from textfile_redis.textfile import Marker, write_atomic

if TYPE_CHECKING:
    from collections.abc import Callable

TMPFS = Path("/dev/shm")  # noqa: S108 - a fixed mount point, not a temp file name
FILE_SIZE = 40_000  # bytes: the busy primary's file in bench/cycle.py is about this size
OWNER = "bench"
ITERATIONS = 2000
QUICK_ITERATIONS = 50
TEMP_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
HEADER = ("directory", "variant", "n", "wall median", "wall p90", "CPU each")


def main() -> None:
    """Measure both variants on each directory and print one table."""
    args = _arguments()
    # The marker first: write_atomic replaces only a file whose marker is ours.
    data = Marker(OWNER, "p").line().encode() + b"redis_up 1\n" * (args.size // 11)
    print(f"- {os.cpu_count()} CPUs, load average {_load()}, {len(data):,}-byte file")
    rows = []
    for parent in args.dirs:
        print(f"- {parent}: {_filesystem(parent)}")
        with tempfile.TemporaryDirectory(prefix="textfile-redis-dirsync-", dir=parent) as name:
            rows += _measure(Path(name), data, args.iterations)
    print_table("one atomic write, without and with a directory fsync", HEADER, rows)
    report_load()


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a few iterations: proves it runs")
    parser.add_argument("--iterations", type=int, help=f"writes per variant ({ITERATIONS})")
    parser.add_argument("--size", type=int, default=FILE_SIZE, help="bytes per file")
    parser.add_argument(
        "--dirs",
        nargs="+",
        type=Path,
        default=[Path(tempfile.gettempdir()), TMPFS],
        help="parent directories to write in (default: $TMPDIR's disk and tmpfs)",
    )
    args = parser.parse_args()
    if args.iterations is None:
        args.iterations = QUICK_ITERATIONS if args.quick else ITERATIONS
    return args


def _measure(directory: Path, data: bytes, iterations: int) -> list[list[str]]:
    variants: dict[str, Callable[[], object]] = {
        "rename only": lambda: _write(directory, data, sync_directory=False),
        "rename + directory fsync": lambda: _write(directory, data, sync_directory=True),
        "write_atomic as shipped": lambda: write_atomic(directory, "redis_p.prom", data, OWNER),
    }
    tallies = {label: Tally() for label in variants}
    for round_number in range(iterations + max(2, iterations // 10)):
        for label, work in variants.items():
            if round_number < max(2, iterations // 10):
                work()  # warm-up: page cache, dentries, the journal's first commits
            else:
                timed_in_process(tallies[label], work)
    return [_row(directory, label, tally) for label, tally in tallies.items()]


def _write(directory: Path, data: bytes, *, sync_directory: bool) -> None:
    """write_atomic's system calls, with or without the directory's fsync after the rename."""
    temp = directory / f".textfile-redis-{OWNER}-{os.urandom(8).hex()}.tmp"
    fd = os.open(temp, TEMP_FLAGS, 0o600)
    try:
        os.fchmod(fd, 0o644)
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    temp.replace(directory / "redis_x.prom")
    if sync_directory:
        dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def _row(directory: Path, label: str, tally: Tally) -> list[str]:
    p90 = statistics.quantiles(tally.walls, n=10)[-1]
    where = _filesystem(directory.parent)
    return [where, label, str(len(tally.walls)), ms(tally.wall), ms(p90), ms(tally.cpu_each)]


def _filesystem(path: Path) -> str:
    result = subprocess.run(
        ["df", "--output=source,fstype", str(path)], capture_output=True, text=True, check=False
    )
    fields = result.stdout.split()[-2:]
    return f"{fields[1]} on {fields[0]} ({path})" if len(fields) == 2 else str(path)


def _load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


if __name__ == "__main__":
    main()
