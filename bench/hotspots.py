"""Where our time goes: a py-spy profile of many cycles, or the import times of a one-shot run.

    .venv/bin/python -m bench.hotspots cycle --py-spy /path/to/py-spy [--targets 100] [--idle]
    .venv/bin/python -m bench.hotspots stages
    .venv/bin/python -m bench.hotspots process --py-spy /path/to/py-spy [--commands 36]
    .venv/bin/python -m bench.hotspots lines [--commands 36]
    .venv/bin/python -m bench.hotspots imports

`cycle` starts a busy primary with a replica (or, with --targets N, N small servers), runs
`Collector.cycle()` over and over in a child under `py-spy record`, and prints the functions
with the most samples, inclusive and self, over the collection threads. py-spy skips a thread
that sleeps (the network); one inside a system call such as fsync still counts; --idle counts
every sample, for wall time.
py-spy is not a dependency: `python3 -m venv /tmp/spy && /tmp/spy/bin/pip install py-spy`.
`stages` times one target's stages one by one on this thread (scrape, translate, render,
write), as Collector._collect chains them, against the same busy primary.
`process` starts `textfile-redis run` (a cycle every --interval seconds) on the busy primary
and records the whole process under py-spy, every thread, as users run it: what the process
spends beyond the collection itself.
`lines` records consecutive scrapes of the busy primary, then times their translation over and
over with the target's cache: CPU per LATENCY HISTOGRAM line (as scraped, one fresh reply in
four; and fresh every cycle) against CPU per INFO line.
`imports` runs `python -X importtime -c 'import textfile_redis.cli'` (modules compiled, as
installed) and prints the slowest.
"""

from __future__ import annotations

import argparse
import collections
import copy
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from bench.common import (
    REPO,
    Tally,
    child_env,
    collector_config,
    describe_machine,
    ms,
    print_table,
    start_busy_primary,
    start_process,
    wait_for,
    workspace,
    write_config_file,
)
from bench.cycle import call_more_commands
from bench.targets import start_servers
from textfile_redis.cycle import Collector
from textfile_redis.daemon import freeze_long_lived
from textfile_redis.scrape import ASKED_EVERY, Scraper
from textfile_redis.textfile import Marker, render, write_atomic
from textfile_redis.translate import Outcome, SeriesCache, translate

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from textfile_redis.config import Config

_T = TypeVar("_T")

SAMPLE_RATE = 1000  # per second
COLLECTION_THREAD = "Collector._run "  # every target's work runs under this frame
_FRAME_LINE = re.compile(r" \(([^)]*?):\d+\)$")  # "func (file.py:123)" -> drop the line number


def main() -> None:
    """Dispatch on the subcommand."""
    args = parser().parse_args()
    if args.command == "child":
        run_cycles(args.addr, args.cycles)
    elif args.command == "cycle":
        profile_cycles(args)
    elif args.command == "stages":
        time_stages(args.cycles, args.server_kind)
    elif args.command == "process":
        profile_process(args)
    elif args.command == "lines":
        time_lines(args)
    else:
        profile_imports(args.top)


