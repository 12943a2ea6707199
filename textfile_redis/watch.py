"""Config watching: the only module importing watchdog; file events in, a reload callback out."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

if TYPE_CHECKING:
    from collections.abc import Callable

    from watchdog.observers.api import BaseObserver

log = logging.getLogger(__name__)


class ConfigWatcher(FileSystemEventHandler):
    """Calls on_change when the main config file or a conf.d/*.toml file changes."""

    def __init__(self, config_path: Path, confd: Path, on_change: Callable[[], None]) -> None:
        super().__init__()
        self._config_path = config_path.absolute()
        self._confd = confd.absolute()
        self._on_change = on_change
        self._observer: BaseObserver | None = None

    def start(self) -> bool:
        """Watch the config file's directory (conf.d included); False when it does not exist."""
        directory = self._config_path.parent
        if not directory.is_dir():
            log.debug("not watching %s: it does not exist", directory)
            return False
        self._observer = Observer()
        # Recursive, so that a conf.d created after start-up is watched too.
        self._observer.schedule(self, str(directory), recursive=True)
        self._observer.daemon = True
        self._observer.start()
        return True

    def stop(self) -> None:
        """Stop watching; returns without waiting for the observer thread."""
        if self._observer is not None:
            self._observer.stop()

    def on_any_event(self, event: FileSystemEvent) -> None:
        """Pass on changes that concern the configuration; ignore reads and other files."""
        if event.event_type in {"opened", "closed_no_write"}:
            return
        paths = [event.src_path, getattr(event, "dest_path", "")]
        if any(self._concerns(Path(_text(path))) for path in paths if path):
            self._on_change()

    def _concerns(self, path: Path) -> bool:
        if path in {self._config_path, self._confd}:
            return True
        return path.parent == self._confd and path.suffix == ".toml"


def _text(path: str | bytes) -> str:
    return path.decode(errors="surrogateescape") if isinstance(path, bytes) else path
