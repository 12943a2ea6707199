"""One collection cycle: scrape every target concurrently, translate, write each target's file."""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING

from . import budget
from .scrape import Scraper
from .textfile import Marker, render, write_atomic
from .translate import Extras, Outcome, SeriesCache, translate

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

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

    def shut(self) -> None:
        """Refuse new writers from now on."""
        with self._condition:
            self._open = False

    def close(self, timeout: float) -> bool:
        """Refuse new writers and wait for those inside; False when they outlast the timeout."""
        with self._condition:
            self._open = False
            return self._condition.wait_for(lambda: self._inside == 0, timeout)


# Workers a collector keeps, at most: enough to overlap the network and fsync waits of a few
# targets, few enough that they do not queue for the GIL (bench/RESULTS.md, issue 17).
POOL_SIZE = 2
# Seconds a job may go without progress before its worker stops counting as available: a job
# stalled this long (a hung or dripping server, a slow connect) gets a thread to stand in for
# its worker, so it delays the targets queued behind it by this much at most, never by its whole
# timeout. Progress, not the job's age: on a starved CPU every job is slow, and more threads
# would only queue for the GIL. A job that progresses but runs past PATIENCE (a server that
# drips its reply, a long key inspection) gets a stand-in too.
STALL = 0.1
PATIENCE = 1.0


