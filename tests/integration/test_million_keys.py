"""A million keys under count_keys: a sweep over budgeted cycles, and Redis stays responsive.

The keys come from `DEBUG POPULATE 1000000 key 10` (key:0 .. key:999999, about a second), not
from pipelined writes. `textfile-redis run` scrapes every 2 s with a 0.5 s scan budget and SCAN
COUNT 1000, while a second client PINGs the server. The figures are printed for bench/RESULTS.md.
"""

from __future__ import annotations

import math
import signal
import statistics
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pytest

from tests.support.config import write_config
from tests.support.daemon import RunningDaemon
from tests.support.exposition import Exposition
from tests.support.processes import wait_for

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    import redis

    from tests.support.servers import RedisServer

KEYS = 1_000_000
OTHER_KEYS = 1000  # keys the pattern must not count
INTERVAL = 2.0
SCAN_BUDGET = 0.5
BATCH = 1000
# One SCAN round trip past the budget, plus the cycle's INFO pipeline and the write.
DURATION_SLACK = 0.5
PING_PACE = 0.005  # seconds between two PINGs of the concurrent client
PING_P99_LIMIT = 0.050
SWEEP_DEADLINE = 120.0
PROGRESS = {"kind": "count_keys", "db": "db0", "pattern": "key:*"}


@dataclass(frozen=True, slots=True)
class Cycle:
    """What one cycle's file said about the sweep."""

    written: float  # wall-clock time the file was renamed into place
    duration: float
    in_progress: bool
    count: float | None

    def covers(self, moment: float) -> bool:
        """Whether this cycle's scrape was running at wall-clock `moment`."""
        return self.written - self.duration <= moment <= self.written


@dataclass
class Watch:
    """Reads the target's file each time a cycle replaces it."""

    path: Path
    cycles: list[Cycle] = field(default_factory=list)
    _seen: tuple[int, int] | None = None

    def poll(self) -> bool:
        """Record a new cycle if the file changed; True once a cycle after the sweep's end."""
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return False
        if (stat.st_ino, stat.st_mtime_ns) != self._seen:
            self._seen = (stat.st_ino, stat.st_mtime_ns)
            found = Exposition.read(self.path)
            duration = found.value("textfile_redis_scrape_duration_seconds")
            assert duration is not None
            self.cycles.append(
                Cycle(
                    written=stat.st_mtime_ns / 1e9,
                    duration=duration,
                    in_progress=found.value("textfile_redis_scan_in_progress", **PROGRESS) == 1,
                    count=found.value("redis_keys_count", db="db0", key="key:*"),
                )
            )
        done = [i for i, cycle in enumerate(self.cycles) if cycle.count is not None]
        return bool(done) and len(self.cycles) > done[0] + 1


class Pinger(threading.Thread):
    """PINGs the server every few milliseconds from its own connection, timing each."""

    def __init__(self, client: redis.Redis) -> None:
        super().__init__(name="pinger", daemon=True)
        self.client = client
        self.pings: list[tuple[float, float]] = []  # (wall-clock start, seconds taken)
        self.ops_per_sec: list[int] = []
        self.stopping = threading.Event()

    def run(self) -> None:
        """Ping until told to stop; every 100th time, sample instantaneous_ops_per_sec too."""
        while not self.stopping.is_set():
            moment, started = time.time(), time.perf_counter()
            self.client.ping()
            self.pings.append((moment, time.perf_counter() - started))
            if len(self.pings) % 100 == 0:
                stats = self.client.info("stats")
                self.ops_per_sec.append(int(stats["instantaneous_ops_per_sec"]))
            self.stopping.wait(PING_PACE)


def _p99(latencies: list[float]) -> float:
    """The 99th percentile of sorted latencies (nearest rank)."""
    return latencies[max(0, math.ceil(len(latencies) * 0.99) - 1)]


