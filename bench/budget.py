"""CPU of the series budget per cycle (count, enforce, its own families) next to the cycle's.

Two files from the busy primary of cycle.py: its default families (within the budget: one sum of
list lengths), and the same with check_keys over db0's keys under max_series = 2,000 (over: the
opt-in families sorted and the per-key ones left out). The budget's CPU is timed on the families
a real cycle translated; the cycle's is `Collector.cycle()` as cycle.py times it.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from bench.common import (
    Tally,
    arguments,
    collector_config,
    describe_machine,
    ms,
    print_table,
    report_load,
    require_ok,
    start_busy_primary,
    timed_in_process,
    workspace,
)
from textfile_redis import budget
from textfile_redis.cycle import Collector, outcome_of, series_limit
from textfile_redis.scrape import Scraper
from textfile_redis.translate import translate

if TYPE_CHECKING:
    import argparse
    from pathlib import Path

    from textfile_redis.config import Config
    from textfile_redis.exposition import Family

HEADER = ("file", "series", "left out", "cycle CPU", "budget CPU", "budget / cycle")
WARM_UP = 5  # cycles: key sweeps complete, caches warm
BUDGET_REPEATS = 20  # budget calls per cycle measured: each is microseconds


def measure(workdir: Path, addr: str, top: list[str], args: argparse.Namespace) -> list[str]:
    """One row: a cycle's CPU, then the budget's on the families such a cycle translates."""
    config = collector_config(workdir, [addr], timeout=10.0, top=top)
    collector = Collector(config)
    cycles = Tally()
    for _ in range(WARM_UP):
        require_ok(collector.cycle())
    for _ in range(args.iterations):
        timed_in_process(cycles, lambda: require_ok(collector.cycle()))
    collector.close()
    families, limit = _families(config)
    spent = Tally()
    for _ in range(args.iterations * BUDGET_REPEATS):
        timed_in_process(spent, lambda: _enforce(families, limit))
    verdict = budget.enforce(families, limit)
    share = spent.cpu_each / cycles.cpu_each
    left_out = f"{len(verdict.dropped)} families, {sum(verdict.dropped.values()):,} series"
    return [
        "over budget" if verdict.dropped else "within budget",
        f"{verdict.series:,} of {limit:,}",
        left_out if verdict.dropped else "-",
        ms(cycles.cpu_each),
        f"{spent.cpu_each * 1e6:.1f} us",
        f"{share:.2%}",
    ]


def _families(config: Config) -> tuple[list[Family], int]:
    """The families one warm scrape of the target translates to, and its budget."""
    target = config.targets[0]
    scraper = Scraper(target)
    try:
        for _ in range(WARM_UP):  # the key sweeps complete before the measured scrape
            result = scraper.scrape()
    finally:
        scraper.close()
    return translate(outcome_of(target, result)).families, series_limit(config, target)


def _enforce(families: list[Family], limit: int) -> None:
    verdict = budget.enforce(families, limit)
    budget.own_families(verdict, {"addr": "redis://127.0.0.1:6379"})


def main() -> None:
    """Time the budget within and over budget; print one table."""
    args = arguments(__doc__.splitlines()[0], iterations=200, quick_iterations=5)
    describe_machine(args.server_kind)
    started = time.monotonic()
    with workspace() as workdir:
        primary, _replica = start_busy_primary(args.server_kind, workdir, quick=args.quick)
        over = ['check_keys = ["db0=*"]', "max_series = 2000", "scan_budget = 5"]
        rows = [
            measure(workdir / "within", primary.addr, [], args),
            measure(workdir / "over", primary.addr, over, args),
        ]
    print_table(
        f"The series budget per cycle ({args.server_kind} primary, {args.iterations} cycles)",
        HEADER,
        rows,
    )
    print(f"- run took {time.monotonic() - started:.0f} s")
    report_load()


if __name__ == "__main__":
    main()
