"""The run loop: cycles on a monotonic schedule, signals as events, reload, cleanup on stop."""

from __future__ import annotations

import enum
import logging
import os
import queue
import signal
import time
from typing import TYPE_CHECKING

from .config import ConfigError
from .cycle import Collector, TargetReport
from .textfile import owned_files, remove_files, temp_files

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from pathlib import Path
    from types import FrameType

    from .config import Config, Target

log = logging.getLogger(__name__)

EXIT_OK = 0
STOP_WRITERS_TIMEOUT = 0.5  # seconds a writer in mid-write may take before stop goes on


class Event(enum.Enum):
    """What the loop can be woken for, besides a target's report."""

    STOP = "stop"
    RELOAD = "reload"


def remove_owned(config: Config, keep: Iterable[str] = ()) -> list[Path]:
    """Remove this configuration's files, but those named in keep, and its leftover temp files."""
    kept = set(keep)
    ours = [p for p in owned_files(config.textfile_dir, config.owner) if p.name not in kept]
    return remove_files([*ours, *temp_files(config.textfile_dir, config.owner)])


class Daemon:
    """Runs cycles until a signal stops it; the only place that owns the textfiles' lifetime."""

    def __init__(self, config: Config, load_config: Callable[[], Config]) -> None:
        self.config = config
        self._load_config = load_config
        self._events: queue.SimpleQueue[Event | TargetReport] = queue.SimpleQueue()
        self._collector = Collector(config)
        self._failing: dict[str, bool] = {}
        self._stopping = False

    def post(self, event: Event) -> None:
        """Queue an event; safe from signal handlers (SimpleQueue.put is reentrant)."""
        self._events.put(event)

    def run(self) -> int:
        """Loop until STOP; returns the exit code."""
        self._install_signal_handlers()
        self._remove_leftovers()
        next_cycle = time.monotonic()
        while True:
            event = self._wait(next_cycle)
            if event is None:
                self._collector.start_cycle(self._events.put)
                next_cycle = _next_tick(next_cycle, self.config.interval, time.monotonic())
            elif event is Event.STOP:
                return self._stop()
            elif event is Event.RELOAD:
                self._reload()
            else:
                self._note(event)

    def _wait(self, deadline: float) -> Event | TargetReport | None:
        """The next event, or None when the next cycle is due first."""
        try:
            return self._events.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            return None

    def _install_signal_handlers(self) -> None:
        signal.signal(signal.SIGTERM, self._on_stop_signal)
        signal.signal(signal.SIGINT, self._on_stop_signal)
        signal.signal(signal.SIGHUP, self._on_reload_signal)

    def _on_stop_signal(self, _signum: int, _frame: FrameType | None) -> None:
        if self._stopping:  # asked twice: the operator wants out now, and it is still clean
            os._exit(EXIT_OK)
        self.post(Event.STOP)

    def _on_reload_signal(self, _signum: int, _frame: FrameType | None) -> None:
        self.post(Event.RELOAD)

    def _remove_leftovers(self) -> None:
        """Files of targets no longer configured, and temp files of a killed run."""
        removed = remove_owned(self.config, keep=(t.filename for t in self.config.targets))
        for path in removed:
            log.info("removed leftover %s", path)

    def _stop(self) -> int:
        self._stopping = True
        if not self._collector.stop(STOP_WRITERS_TIMEOUT):
            log.warning("a file write outlasted %.1fs while stopping", STOP_WRITERS_TIMEOUT)
        removed = remove_owned(self.config)
        log.info("stopped; removed %d file(s)", len(removed))
        return EXIT_OK

    def _reload(self) -> None:
        try:
            new_config = self._load_config()
        except ConfigError as exc:
            log.error("reload refused, keeping the running configuration: %s", exc)  # noqa: TRY400 - one line, no traceback
            return
        old_config = self.config
        retired = self._collector.reconfigure(new_config, STOP_WRITERS_TIMEOUT)
        self.config = new_config
        remove_files(old_config.textfile_dir / t.filename for t in retired)
        self._log_reload(old_config, retired)
        self._collector.start_cycle(self._events.put)  # new targets get their files at once

    def _log_reload(self, old: Config, retired: list[Target]) -> None:
        old_names = {t.name for t in old.targets}
        added = [t.name for t in self.config.targets if t.name not in old_names]
        gone = [t.name for t in retired if t.name not in {n.name for n in self.config.targets}]
        log.info(
            "reloaded: %d target(s), added %s, removed %s",
            len(self.config.targets),
            added or "none",
            gone or "none",
        )

    def _note(self, report: TargetReport) -> None:
        """Log a target's state only when it changes, not on every cycle."""
        name = report.target.name
        was_failing = self._failing.get(name)
        self._failing[name] = not report.ok
        if not report.ok and was_failing is not True:
            log.warning("%s", report.describe())
        elif report.ok and was_failing is True:
            log.info("target %s recovered", name)


def _next_tick(previous: float, interval: float, now: float) -> float:
    """The next slot on the grid previous + k*interval that lies after now (no drift)."""
    missed = max(0, int((now - previous) // interval))
    return previous + (missed + 1) * interval
