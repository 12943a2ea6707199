"""One collection cycle: scrape every target concurrently, translate, write each target's file."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from . import budget
from .scrape import Scraper
from .textfile import Marker, render, write_atomic
from .translate import Extras, Outcome, SeriesCache, translate

if TYPE_CHECKING:
    from collections.abc import Iterator

    from .config import Config, Target
    from .scrape import ScrapeResult

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TargetReport:
    """How one target's cycle ended: scraped or not, file written or not."""

    target: Target
    scrape_error: str | None = None
    write_error: str | None = None

    @property
    def ok(self) -> bool:
        """True when the server answered and its file holds the fresh metrics."""
        return self.scrape_error is None and self.write_error is None

    def describe(self) -> str:
        """One line for the operator: which target failed, why, and what it needs, if known."""
        problems = [p for p in (self.scrape_error, self.write_error) if p]
        if self.scrape_error and self.target.advice:
            problems.append(self.target.advice)
        return f"target {self.target.name} ({self.target.addr}): " + "; ".join(problems or ["ok"])


class WriteGate:
    """Lets writers in until closed; closing waits for those inside, so no file lands after."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._open = True
        self._inside = 0

    @contextmanager
    def enter(self) -> Iterator[bool]:
        """Yield True when the writer may write; False once the gate is closed."""
        with self._condition:
            allowed = self._open
            self._inside += allowed
        try:
            yield allowed
        finally:
            with self._condition:
                self._inside -= allowed
                self._condition.notify_all()

    def close(self, timeout: float) -> bool:
        """Refuse new writers and wait for those inside; False when they outlast the timeout."""
        with self._condition:
            self._open = False
            return self._condition.wait_for(lambda: self._inside == 0, timeout)


# A job for a target's worker: collect once and report to this callback; None retires it.
_Job = Callable[[TargetReport], None] | None


@dataclass(slots=True)
class _Slot:
    """A target's place in the collector: scraper, write gate, worker's jobs, whether busy."""

    scraper: Scraper
    gate: WriteGate = field(default_factory=WriteGate)
    jobs: queue.SimpleQueue[_Job] = field(default_factory=queue.SimpleQueue)
    busy: bool = False
    malformed: tuple[str, ...] = ()  # the replies last logged as malformed, by name
    budget_state: tuple[tuple[str, ...], bool] = ((), False)  # last logged: left out, over
    series: SeriesCache = field(default_factory=SeriesCache)  # translation's, kept across cycles


class Collector:
    """Keeps one Scraper per target, and a worker thread per target that collects it.

    A worker lives as long as its target: starting a thread every cycle cost a tenth of the
    cycle's CPU. Workers are daemon threads, so a server that hangs never keeps the process
    from stopping.
    """

    def __init__(self, config: Config) -> None:
        self.config = config
        self._slots = {t.name: self._start_slot(t) for t in config.targets}
        self._lock = threading.Lock()

    def start_cycle(self, on_done: Callable[[TargetReport], None]) -> list[str]:
        """Start collecting every target not still busy from the last cycle; names started."""
        with self._lock:
            idle = [slot for slot in self._slots.values() if not slot.busy]
            for slot in idle:
                slot.busy = True
        for slot in idle:
            slot.jobs.put(on_done)
        return [slot.scraper.target.name for slot in idle]

    def cycle(self) -> list[TargetReport]:
        """Collect every target once and return when all are done."""
        reports: list[TargetReport] = []
        done = threading.Condition()

        def collect(report: TargetReport) -> None:
            with done:
                reports.append(report)
                done.notify()

        expected = len(self.start_cycle(collect))
        with done:
            done.wait_for(lambda: len(reports) == expected)
        return reports

    def reconfigure(self, config: Config, timeout: float) -> list[Target]:
        """Adopt a new configuration; returns the targets whose files must go.

        Unchanged targets keep their connections. A retired target's gate is closed first, so
        its file cannot come back after the caller removes it.
        """
        same_place = (config.textfile_dir, config.owner) == (
            self.config.textfile_dir,
            self.config.owner,
        )
        with self._lock:
            kept = {
                t.name: self._slots[t.name]
                for t in config.targets
                if same_place and t.name in self._slots and self._slots[t.name].scraper.target == t
            }
            retired = [slot for name, slot in self._slots.items() if kept.get(name) is not slot]
            self._slots = {t.name: kept.get(t.name) or self._start_slot(t) for t in config.targets}
            self.config = config
        for slot in retired:
            slot.jobs.put(None)
            slot.gate.close(timeout)
            slot.scraper.close()
        return [slot.scraper.target for slot in retired]

    def stop(self, timeout: float) -> bool:
        """Let no file be written from now on; False when a writer outlasted the timeout."""
        with self._lock:
            slots = list(self._slots.values())
        deadline = time.monotonic() + timeout
        return all(slot.gate.close(max(0.0, deadline - time.monotonic())) for slot in slots)

    def close(self) -> None:
        """Retire every worker and close every connection."""
        with self._lock:
            slots = list(self._slots.values())
        for slot in slots:
            slot.jobs.put(None)
            slot.scraper.close()

    def _start_slot(self, target: Target) -> _Slot:
        slot = _Slot(Scraper(target))
        name = f"scrape-{target.name}"
        threading.Thread(target=self._work, args=(slot,), name=name, daemon=True).start()
        return slot

    def _work(self, slot: _Slot) -> None:
        """A target's worker: one collection per job, until it is retired."""
        while (on_done := slot.jobs.get()) is not None:
            self._run(slot, on_done)

    def _run(self, slot: _Slot, on_done: Callable[[TargetReport], None]) -> None:
        try:
            report = self._collect(slot)
        except Exception as exc:  # a bug must cost one target one cycle, never the daemon
            log.exception("target %s: collection failed", slot.scraper.target.name)
            report = TargetReport(slot.scraper.target, write_error=f"internal error: {exc!r}")
        finally:
            with self._lock:
                slot.busy = False
        on_done(report)

    def _collect(self, slot: _Slot) -> TargetReport:
        """Scrape one target, translate and write its file (unless its gate has closed)."""
        target = slot.scraper.target
        result = slot.scraper.scrape()
        outcome = outcome_of(target, result)
        config = self.config
        translation = translate(outcome, slot.series)
        verdict = budget.enforce(translation.families, series_limit(config, target))
        if result.error is None:  # a failed scrape says nothing about the replies' shapes
            _note_malformed(slot, translation.malformed)
            _note_budget(slot, verdict)
        families = [*verdict.kept, *budget.own_families(verdict, _common_labels(target))]
        data = render(families, Marker(config.owner, target.name))
        with slot.gate.enter() as allowed:
            if not allowed:
                return TargetReport(target, result.error, "stopped: file not written")
            try:
                write_atomic(config.textfile_dir, target.filename, data, config.owner)
            except OSError as exc:
                return TargetReport(target, result.error, f"cannot write {target.filename}: {exc}")
        return TargetReport(target, result.error)


