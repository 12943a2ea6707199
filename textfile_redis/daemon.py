"""The run loop: cycles on a monotonic schedule, signals as events, reload, cleanup on stop."""

from __future__ import annotations

import contextlib
import enum
import gc
import logging
import math
import os
import queue
import signal
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from .config import ConfigError, config_paths, discovered, with_servers
from .cycle import Collector, TargetReport
from .rediscovery import Discovered, Sightings, discover_in_background
from .textfile import owned_files, remove_files, temp_files
from .watch import ConfigWatcher

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence
    from pathlib import Path
    from types import FrameType

    from .config import Config, Target
    from .discover import Server
    from .notify import Notifier

log = logging.getLogger(__name__)

EXIT_OK = 0
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
STOP_WRITERS_TIMEOUT = 0.5  # seconds a writer in mid-write may take before stop goes on
# Seconds a reload waits, in all, for the writers of retired targets: a stop queued behind the
# reload waits that long at most. A writer that outlasts it is swept after the next cycle.
RELOAD_WRITERS_BUDGET = 0.2
RELOAD_SETTLE = 0.2  # seconds of quiet after a config file event: Ansible writes in bursts
M_MMAP_THRESHOLD = -3  # glibc's mallopt parameters
M_ARENA_MAX = -8
MMAP_THRESHOLD = 1 << 20  # bytes: a buffer this large or larger is a mapping of its own
MALLOC_ARENAS = 2  # the main thread's and one more, which the pool's workers share


class Event(enum.Enum):
    """What the loop can be woken for, besides a target's report and a loaded configuration."""

    STOP = "stop"
    RELOAD = "reload"  # SIGHUP: reload now
    CONFIG_CHANGED = "config changed"  # a file event: reload once the burst has settled


@dataclass(frozen=True, slots=True)
class Loaded:
    """What a background load came back with: a configuration, or why it was refused."""

    config: Config | None
    refusal: str = ""


class Watcher(Protocol):
    """What the loop needs of a config watcher (watch.ConfigWatcher, or a test's stand-in)."""

    def start(self) -> bool:
        """Start watching; False when there is nothing to watch."""

    def stop(self) -> None:
        """Stop watching."""


def remove_owned(config: Config, keep: Iterable[str] = ()) -> list[Path]:
    """Remove this configuration's files, but those named in keep, and its leftover temp files."""
    kept = set(keep)
    ours = [p for p in owned_files(config.textfile_dir, config.owner) if p.name not in kept]
    return remove_files([*ours, *temp_files(config.textfile_dir, config.owner)], config.owner)


_Queued = Event | TargetReport | Loaded | Discovered