def _latencies(latencies: list[float]) -> str:
    """n, p50, p99 and max of sorted latencies, in milliseconds."""
    return (
        f"n={len(latencies)} p50={statistics.median(latencies) * 1e3:.2f} ms "
        f"p99={_p99(latencies) * 1e3:.2f} ms max={latencies[-1] * 1e3:.2f} ms"
    )


@pytest.mark.timeout(600)
@pytest.mark.parametrize("server_kind", ["redis-7.0"], indirect=True)
def test_a_million_keys_are_counted_over_budgeted_cycles_without_blocking_redis(
    server_factory: Callable[..., RedisServer], tmp_path: Path
) -> None:
    """count_keys over 1M keys: in progress first, then exactly 1M; each cycle within budget."""
    server = server_factory()
    client = server.client(socket_timeout=60)
    populated = time.monotonic()
    client.execute_command("DEBUG", "POPULATE", KEYS, "key", 10)  # type: ignore[no-untyped-call]
    populated = time.monotonic() - populated
    client.mset({f"other:{n}": n for n in range(OTHER_KEYS)})
    assert client.dbsize() == KEYS + OTHER_KEYS
    textfile_dir = tmp_path / "textfile"
    textfile_dir.mkdir()
    config = write_config(
        tmp_path / "config.toml",
        textfile_dir,
        [{"name": "big", "addr": server.addr}],
        interval=INTERVAL,
        count_keys=["db0=key:*"],
        scan_budget=SCAN_BUDGET,
        check_keys_batch_size=BATCH,
    )
    watch = Watch(textfile_dir / "redis_big.prom")
    pinger = Pinger(server.client(socket_timeout=5))
    daemon = RunningDaemon(config, tmp_path / "daemon.log")
    try:
        pinger.start()
        wait_for(watch.poll, timeout=SWEEP_DEADLINE, interval=0.01, message="no complete sweep")
        pinger.stopping.set()
        pinger.join(10)
        daemon.send(signal.SIGTERM)
        assert daemon.wait(10) == 0
    finally:
        pinger.stopping.set()
        daemon.kill()
    cycles = watch.cycles
    first_done = next(i for i, cycle in enumerate(cycles) if cycle.count is not None)
    pings = sorted(latency for _, latency in pinger.pings)
    # The PINGs sent while a cycle was scanning: what a scan could have delayed.
    during = sorted(
        latency for moment, latency in pinger.pings if any(c.covers(moment) for c in cycles)
    )
    print(  # noqa: T201 - the figures for bench/RESULTS.md
        f"\nmillion keys: DEBUG POPULATE {KEYS} in {populated:.2f} s; "
        f"sweep complete in cycle {first_done + 1} of {len(cycles)} seen; "
        f"scrape durations {[round(c.duration, 3) for c in cycles]} s "
        f"(max {max(c.duration for c in cycles):.3f} s, budget {SCAN_BUDGET} s, "
        f"interval {INTERVAL} s); PING during scans {_latencies(during)}, "
        f"over the whole run {_latencies(pings)}; "
        f"instantaneous_ops_per_sec max={max(pinger.ops_per_sec, default=0)}"
    )
    assert first_done >= 1, "1M keys at SCAN COUNT 1000 should need more than one 0.5 s budget"
    assert all(c.in_progress and c.count is None for c in cycles[:first_done])
    # A cut-short cycle spent its whole budget, and hardly more.
    assert all(c.duration >= SCAN_BUDGET for c in cycles[:first_done])
    assert cycles[first_done].count == KEYS
    assert not cycles[first_done].in_progress
    # After a complete sweep the next one starts over; the last complete count stays published.
    assert all(c.count == KEYS and c.in_progress for c in cycles[first_done + 1 :])
    assert all(c.duration < min(INTERVAL, SCAN_BUDGET + DURATION_SLACK) for c in cycles)
    assert len(during) >= 300
    assert _p99(during) < PING_P99_LIMIT