def outcome_of(target: Target, result: ScrapeResult) -> Outcome:
    """What translation needs of a target's scrape."""
    return Outcome(
        addr=target.addr,
        replies=result.replies,
        refused=result.refused,
        error=result.error,
        duration=result.duration,
        now=time.time(),
        labels=target.labels,
        extras=_extras(target),
    )


def series_limit(config: Config, target: Target) -> int:
    """The series the target's file may hold under this configuration."""
    options = target.options
    return budget.limit_for(options.max_series, config.max_series_total, len(config.targets))


def budgeted(config: Config, target: Target, result: ScrapeResult) -> budget.Verdict:
    """What the target's file would keep and leave out after this scrape (check --connect)."""
    return budget.enforce(
        translate(outcome_of(target, result)).families, series_limit(config, target)
    )


def _common_labels(target: Target) -> dict[str, str]:
    return {"addr": target.addr, **dict(target.labels)}


def _note_budget(slot: _Slot, verdict: budget.Verdict) -> None:
    """Log the families a target's budget leaves out when that set changes, not every cycle."""
    state = (tuple(verdict.dropped), verdict.over)
    if state == slot.budget_state:
        return
    slot.budget_state = state
    name, limit = slot.scraper.target.name, verdict.limit
    if verdict.over:
        log.warning(
            "target %s: %d series in its default families alone, over its budget of %d",
            name,
            verdict.series,
            limit,
        )
    if verdict.dropped:
        left_out = ", ".join(f"{family} ({count})" for family, count in verdict.dropped.items())
        log.warning("target %s: over its budget of %d series, left out: %s", name, limit, left_out)
    elif not verdict.over:
        log.info("target %s: every family within its budget of %d series again", name, limit)


def _note_malformed(slot: _Slot, malformed: tuple[str, ...]) -> None:
    """Log the replies a target sends malformed when that set changes, not on every cycle."""
    if malformed == slot.malformed:
        return
    slot.malformed = malformed
    name = slot.scraper.target.name
    if malformed:
        replies = ", ".join(malformed)
        log.warning("target %s: malformed replies, their metrics left out: %s", name, replies)
    else:
        log.info("target %s: every reply well-formed again", name)


def _extras(target: Target) -> Extras:
    options = target.options
    return Extras(
        include_config_metrics=options.include_config_metrics,
        include_system_metrics=options.include_system_metrics,
        export_client_port=options.export_client_port,
        max_distinct_key_groups=options.max_distinct_key_groups,
        export_client_list=options.export_client_list,
        export_client_load=options.export_client_load,
        insight_top_n=options.insight_top_n,
    )