class Daemon:
    """Runs cycles until a signal stops it; the only place that owns the textfiles' lifetime.

    Every wakeup drains the whole event queue, then acts by priority: a STOP first, whatever
    else came with it; then reports, loaded configurations and discoveries; then at most one
    reload; then a rediscovery when due; then the tick. A reload's loading (reading and checking
    files) and a discovery each run on a thread of their own, so a stop never waits behind them
    and a cycle never waits for them; requests that come meanwhile merge into one.

    Discovery (when the configuration turns it on): at start, every discovery interval and at
    each reload. The first result is merged at once; later ones at the start of the next cycle.
    A server missed by one discovery keeps its target (see rediscovery.Sightings).
    """

    def __init__(  # noqa: PLR0913 - collaborators come in from outside, each one replaceable
        self,
        config: Config,
        load_config: Callable[[], Config],
        notifier: Notifier,
        *,
        collector: Collector | None = None,
        watcher: Watcher | None = None,
        discover: Callable[[], Sequence[Server]] | None = None,
    ) -> None:
        self.config = config
        self._load_config = load_config
        self._notifier = notifier
        self._events: queue.SimpleQueue[_Queued] = queue.SimpleQueue()
        self._collector = collector or Collector(config)
        self._watcher = watcher or ConfigWatcher(
            *config_paths(config.config_path), lambda: self.post(Event.CONFIG_CHANGED)
        )
        self._current = frozenset(config.targets)
        self._cycle = _CycleBook()
        self._failing: dict[tuple[str, str], bool] = {}  # by name and address, across reloads
        self._reload_due = math.inf
        self._loading = False
        self._load_again = False  # a reload asked for while one was loading
        self._sweep_due = False  # a retired target's writer may have landed a file late
        self._stopping = False
        self._heap_settled = False  # see freeze_long_lived
        self._discover = discover  # None: never discovers, whatever the configuration says
        self._sightings = Sightings()
        self._discover_due = math.inf
        self._discovering = False
        self._discover_again = False  # a discovery asked for while one was running
        self._discovered_once = False
        self._discovery_failing = False  # logged when that changes, not at every discovery
        self._merge_due = False  # a discovery's result waits for the next cycle's start

    def post(self, event: Event) -> None:
        """Queue an event; safe from signal handlers (SimpleQueue.put is reentrant)."""
        self._events.put(event)

    def run(self, early_signals: Iterable[int] = ()) -> int:
        """Loop until STOP; returns the exit code.

        early_signals: stop signals that came before the handlers were in (see entry.py).
        """
        self._install_signal_handlers()
        map_large_buffers_apart()
        share_malloc_arenas()
        if any(signum in STOP_SIGNALS for signum in early_signals):
            self.post(Event.STOP)
        self._log_warnings(self.config)
        if self._discovery_on():
            # Leftovers are known once the first discovery is merged: a file of a server
            # discovered by the last run is then kept, not removed and written again.
            self._discover_due = 0.0
        else:
            self._remove_leftovers()
        self._warn_if_watchdog_too_short()
        self._watcher.start()
        try:
            return self._loop()
        finally:
            self._watcher.stop()

    def _loop(self) -> int:
        next_cycle = time.monotonic()
        while True:
            events = self._wait(min(next_cycle, self._reload_due, self._discover_due))
            if Event.STOP in events:
                return self._stop()
            self._handle(events)
            if time.monotonic() >= self._reload_due:
                self._begin_reload()
            if time.monotonic() >= self._discover_due:
                self._begin_discovery()
            if time.monotonic() >= next_cycle:
                self._start_cycle()
                next_cycle = _next_tick(next_cycle, self.config.interval, time.monotonic())

    def _wait(self, deadline: float) -> list[_Queued]:
        """Everything queued once something is, or nothing when the deadline comes first."""
        try:
            events = [self._events.get(timeout=max(0.0, deadline - time.monotonic()))]
        except queue.Empty:
            return []
        with contextlib.suppress(queue.Empty):
            while True:
                events.append(self._events.get_nowait())
        return events

    def _handle(self, events: Iterable[_Queued]) -> None:
        for event in events:
            if isinstance(event, TargetReport):
                self._note(event)
            elif isinstance(event, Loaded):
                self._adopt(event)
            elif isinstance(event, Discovered):
                self._found(event)
            elif event is Event.RELOAD:
                self._reload_due = 0.0  # many SIGHUPs in one wakeup are one reload
            elif event is Event.CONFIG_CHANGED:
                self._reload_due = min(self._reload_due, time.monotonic() + RELOAD_SETTLE)

    def _install_signal_handlers(self) -> None:
        for signum in STOP_SIGNALS:
            signal.signal(signum, self._on_stop_signal)
        signal.signal(signal.SIGHUP, self._on_reload_signal)

    def _on_stop_signal(self, _signum: int, _frame: FrameType | None) -> None:
        if self._stopping:  # asked twice: the operator wants out now, and it is still clean
            os._exit(EXIT_OK)
        self.post(Event.STOP)

    def _on_reload_signal(self, _signum: int, _frame: FrameType | None) -> None:
        self.post(Event.RELOAD)

    def _log_warnings(self, config: Config) -> None:
        for warning in config.warnings:
            log.warning("%s", warning)

    def _remove_leftovers(self) -> None:
        """Files of targets no longer configured, and temp files of a killed run."""
        removed = remove_owned(self.config, keep=(t.filename for t in self.config.targets))
        for path in removed:
            log.info("removed leftover %s", path)

    def _warn_if_watchdog_too_short(self) -> None:
        watchdog = self._notifier.watchdog_seconds
        if watchdog is not None and watchdog < 2 * self.config.interval:
            log.warning(
                "WatchdogSec=%gs is shorter than two intervals (%gs): expect watchdog restarts",
                watchdog,
                2 * self.config.interval,
            )

    def _start_cycle(self) -> None:
        if self._merge_due:
            self._merge_discovered()
        started = self._collector.start_cycle(self._events.put)
        self._cycle.begin(started)
        if not self._cycle.pending:  # no targets: an idle daemon is still a healthy one
            self._cycle_complete()

    def _note(self, report: TargetReport) -> None:
        if report.target not in self._current:
            return  # a target retired or redefined by a reload while it was being collected
        self._log_state_change(report)
        if self._cycle.record(report):
            self._cycle_complete()

    def _log_state_change(self, report: TargetReport) -> None:
        """Log a target's state only when it changes, not on every cycle nor at a reload."""
        key = (report.target.name, report.target.addr)
        was_failing = self._failing.get(key)
        self._failing[key] = not report.ok
        if not report.ok and was_failing is not True:
            log.warning("%s", report.describe())
        elif report.ok and was_failing is True:
            log.info("target %s recovered", report.target.name)

    def _cycle_complete(self) -> None:
        up = sum(not failing for failing in self._failing.values())
        status = (
            f"{up}/{len(self.config.targets)} targets up; last cycle "
            f"{self._cycle.duration * 1000:.0f} ms"
        )
        if not self._cycle.announced_ready:
            self._notifier.ready(status)
            self._cycle.announced_ready = True
        else:
            self._notifier.status(status)
        if self._cycle.files_written:
            self._notifier.watchdog()
        if self._sweep_due:
            self._sweep_due = False
            self._remove_leftovers()
        if not self._heap_settled:  # after the first cycle and after each reload
            freeze_long_lived()
            self._heap_settled = True

    def _stop(self) -> int:
        self._stopping = True
        self._notifier.stopping()
        if not self._collector.stop(STOP_WRITERS_TIMEOUT):
            log.warning("a file write outlasted %.1fs while stopping", STOP_WRITERS_TIMEOUT)
        removed = remove_owned(self.config)
        log.info("stopped; removed %d file(s)", len(removed))
        # The work is done: a late signal must not kill the interpreter on its way out (Python
        # restores the default handlers during shutdown, and those end the process with -15/-2).
        for signum in STOP_SIGNALS:
            signal.signal(signum, signal.SIG_IGN)
        return EXIT_OK

    def _begin_reload(self) -> None:
        """Load the configuration on a thread; the loop adopts it when Loaded comes back."""
        self._reload_due = math.inf
        if self._loading:
            self._load_again = True  # the files may have changed after that load read them
            return
        self._loading = True
        threading.Thread(target=self._load, name="config-load", daemon=True).start()

    def _load(self) -> None:
        try:
            loaded = Loaded(self._load_config())
        except ConfigError as exc:
            loaded = Loaded(None, str(exc))
        except Exception as exc:  # noqa: BLE001 - loading must end in a config or a refusal
            loaded = Loaded(None, f"unexpected {type(exc).__name__} while loading")
        self._events.put(loaded)

    def _adopt(self, loaded: Loaded) -> None:
        """Apply a loaded configuration, or say in one line why the running one stays."""
        self._loading = False
        if self._load_again:
            self._load_again = False
            self._reload_due = 0.0
        if loaded.config is None:
            log.error("reload refused, keeping the running configuration: %s", loaded.refusal)
            return
        try:
            self._reconfigure(loaded.config)
        except Exception as exc:  # a failed reload must not end the run
            log.error("reload failed (%s); the daemon goes on", type(exc).__name__)  # noqa: TRY400 - one line
            log.debug("reload failure", exc_info=True)

    def _reconfigure(self, loaded: Config) -> None:
        """Adopt a reloaded configuration, with the servers discovery still counts."""
        old_config = self.config
        if loaded.discovery is None:
            self._sightings.clear()
        retired = self._apply(with_servers(loaded, self._sightings.servers()))
        self._log_reload(old_config, retired)
        self._heap_settled = False
        if not self.config.targets:
            log.warning("no targets left: nothing to collect until the configuration has some")
        # A reload looks again at once: a credential added may be what a server waited for.
        self._discover_due = 0.0 if self._discovery_on() else math.inf
        self._start_cycle()  # new targets get their files at once

    def _apply(self, new_config: Config) -> list[Target]:
        """Switch to a configuration: retire the targets it drops and remove their files."""
        old_config = self.config
        # Each retired writer gets a share of the budget, so a reload that retires hundreds of
        # targets cannot hold a stop back for hundreds of timeouts.
        share = RELOAD_WRITERS_BUDGET / max(1, len(old_config.targets))
        retired = self._collector.reconfigure(new_config, share)
        self.config = new_config
        self._current = frozenset(new_config.targets)
        rewritten = _still_written(old_config, new_config)
        gone = [
            old_config.textfile_dir / t.filename for t in retired if t.filename not in rewritten
        ]
        remove_files(gone, old_config.owner)
        self._cycle.forget(t.name for t in retired)
        kept = {(t.name, t.addr) for t in new_config.targets}
        self._failing = {key: bad for key, bad in self._failing.items() if key in kept}
        self._sweep_due = self._sweep_due or bool(retired)
        return retired

    def _discovery_on(self) -> bool:
        return self._discover is not None and self.config.discovery is not None

    def _begin_discovery(self) -> None:
        """Discover on a thread; the loop merges what comes back (see _found)."""
        discovery = self.config.discovery
        if self._discover is None or discovery is None:
            self._discover_due = math.inf
            return
        self._discover_due = time.monotonic() + discovery.interval
        if self._discovering:
            self._discover_again = True
            return
        self._discovering = True
        discover_in_background(self._discover, self._events.put)

    def _found(self, found: Discovered) -> None:
        """Note a discovery's servers; merged at once the first time, else at the next cycle."""
        self._discovering = False
        if self._discover_again:
            self._discover_again = False
            self._discover_due = 0.0
        if not self._discovery_on():
            return
        if found.servers is None:
            if not self._discovery_failing:
                log.warning("discovery failed; the servers found before stay: %s", found.failure)
            self._discovery_failing = True
            return
        if self._discovery_failing:
            log.info("discovery works again")
            self._discovery_failing = False
        self._sightings.update(found.servers)
        self._merge_due = True
        if not self._discovered_once:
            self._discovered_once = True
            self._sweep_due = True  # the leftovers of an earlier run are known now
            self._start_cycle()

    def _merge_discovered(self) -> None:
        """Make the servers discovery counts into targets, replacing those discovered before."""
        self._merge_due = False
        new_config = with_servers(self.config, self._sightings.servers())
        if new_config.targets == self.config.targets:
            return
        before = {t.name for t in discovered(self.config)}
        self._apply(new_config)
        after = {t.name for t in discovered(new_config)}
        log.info(
            "discovery: %d server(s) to collect; new: %s; gone: %s",
            len(after),
            ", ".join(sorted(after - before)) or "none",
            ", ".join(sorted(before - after)) or "none",
        )

    def _log_reload(self, old: Config, retired: list[Target]) -> None:
        old_names = {t.name for t in old.targets}
        new_names = {t.name for t in self.config.targets}
        log.info(
            "reloaded: %d target(s); added: %s; removed: %s",
            len(new_names),
            ", ".join(sorted(new_names - old_names)) or "none",
            ", ".join(sorted({t.name for t in retired} - new_names)) or "none",
        )
        self._log_warnings(self.config)


