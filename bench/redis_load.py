"""The load each side puts on Redis per cycle: commands, connections, bytes and Redis CPU time.

Both sides scrape the same busy primary (with a replica) in alternating blocks. Redis counts
for us: INFO commandstats (calls and usec per command), total_connections_received,
total_net_input_bytes and total_net_output_bytes, and used_cpu_sys + used_cpu_user, from which
the server's idle rate (cron, replication pings), measured first, is subtracted. Cycles start
every 25 ms on both sides, so the server rests as long before each side's commands.
--commands N first has the server's clients call cheap commands until its commandstats lists N
(bench/cycle.py's), which lengthens INFO's commandstats and latencystats and LATENCY HISTOGRAM.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING

from bench.common import (
    HttpClient,
    RedisExporter,
    arguments,
    collector_config,
    describe_machine,
    print_table,
    ratio,
    report_load,
    start_busy_primary,
    workspace,
)
from bench.cycle import call_more_commands
from textfile_redis.cycle import Collector
from textfile_redis.daemon import freeze_long_lived

if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable

    import redis

# The replica's acknowledgements reach the primary whoever scrapes; they belong to neither side.
REPLICA_COMMANDS = frozenset({"replconf"})
BLOCKS = 5  # alternating blocks of ours and theirs, so drift hits both alike
# Cycles start this far apart on both sides. Back to back, a server's commands take longer after
# a client that spent longer between them (caches gone cold, the CPU gone idle); a real interval
# idles the server for seconds, so both sides get the same, long-enough pause.
PERIOD = 0.025
IDLE_SECONDS = 2.0
IDLE_SECONDS_QUICK = 0.5


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One INFO ALL: the counters this benchmark reads, and when."""

    at: float
    calls: dict[str, int]
    usec: dict[str, int]
    cpu: float
    connections: int
    bytes_in: int
    bytes_out: int

    @classmethod
    def take(cls, client: redis.Redis) -> Snapshot:
        """Read them all in one INFO ALL, so each snapshot costs the server one command."""
        info = client.info("all")
        stats = {
            name.removeprefix("cmdstat_"): value
            for name, value in info.items()
            if name.startswith("cmdstat_") and name.removeprefix("cmdstat_") not in REPLICA_COMMANDS
        }
        return cls(
            at=time.perf_counter(),
            calls={name: int(v["calls"]) for name, v in stats.items()},
            usec={name: int(v["usec"]) for name, v in stats.items()},
            cpu=float(info["used_cpu_sys"]) + float(info["used_cpu_user"]),
            connections=int(info["total_connections_received"]),
            bytes_in=int(info["total_net_input_bytes"]),
            bytes_out=int(info["total_net_output_bytes"]),
        )


@dataclass(slots=True)
class Load:
    """What one side cost the server over all its blocks."""

    cycles: int = 0
    calls: dict[str, int] = field(default_factory=dict)
    usec: dict[str, int] = field(default_factory=dict)
    cpu: float = 0.0
    connections: int = 0
    bytes_in: int = 0
    bytes_out: int = 0

    def add(self, before: Snapshot, after: Snapshot, cycles: int, idle_rate: float) -> None:
        """Add one block, less the snapshot's own INFO and the server's idle CPU meanwhile."""
        self.cycles += cycles
        for name, calls in after.calls.items():
            self.calls[name] = self.calls.get(name, 0) + calls - before.calls.get(name, 0)
        for name, usec in after.usec.items():
            self.usec[name] = self.usec.get(name, 0) + usec - before.usec.get(name, 0)
        # The `before` snapshot's INFO ALL; its time is about that of the one we count.
        self.calls["info"] -= 1
        self.usec["info"] -= round(self.usec["info"] / max(1, self.calls["info"] + 1))
        self.cpu += after.cpu - before.cpu - idle_rate * (after.at - before.at)
        self.connections += after.connections - before.connections
        self.bytes_in += after.bytes_in - before.bytes_in
        self.bytes_out += after.bytes_out - before.bytes_out

    def calls_each(self, name: str) -> float:
        """Calls of one command per cycle."""
        return self.calls.get(name, 0) / self.cycles

    def usec_each(self, name: str) -> float:
        """Microseconds of one command per cycle, as commandstats counts them."""
        return self.usec.get(name, 0) / self.cycles

    def called(self) -> set[str]:
        """The commands called at all."""
        return {name for name, calls in self.calls.items() if calls > 0}


