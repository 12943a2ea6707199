"""Config watching: the only module importing watchdog; file events in, a reload callback out."""

from __future__ import annotations

import contextlib
import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

if TYPE_CHECKING:
    from collections.abc import Callable

    from watchdog.observers.api import BaseObserver, ObservedWatch

log = logging.getLogger(__name__)

STOP_JOIN_TIMEOUT = 0.2  # seconds stop() waits for watchdog's threads; they only read inotify
# Reads and directory "modified" events (a child changed: its own event follows) say nothing.
_IGNORED_EVENTS = frozenset({"opened", "closed_no_write"})


class ConfigWatcher(FileSystemEventHandler):
    """Calls on_change when the main config file, conf.d itself or a conf.d/*.toml file changes.

    Two directories are watched, neither recursively: the config file's own, for the file and
    for conf.d coming or going, and conf.d while it exists. A log file or anything else next to
    the config file is never a reason to reload.
    """

    def __init__(
        self,
        config_path: Path,
        confd: Path,
        on_change: Callable[[], None],
        make_observer: Callable[[], BaseObserver] = Observer,
    ) -> None:
        super().__init__()
        self._config_path = config_path.absolute()
        self._confd = confd.absolute()
        self._on_change = on_change
        self._make_observer = make_observer
        self._observer: BaseObserver | None = None
        self._confd_watch: ObservedWatch | None = None
        self._stopped = False  # events still in watchdog's queue at stop are dropped
        self._lock = threading.Lock()  # start, stop and conf.d (re)scheduling, from two threads

    def start(self) -> bool:
        """Watch the config file's directory and conf.d; False when the directory is missing."""
        directory = self._config_path.parent
        if not directory.is_dir():
            log.debug("not watching %s: it does not exist", directory)
            return False
        # watchdog logs every inotify event at debug level: with a log file in a watched
        # directory, each line would be an event that logs another line, forever.
        logging.getLogger("watchdog").setLevel(logging.INFO)
        with self._lock:
            self._observer = self._make_observer()
            self._observer.schedule(self, str(directory), recursive=False)
            self._watch_confd()
            self._observer.start()
        return True

    def stop(self) -> None:
        """Stop watching and wait (briefly) for watchdog's threads, so none outlives the run."""
        with self._lock:
            observer, self._observer = self._observer, None
            self._stopped = True
        if observer is None:
            return
        observer.stop()  # stops and joins the emitter threads
        if observer.is_alive():
            observer.join(STOP_JOIN_TIMEOUT)

    def on_any_event(self, event: FileSystemEvent) -> None:
        """Pass on changes that concern the configuration; ignore reads and other files."""
        if event.event_type in _IGNORED_EVENTS or self._stopped:
            return
        paths = [Path(_text(p)) for p in (event.src_path, getattr(event, "dest_path", "")) if p]
        if self._confd in paths and event.event_type != "modified":
            with self._lock:  # conf.d came, went or was replaced: its watch must follow
                self._watch_confd()
            self._on_change()
        elif any(self._concerns(path) for path in paths) and not event.is_directory:
            self._on_change()

    def _watch_confd(self) -> None:
        """(Re)start watching conf.d when it exists: a watch on a removed directory is dead."""
        if self._observer is None:
            return
        if self._confd_watch is not None:
            with contextlib.suppress(KeyError):  # already gone with its directory
                self._observer.unschedule(self._confd_watch)
            self._confd_watch = None
        if self._confd.is_dir():
            self._confd_watch = self._observer.schedule(self, str(self._confd), recursive=False)

    def _concerns(self, path: Path) -> bool:
        if path == self._config_path:
            return True
        is_toml = path.suffix == ".toml" and not path.name.startswith(".")
        return path.parent == self._confd and is_toml


def _text(path: str | bytes) -> str:
    return path.decode(errors="surrogateescape") if isinstance(path, bytes) else path