class _CycleBook:
    """Which targets the current cycle still waits for, and whether all its files were written."""

    def __init__(self) -> None:
        self.pending: set[str] = set()
        self.files_written = True
        self.started = time.monotonic()
        self.duration = 0.0
        self.announced_ready = False

    def begin(self, names: Iterable[str]) -> None:
        if not self.pending:
            self.files_written = True
            self.started = time.monotonic()
        self.pending.update(names)

    def record(self, report: TargetReport) -> bool:
        """Note a report; True when it completed the cycle."""
        if report.target.name not in self.pending:
            return False
        self.pending.discard(report.target.name)
        self.files_written &= report.write_error is None
        if self.pending:
            return False
        self.duration = time.monotonic() - self.started
        return True

    def forget(self, names: Iterable[str]) -> None:
        self.pending.difference_update(names)


def _still_written(old: Config, new: Config) -> frozenset[str]:
    """Files the new configuration writes where the old one did.

    A target whose settings changed is retired and started again: its file must not vanish in
    between, or node_exporter may miss it for a scrape.
    """
    if (old.textfile_dir, old.owner) != (new.textfile_dir, new.owner):
        return frozenset()
    return frozenset(target.filename for target in new.targets)


def map_large_buffers_apart(threshold: int = MMAP_THRESHOLD) -> bool:
    """Have glibc give each buffer of `threshold` bytes or more a mapping of its own.

    A reply is read into a buffer that grows to its size. glibc raises its threshold to the
    largest buffer freed so far, so after one flood cut at max_scrape_bytes the next ones came
    from a thread's malloc arena and stayed resident there: with a pool, once per worker that
    read one (bench/RESULTS.md, issue 17). A fixed threshold returns each to the system when
    freed. False when the C library has no such setting.
    """
    return _mallopt(M_MMAP_THRESHOLD, threshold)