def main() -> None:
    """Measure the idle rate, then both sides in alternating blocks; print two tables."""
    args = arguments(__doc__.splitlines()[0], iterations=1000, quick_iterations=20, more=options)
    describe_machine(args.server_kind)
    with workspace() as workdir:
        primary, _replica = start_busy_primary(args.server_kind, workdir, quick=args.quick)
        call_more_commands(primary.client(), args.commands)
        admin = primary.client()
        collector = Collector(collector_config(workdir / "ours", [primary.addr]))
        exporter = RedisExporter.start(workdir / "exporter", primary.addr)
        http = HttpClient(exporter.port)
        ours_cycle, theirs_scrape = collector.cycle, partial(http.get, "/metrics")
        for _ in range(args.warmup):
            ours_cycle()
            theirs_scrape()
        freeze_long_lived()  # as the daemon does after its first cycle
        idle_rate = measure_idle_rate(admin, IDLE_SECONDS_QUICK if args.quick else IDLE_SECONDS)
        ours, theirs = Load(), Load()
        per_block = max(1, args.iterations // BLOCKS)
        for _ in range(BLOCKS):
            measure_block(admin, ours, ours_cycle, per_block, idle_rate)
            measure_block(admin, theirs, theirs_scrape, per_block, idle_rate)
        collector.close()
        http.close()
    print_summary(args.server_kind, ours, theirs, idle_rate)
    print_breakdown(ours, theirs)
    report_load()


def options(parser: argparse.ArgumentParser) -> None:
    """The options of this benchmark alone."""
    parser.add_argument(
        "--commands", type=int, default=0, help="distinct commands the server has seen (0: as is)"
    )


def measure_idle_rate(admin: redis.Redis, seconds: float) -> float:
    """The server's CPU seconds per second while nobody scrapes it."""
    before = Snapshot.take(admin)
    time.sleep(seconds)  # idle is what is measured
    after = Snapshot.take(admin)
    return (after.cpu - before.cpu) / (after.at - before.at)


def measure_block(
    admin: redis.Redis, load: Load, cycle: Callable[[], object], cycles: int, idle_rate: float
) -> None:
    """Run `cycles` cycles of one side between two snapshots."""
    before = Snapshot.take(admin)
    next_start = time.perf_counter()
    for _ in range(cycles):
        cycle()
        next_start += PERIOD
        time.sleep(max(0.0, next_start - time.perf_counter()))  # the pause is the point
    load.add(before, Snapshot.take(admin), cycles, idle_rate)


def print_summary(kind: str, ours: Load, theirs: Load, idle_rate: float) -> None:
    """The main table: one row per quantity, per cycle."""

    def row(name: str, value: Callable[[Load], float], unit: str) -> list[str]:
        mine, other = value(ours) / ours.cycles, value(theirs) / theirs.cycles
        return [name, f"{mine:,.0f}{unit}", f"{other:,.0f}{unit}", ratio(mine, other)]

    rows = [
        row("commands", lambda load: sum(load.calls.values()), ""),
        row("connections opened", lambda load: load.connections, ""),
        row("command time (commandstats usec)", lambda load: sum(load.usec.values()), " us"),
        row("Redis CPU, net of idle", lambda load: load.cpu * 1e6, " us"),
        row("bytes to Redis", lambda load: load.bytes_in, " B"),
        row("bytes from Redis", lambda load: load.bytes_out, " B"),
    ]
    title = f"Load on Redis per cycle ({kind}, {ours.cycles} cycles each side)"
    print_table(title, ("per cycle", "ours", "redis_exporter", "ratio"), rows)
    print(f"- Redis idle CPU (subtracted above): {idle_rate * 1e6:.0f} us per second")


def print_breakdown(ours: Load, theirs: Load) -> None:
    """Which commands each side sends per cycle, and what each costs the server."""
    rows = [
        [
            name,
            f"{ours.calls_each(name):g}",
            f"{theirs.calls_each(name):g}",
            f"{ours.usec_each(name):.0f} us",
            f"{theirs.usec_each(name):.0f} us",
        ]
        for name in sorted(ours.called() | theirs.called())
    ]
    header = ("command", "calls ours", "calls exporter", "time ours", "time exporter")
    print_table("Commands per cycle", header, rows)


if __name__ == "__main__":
    main()