class Heartbeat:
    """A clock that remembers when it was last read: a scrape reads it at each socket operation."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.last = -math.inf

    def __call__(self) -> float:
        """The time now, remembered as the last sign of progress."""
        self.last = now = self._clock()
        return now


def pool_size(targets: int) -> int:
    """The workers for this many targets: one each, up to POOL_SIZE."""
    return max(1, min(targets, POOL_SIZE))


class WorkerPool:
    """Runs jobs on a few long-lived threads; a stalled job gets a stand-in thread.

    `size` workers live as long as the pool (starting a thread per job cost a tenth of a
    cycle's CPU). A watcher, asleep while no job waits, starts a temporary worker for each
    worker whose job has shown no progress for `stall` while others wait; temporary workers
    leave when they find no job. A job's progress is its start, or the last beat of the
    heartbeat it was submitted with. Every thread is a daemon thread, so a server that hangs
    never keeps the process from stopping.
    """

    def __init__(
        self,
        size: int,
        stall: float = STALL,
        patience: float = PATIENCE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._size, self._stall, self._patience, self._clock = size, stall, patience, clock
        self._lock = threading.Lock()
        self._job_ready = threading.Condition(self._lock)
        self._waiting = threading.Condition(self._lock)  # the watcher's
        self._jobs: deque[tuple[Callable[[], None], Heartbeat | None]] = deque()
        # By worker: when its job started, and its heartbeat if it has one.
        self._running: dict[int, tuple[float, Heartbeat | None]] = {}
        self._workers = 0
        self._starting = 0  # workers started that have not asked for a job yet
        self._idle = 0
        self._watcher_asleep = False  # waiting for jobs, not timing a stall
        self._closed = False
        threading.Thread(target=self._watch, name="scrape-watch", daemon=True).start()

    def submit(self, job: Callable[[], None], heartbeat: Heartbeat | None = None) -> None:
        """Run job on a worker, at once when one is idle."""
        with self._lock:
            if self._closed:
                return
            self._jobs.append((job, heartbeat))
            if self._idle:
                self._job_ready.notify()
            elif self._workers < self._size:
                self._add_worker()
            if self._watcher_asleep:
                self._waiting.notify()

    def resize(self, size: int) -> None:
        """Keep `size` workers from now on; those over it leave when they find no job."""
        with self._lock:
            self._size = size
            self._job_ready.notify_all()

    def close(self) -> None:
        """Drop the jobs not started; every worker leaves once its job, if any, is done."""
        with self._lock:
            self._closed = True
            self._jobs.clear()
            self._job_ready.notify_all()
            self._waiting.notify_all()

    def _add_worker(self) -> None:
        self._workers += 1
        self._starting += 1
        name = f"scrape-{self._workers}"
        threading.Thread(target=self._work, name=name, daemon=True).start()

    def _work(self) -> None:
        me, first = threading.get_ident(), True
        while (job := self._next_job(me, first=first)) is not None:
            first = False
            try:
                job()
            except Exception:  # a bug must cost one job, never a worker
                log.exception("a collection job failed")

    def _next_job(self, me: int, *, first: bool) -> Callable[[], None] | None:
        """The next job, marked started; None when this worker is to leave.

        One critical section from the end of the last job to the start of the next: the
        watcher must never see this worker as neither starting, idle nor running.
        """
        with self._lock:
            self._starting -= first
            self._running.pop(me, None)
            while not self._jobs:
                if self._closed or self._workers > self._size:
                    self._workers -= 1
                    return None
                self._idle += 1
                self._job_ready.wait()
                self._idle -= 1
            job, heartbeat = self._jobs.popleft()
            self._running[me] = (self._clock(), heartbeat)
            return job

    def _watch(self) -> None:
        """While jobs wait, stand a temporary worker in for each stalled one."""
        with self._lock:
            while not self._closed:
                if not self._jobs:
                    self._watcher_asleep = True
                    self._waiting.wait()
                    self._watcher_asleep = False
                    continue
                now = self._clock()
                stale_at = [self._stale_at(*running) for running in self._running.values()]
                fresh = [t for t in stale_at if t > now]
                available = self._idle + self._starting + len(fresh)
                for _ in range(min(len(self._jobs), self._size - available)):
                    self._add_worker()
                soonest = min(fresh, default=now + self._stall) - now
                self._waiting.wait(max(soonest, self._stall / 10))

    def _stale_at(self, started: float, heartbeat: Heartbeat | None) -> float:
        """When a running job stops counting as its worker's: no progress, or past patience."""
        progress = started if heartbeat is None else max(started, heartbeat.last)
        return min(progress + self._stall, started + self._patience)


@dataclass(slots=True)
class _Slot:
    """A target's place in the collector: scraper, write gate, whether busy or retired."""

    scraper: Scraper
    heartbeat: Heartbeat
    gate: WriteGate = field(default_factory=WriteGate)
    busy: bool = False
    retired: bool = False
    malformed: tuple[str, ...] = ()  # the replies last logged as malformed, by name
    budget_state: tuple[tuple[str, ...], bool] = ((), False)  # last logged: left out, over
    series: SeriesCache = field(default_factory=SeriesCache)  # translation's, kept across cycles


class Collector:
    """Keeps one Scraper per target, and a pool of a few workers that collect them.

    Each target's collection is a job for the pool; a target whose last collection is still
    running is not started again. See WorkerPool for how a hung server is kept from holding
    up the others.
    """

    def __init__(self, config: Config, pool: WorkerPool | None = None) -> None:
        self.config = config
        self._slots = {t.name: _new_slot(t) for t in config.targets}
        self._pool = pool or WorkerPool(pool_size(len(config.targets)))
        self._lock = threading.Lock()

    def start_cycle(self, on_done: Callable[[TargetReport], None]) -> list[str]:
        """Start collecting every target not still busy from the last cycle; names started."""
        with self._lock:
            idle = [slot for slot in self._slots.values() if not slot.busy]
            for slot in idle:
                slot.busy = True
        for slot in idle:
            self._pool.submit(partial(self._run, slot, on_done), slot.heartbeat)
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
            self._slots = {t.name: kept.get(t.name) or _new_slot(t) for t in config.targets}
            self.config = config
            for slot in retired:
                slot.retired = True  # a job of its still queued is skipped
        self._pool.resize(pool_size(len(config.targets)))
        _close_gates(retired, timeout * len(retired))
        for slot in retired:
            slot.scraper.close()
        return [slot.scraper.target for slot in retired]

    def stop(self, timeout: float) -> bool:
        """Let no file be written from now on; False when a writer outlasted the timeout."""
        with self._lock:
            slots = list(self._slots.values())
        self._pool.close()
        return _close_gates(slots, timeout)

    def close(self) -> None:
        """Retire every worker and close every connection."""
        with self._lock:
            slots = list(self._slots.values())
        self._pool.close()
        for slot in slots:
            slot.scraper.close()

    def _run(self, slot: _Slot, on_done: Callable[[TargetReport], None]) -> None:
        if slot.retired:  # the daemon no longer waits for its report
            return
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
        slot.heartbeat()  # what follows is our own work: no server can stall it
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


def _new_slot(target: Target) -> _Slot:
    """A target's slot; its scraper reads the clock at each socket operation (see STALL)."""
    heartbeat = Heartbeat()
    return _Slot(Scraper(target, heartbeat), heartbeat)


def _close_gates(slots: Iterable[_Slot], timeout: float) -> bool:
    """Close every gate at once, then wait for writers inside; False when one outlasted timeout.

    Each gate is closed before any wait: a writer that outlasts its share must not leave the
    gates after it open.
    """
    slots = list(slots)
    for slot in slots:
        slot.gate.shut()
    deadline = time.monotonic() + timeout
    return all(slot.gate.close(max(0.0, deadline - time.monotonic())) for slot in slots)


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