def share_malloc_arenas(arenas: int = MALLOC_ARENAS) -> bool:
    """Have glibc keep at most `arenas` malloc arenas, whichever threads allocate.

    glibc gives threads that allocate at once arenas of their own, up to eight per core, and
    each keeps what its threads freed: with the pool's workers, the watchers and the stand-ins
    for stalled jobs, 200 targets held 7 to 16 MiB more for the same CPU (bench/RESULTS.md,
    issue 17). False when the C library has no such setting.
    """
    return _mallopt(M_ARENA_MAX, arenas)


def _mallopt(parameter: int, value: int) -> bool:
    import ctypes  # noqa: PLC0415 - here, not at import: `once` and `check` never need it

    try:
        return bool(ctypes.CDLL(None).mallopt(parameter, value))
    except (OSError, AttributeError):  # not glibc
        return False


def freeze_long_lived() -> None:
    """Keep what lives for the whole run out of the cyclic garbage collector's walks.

    Modules, configuration and connections are tens of thousands of objects that every full
    collection would walk again while cycles allocate: a seventh of a cycle's CPU. Garbage is
    collected first so that nothing unreachable is frozen; a reload thaws and freezes anew.
    """
    gc.unfreeze()
    gc.collect()
    gc.freeze()


def _next_tick(previous: float, interval: float, now: float) -> float:
    """The next slot on the grid previous + k*interval that lies after now (no drift)."""
    missed = max(0, int((now - previous) // interval))
    return previous + (missed + 1) * interval