def parser() -> argparse.ArgumentParser:
    """The subcommands and their options."""
    main_parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = main_parser.add_subparsers(dest="command", required=True)
    cycle = commands.add_parser("cycle", help="py-spy over many Collector.cycle() calls")
    cycle.add_argument("--py-spy", default="py-spy", help="the py-spy binary")
    cycle.add_argument("--cycles", type=int, default=2000)
    cycle.add_argument("--targets", type=int, default=1, help="small servers, one per target")
    cycle.add_argument("--idle", action="store_true", help="count waiting threads too")
    cycle.add_argument("--top", type=int, default=30)
    cycle.add_argument("--server-kind", default="redis-7.0")
    stages = commands.add_parser("stages", help="each stage of one target's cycle, timed")
    stages.add_argument("--cycles", type=int, default=1000)
    stages.add_argument("--server-kind", default="redis-7.0")
    process = commands.add_parser("process", help="py-spy over a `run` process, every thread")
    process.add_argument("--py-spy", default="py-spy", help="the py-spy binary")
    process.add_argument("--seconds", type=int, default=20)
    process.add_argument("--interval", type=float, default=0.1, help="the run's interval")
    process.add_argument("--commands", type=int, default=0, help="as bench.cycle --commands")
    process.add_argument("--top", type=int, default=30)
    process.add_argument("--server-kind", default="redis-7.0")
    lines = commands.add_parser("lines", help="CPU per histogram line and per INFO line")
    lines.add_argument("--cycles", type=int, default=400)
    lines.add_argument("--commands", type=int, default=0, help="as bench.cycle --commands")
    lines.add_argument("--server-kind", default="redis-7.0")
    imports = commands.add_parser("imports", help="python -X importtime, slowest first")
    imports.add_argument("--top", type=int, default=25)
    child = commands.add_parser("child", help="internal: the profiled loop")
    child.add_argument("--addr", action="append", required=True)
    child.add_argument("--cycles", type=int, required=True)
    return main_parser


def run_cycles(addrs: list[str], cycles: int) -> None:
    """The profiled child: a warm-up, then `cycles` cycles."""
    with tempfile.TemporaryDirectory(prefix="textfile-redis-profile-") as name:
        collector = Collector(collector_config(Path(name), addrs))
        collector.cycle()
        freeze_long_lived()  # as the daemon does after its first cycle
        for _ in range(cycles):
            collector.cycle()
        collector.close()


def profile_cycles(args: argparse.Namespace) -> None:
    """Start the servers, record the child under py-spy, print the top functions."""
    describe_machine(args.server_kind)
    with workspace() as workdir:
        if args.targets == 1:
            servers = [start_busy_primary(args.server_kind, workdir, quick=False)[0]]
        else:
            servers = start_servers(args.server_kind, workdir, args.targets)
        raw = workdir / "py-spy.txt"
        child = [sys.executable, "-m", "bench.hotspots", "child", "--cycles", str(args.cycles)]
        child += [f"--addr={server.addr}" for server in servers]
        record = [args.py_spy, "record", "--rate", str(SAMPLE_RATE), "--format", "raw"]
        record += ["--output", str(raw), *(["--idle"] if args.idle else []), "--", *child]
        subprocess.run(record, check=True, capture_output=True, cwd=REPO)
        stacks = read_stacks(raw.read_text())
    counted = (
        "all samples (wall)" if args.idle else "running or in a system call (py-spy's non-idle)"
    )
    title = f"{args.cycles} cycles, {args.targets} target(s), {counted}"
    print_top(title, stacks, args.top)


def read_stacks(raw: str, *, every_thread: bool = False) -> list[tuple[list[str], int]]:
    """py-spy's raw lines (`frame;frame;... count`), kept when in a collection thread."""
    stacks = []
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        if every_thread or any(frame.startswith(COLLECTION_THREAD) for frame in frames):
            stacks.append((frames, int(count)))
    return stacks


def profile_process(args: argparse.Namespace) -> None:
    """Start a busy primary and a `run` process on it; record the process under py-spy."""
    describe_machine(args.server_kind)
    with workspace() as workdir:
        primary = start_busy_primary(args.server_kind, workdir, quick=False)[0]
        call_more_commands(primary.client(), args.commands)
        textfile_dir = workdir / "textfile"
        textfile_dir.mkdir()
        config = write_config_file(
            workdir / "config.toml",
            textfile_dir,
            [primary.addr],
            timeout=args.interval * 0.9,
            interval=args.interval,
        )
        argv = [sys.executable, "-m", "textfile_redis", "run", "--config", str(config)]
        env = {**child_env(workdir), "PYTHONPATH": str(REPO)}
        with start_process("textfile-redis run", argv, workdir / "run.log", env) as daemon:
            wait_for(lambda: any(textfile_dir.glob("*.prom")), timeout=60, message="no file")
            raw = workdir / "py-spy.txt"
            record = [args.py_spy, "record", "--rate", str(SAMPLE_RATE), "--format", "raw"]
            record += ["--threads", "--duration", str(args.seconds), "--output", str(raw)]
            subprocess.run([*record, "--pid", str(daemon.pid)], check=True, capture_output=True)
            stacks = read_stacks(raw.read_text(), every_thread=True)
    title = f"`run` every {args.interval:g} s for {args.seconds} s, every thread, non-idle"
    print_top(title, stacks, args.top)


