"""A soak run of `textfile-redis run`: thousands of cycles leak no fds, threads or memory."""

from __future__ import annotations

import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.support.config import write_config
from tests.support.daemon import NotifySocket, RunningDaemon, clean_env
from tests.support.processes import free_port, wait_for
from tests.support.servers import RedisServer, binary_for
from tests.support.tools import require

if TYPE_CHECKING:
    from collections.abc import Iterator

KIND = "redis-7.0"
CYCLES = 2000
WARM_UP = 200  # cycles before the first sample: imports, caches and allocator arenas settle
INTERVAL = 0.02  # about 50 cycles a second here: 2,000 cycles in about 40 s
TIMEOUT = 0.015  # the up target answers in a few ms
SAMPLES = 10  # /proc samples per point, one per cycle; the smallest is the steady figure
FD_SLACK = 2  # a temp file and the directory fd are open for a moment in each write
THREAD_SLACK = 2  # one thread per target per cycle comes and goes
RSS_GROWTH_MAX_KIB = 5 * 1024
# Most cycles must have scraped the real server. Not all: on a loaded machine a 15 ms timeout
# trips now and then, and each trip costs a second or more of reconnect backoff (seen: 77%).
UP_SHARE_MIN = 0.5


@dataclass(frozen=True, slots=True)
class Sample:
    """What /proc says about the daemon at one point of the run (smallest of a few readings)."""

    cycle: int
    fds: int
    threads: int
    rss_kib: int

    def __str__(self) -> str:
        return (
            f"cycle {self.cycle}: {self.fds} fds, {self.threads} threads, "
            f"VmRSS {self.rss_kib} KiB ({self.rss_kib / 1024:.1f} MiB)"
        )


def _reading(pid: int) -> tuple[int, int, int]:
    """Open fds, threads and resident set size (KiB) of the process now."""
    fields = dict(
        line.split(":\t", 1)
        for line in Path(f"/proc/{pid}/status").read_text().splitlines()
        if ":\t" in line
    )
    fds = len(list(Path(f"/proc/{pid}/fd").iterdir()))
    return fds, int(fields["Threads"]), int(fields["VmRSS"].split()[0])


def _await_next_cycle(notify: NotifySocket) -> None:
    seen = notify.cycles
    wait_for(lambda: notify.cycles > seen, timeout=5, interval=0.002, message="no next cycle")


def _sample(daemon: RunningDaemon, notify: NotifySocket) -> Sample:
    """Read /proc once in each of the next SAMPLES cycles and keep the smallest of each figure.

    Transient fds and threads of a cycle in flight come and go; the smallest reading is the
    steady figure, which a leak raises for good.
    """
    readings = []
    for _ in range(SAMPLES):
        _await_next_cycle(notify)
        readings.append(_reading(daemon.pid))
    fds, threads, rss = (min(figure) for figure in zip(*readings, strict=True))
    return Sample(notify.cycles, fds, threads, rss)


@pytest.fixture
def up_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """An empty server of the soak's own."""
    require(binary_for(KIND), f"no {KIND} binary here; install redis-server")
    with RedisServer.start(KIND, tmp_path_factory.mktemp("soak")) as started:
        yield started


@pytest.fixture
def notify() -> Iterator[NotifySocket]:
    """A NOTIFY_SOCKET listener counting the daemon's cycles."""
    listener = NotifySocket()
    yield listener
    listener.close()


@pytest.mark.timeout(300)
def test_two_thousand_cycles_leak_no_fds_threads_or_memory(
    up_server: RedisServer, notify: NotifySocket, textfile_dir: Path, tmp_path: Path
) -> None:
    """After warm-up, 2,000 cycles (one target up, one down) grow no fds, threads or RSS > 5 MiB."""
    etc = tmp_path / "etc"  # the daemon watches its config directory: not the textfile dir
    etc.mkdir()
    config = write_config(
        etc / "config.toml",
        textfile_dir,
        [
            {"name": "up", "addr": up_server.addr},
            {"name": "down", "addr": f"redis://127.0.0.1:{free_port()}"},
        ],
        interval=INTERVAL,
        timeout=TIMEOUT,
    )
    env = clean_env(NOTIFY_SOCKET=notify.address)
    daemon = RunningDaemon(config, tmp_path / "daemon.log", env=env)
    try:
        wait_for(lambda: notify.cycles >= WARM_UP, timeout=60, message="no warm-up")
        warm = _sample(daemon, notify)
        wait_for(lambda: notify.cycles >= CYCLES, timeout=240, message=f"no {CYCLES} cycles")
        end = _sample(daemon, notify)
        daemon.send(signal.SIGTERM)
        code = daemon.wait(5)
    except (TimeoutError, subprocess.TimeoutExpired) as exc:
        pytest.fail(f"{exc}\n{daemon.log()}")
    finally:
        daemon.kill()

    statuses = notify.statuses()
    up_share = sum("1/2 targets up" in s for s in statuses) / len(statuses)
    growth = end.rss_kib - warm.rss_kib
    figures = (
        f"soak: {len(statuses)} cycles at interval {INTERVAL} s; up target answered in "
        f"{up_share:.1%} of them\n  after warm-up {warm}\n  at the end    {end}\n"
        f"  RSS growth {growth} KiB ({growth / 1024:.2f} MiB)"
    )
    print(f"\n{figures}")  # noqa: T201 - the figures are recorded from pytest -s
    assert code == 0, f"{figures}\n{daemon.log()}"
    assert end.fds <= warm.fds + FD_SLACK, figures
    assert end.threads <= warm.threads + THREAD_SLACK, figures
    assert growth < RSS_GROWTH_MAX_KIB, figures
    assert up_share >= UP_SHARE_MIN, f"{figures}\n{daemon.log()}"
    assert sorted(p.name for p in textfile_dir.iterdir()) == [], figures