def print_top(title: str, stacks: list[tuple[list[str], int]], top: int) -> None:
    """Functions by inclusive samples; then lines by self samples (which C call is slow)."""
    total = sum(count for _, count in stacks)
    inclusive: collections.Counter[str] = collections.Counter()
    own: collections.Counter[str] = collections.Counter()
    for frames, count in stacks:
        for function in {_FRAME_LINE.sub(r" (\1)", frame) for frame in frames}:
            inclusive[function] += count
        own[frames[-1]] += count
    header = ("share", "function")
    print_table(f"Inclusive: {title}, {total} samples", header, shares(inclusive, total, top))
    print_table(f"Self, by line: {title}", ("share", "line"), shares(own, total, top))


def shares(counter: collections.Counter[str], total: int, top: int) -> list[list[str]]:
    """The `top` entries as (percent, name) rows."""
    return [[f"{100 * n / total:.1f}%", name] for name, n in counter.most_common(top)]


def time_stages(cycles: int, kind: str) -> None:
    """Each stage's median wall time and mean CPU time, over `cycles` cycles after a warm-up."""
    describe_machine(kind)
    with workspace() as workdir:
        primary, _replica = start_busy_primary(kind, workdir, quick=False)
        config = collector_config(workdir, [primary.addr])
        stages = Stages(config)
        for _ in range(max(2, cycles // 10)):
            stages.run(None)
        tallies: dict[str, Tally] = {name: Tally() for name in STAGE_NAMES}
        for _ in range(cycles):
            stages.run(tallies)
        stages.scraper.close()
    total = sum(tally.cpu_each for tally in tallies.values())
    rows = [
        [name, ms(tally.wall), ms(tally.cpu_each), f"{100 * tally.cpu_each / total:.0f}%"]
        for name, tally in tallies.items()
    ]
    header = ("stage", "wall (median)", "CPU (mean)", "share of CPU")
    print_table(f"One target's cycle, stage by stage, {cycles} cycles", header, rows)


STAGE_NAMES = ("scrape", "translate", "render", "write (fsynced)")


class Stages:
    """One target's cycle as Collector._collect chains it, each stage on its own timer."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.target = config.targets[0]
        self.scraper = Scraper(self.target)
        self.series = SeriesCache()  # the target's, kept across cycles as its collector keeps it

    def run(self, tallies: dict[str, Tally] | None) -> None:
        """One cycle; each stage is timed into its tally when tallies are given."""

        def stage(name: str, work: Callable[[], _T]) -> _T:
            if tallies is None:
                return work()
            cpu0, wall0 = time.process_time(), time.perf_counter()
            result = work()
            tallies[name].add(time.perf_counter() - wall0, time.process_time() - cpu0)
            return result

        result = stage("scrape", self.scraper.scrape)
        outcome = Outcome(
            addr=self.target.addr,
            replies=result.replies,
            refused=result.refused,
            error=result.error,
            duration=result.duration,
            now=time.time(),
        )
        families = stage("translate", lambda: translate(outcome, self.series).families)
        marker = Marker(self.config.owner, self.target.name)
        data = stage("render", lambda: render(families, marker))
        directory, name, owner = self.config.textfile_dir, self.target.filename, self.config.owner
        stage("write (fsynced)", lambda: write_atomic(directory, name, data, owner))


HISTOGRAM_REPLY = "latency_histogram"
SCRAPES = 8  # two of LATENCY HISTOGRAM's every-4th-cycle rounds, each from a fresh reply


def time_lines(args: argparse.Namespace) -> None:
    """Translate recorded scrapes with and without their histograms and INFO; per-line CPU."""
    describe_machine(args.server_kind)
    with workspace() as workdir:
        primary = start_busy_primary(args.server_kind, workdir, quick=False)[0]
        call_more_commands(primary.client(), args.commands)
        scraper = Scraper(collector_config(workdir, [primary.addr]).targets[0])
        every = ASKED_EVERY[HISTOGRAM_REPLY]
        scrapes = [scraper.scrape() for _ in range(every + SCRAPES)][every:]  # from a fresh one
        scraper.close()
    replies = [scrape.replies for scrape in scrapes]
    fresh = [{**r, HISTOGRAM_REPLY: copy.deepcopy(r[HISTOGRAM_REPLY])} for r in replies]
    plain = [{k: v for k, v in r.items() if k != HISTOGRAM_REPLY} for r in replies]
    info = [{"info": r["info"]} for r in replies]
    bare = [{"info": "# Server\r\nredis_version:7.0.15\r\n"} for _ in replies]
    rows = {
        name: translation_cost(variant, args.cycles)
        for name, variant in (
            ("as scraped", replies),
            ("histogram fresh every cycle", fresh),
            ("no histogram", plain),
            ("INFO only", info),
            ("a two-line INFO", bare),
        )
    }
    print_table("Translation per cycle, the target's cache kept", LINE_HEADER, line_rows(rows))


def translation_cost(variants: list[dict[str, Any]], cycles: int) -> tuple[float, int]:
    """CPU per cycle translating the variants in turn (the quickest round); sample lines."""
    cache = SeriesCache()

    def once(replies: dict[str, Any]) -> int:
        outcome = Outcome(addr="redis://127.0.0.1:6379", replies=replies, now=time.time())
        return sum(len(family.lines) for family in translate(outcome, cache).families)

    for replies in variants:
        once(replies)
    batches = []  # the quickest batch: other processes' load only ever adds
    for _ in range(max(1, cycles // len(variants))):
        started = time.process_time()
        for replies in variants:
            once(replies)
        batches.append((time.process_time() - started) / len(variants))
    return min(batches), once(variants[0])


LINE_HEADER = ("replies", "sample lines", "CPU per cycle", "CPU per line of the difference")


def line_rows(rows: dict[str, tuple[float, int]]) -> list[list[str]]:
    """Each variant; the histogram's per-line cost against `no histogram`, INFO's against bare."""

    def per_line(name: str, base: str) -> str:
        (cpu, lines), (base_cpu, base_lines) = rows[name], rows[base]
        return f"{(cpu - base_cpu) / max(1, lines - base_lines) * 1e6:.2f} us"

    against = {
        "as scraped": "no histogram",
        "histogram fresh every cycle": "no histogram",
        "INFO only": "a two-line INFO",
    }
    return [
        [name, str(lines), ms(cpu), per_line(name, against[name]) if name in against else "-"]
        for name, (cpu, lines) in rows.items()
    ]


def profile_imports(top: int) -> None:
    """Import textfile_redis.cli under -X importtime, modules compiled; print the slowest."""
    argv = [sys.executable, "-X", "importtime", "-c", "import textfile_redis.cli"]
    with workspace() as workdir:
        env = child_env(workdir)
        subprocess.run(argv, capture_output=True, check=True, env=env)  # fills the bytecode cache
        result = subprocess.run(argv, capture_output=True, text=True, check=True, env=env)
    rows = sorted(import_times(result.stderr.splitlines()), key=lambda row: -row[1])
    table = [[ms(cumulative / 1e6), ms(own / 1e6), name] for name, cumulative, own in rows[:top]]
    print_table("import textfile_redis.cli, slowest first", ("cumulative", "self", "module"), table)


def import_times(lines: Iterable[str]) -> Iterable[tuple[str, int, int]]:
    """(module, cumulative us, self us) from `import time: self | cumulative | name` lines."""
    for line in lines:
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        own, cumulative, name = line.removeprefix("import time:").split("|")
        yield name.rstrip(), int(cumulative), int(own)


if __name__ == "__main__":
    main()
