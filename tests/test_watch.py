"""Which file events reload the configuration: synthetic events, then real files and inotify."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from watchdog.events import (
    DirCreatedEvent,
    DirModifiedEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileOpenedEvent,
)

from tests.support.processes import wait_for
from textfile_redis.watch import ConfigWatcher

if TYPE_CHECKING:
    from collections.abc import Iterator

ETC = Path("/etc/textfile-redis")


def _changes(event: object) -> int:
    calls: list[None] = []
    watcher = ConfigWatcher(ETC / "config.toml", ETC / "conf.d", lambda: calls.append(None))
    watcher.on_any_event(event)  # type: ignore[arg-type]
    return len(calls)


@pytest.mark.parametrize(
    "event",
    [
        FileModifiedEvent(str(ETC / "config.toml")),
        FileCreatedEvent(str(ETC / "conf.d" / "cache.toml")),
        FileDeletedEvent(str(ETC / "conf.d" / "cache.toml")),
        FileClosedEvent(str(ETC / "conf.d" / "cache.toml")),
        # Ansible writes a temp file, then renames it over the target file.
        FileMovedEvent(str(ETC / "conf.d" / ".ansible_tmp123"), str(ETC / "conf.d" / "a.toml")),
        FileMovedEvent(str(ETC / ".config.toml.swp"), str(ETC / "config.toml")),
        DirCreatedEvent(str(ETC / "conf.d")),
    ],
    ids=lambda e: f"{type(e).__name__}:{Path(getattr(e, 'dest_path', '') or e.src_path).name}",
)
def test_configuration_changes_reload(event: object) -> None:
    """Writes, creations, deletions and renames of config files each ask for one reload."""
    assert _changes(event) == 1


@pytest.mark.parametrize(
    "event",
    [
        FileOpenedEvent(str(ETC / "config.toml")),
        FileModifiedEvent(str(ETC / "conf.d" / "notes.txt")),
        FileCreatedEvent(str(ETC / "conf.d" / ".cache.toml.swp")),
        FileModifiedEvent(str(ETC / "cache.password")),
        FileModifiedEvent(str(ETC / "conf.d" / "sub" / "x.toml")),
        # A directory is "modified" when a child changes; the child's own event follows.
        DirModifiedEvent(str(ETC / "conf.d")),
        DirModifiedEvent(str(ETC)),
        FileCreatedEvent(str(ETC / "conf.d" / ".hidden.toml")),
        FileModifiedEvent(str(ETC / "daemon.log")),
    ],
    ids=lambda e: f"{type(e).__name__}:{Path(e.src_path).name}",
)
def test_other_events_are_ignored(event: object) -> None:
    """Reads, non-TOML files and files outside conf.d never trigger a reload."""
    assert _changes(event) == 0


# --- real files, real inotify ----------------------------------------------------------------


class Watched:
    """A ConfigWatcher running on a real directory, noting which events made it reload."""

    def __init__(self, etc: Path) -> None:
        self.etc = etc
        self.seen: list[str] = []  # the path of every event watchdog handed the watcher
        self.causes: list[str] = []  # the path of every event that asked for a reload
        self.watcher = ConfigWatcher(etc / "config.toml", etc / "conf.d", self._reload)
        self._current = ""
        handle = self.watcher.on_any_event

        def note(event: object) -> None:  # watchdog's one dispatcher thread calls this
            dest = getattr(event, "dest_path", "")
            self._current = str(dest or getattr(event, "src_path", ""))
            self.seen.append(self._current)
            handle(event)  # type: ignore[arg-type]

        self.watcher.on_any_event = note  # type: ignore[method-assign]

    def _reload(self) -> None:
        self.causes.append(self._current)

    def settle_with(self, path: Path) -> list[str]:
        """Write a file that reloads until it does; the causes of the reloads before.

        Written again at each poll: a conf.d just made is watched only once its creation has
        been handled, and the daemon's reload reads what was written before that.
        """
        before = len(self.causes)

        def written_and_seen() -> bool:
            path.write_text("")
            return str(path) in self.causes[before:]

        wait_for(written_and_seen, timeout=5, message=f"no reload for {path}")
        return self.causes[:before]


@pytest.fixture
def watched(tmp_path: Path) -> Iterator[Watched]:
    """A started watcher on etc/config.toml (conf.d not yet there); stopped after the test."""
    etc = tmp_path / "etc"
    etc.mkdir()
    (etc / "config.toml").write_text("")
    running = Watched(etc)
    assert running.watcher.start()
    yield running
    running.watcher.stop()


def test_debug_log_file_in_the_config_directory_feeds_no_loop(watched: Watched) -> None:
    """With a debug log file next to the config, its lines reload nothing and beget no lines."""
    log_path = watched.etc / "daemon.log"
    handler = logging.FileHandler(log_path)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        logging.getLogger("textfile_redis.test").debug("one line into the config directory")
        watched.settle_with(watched.etc / "config.toml")
        watched.settle_with(watched.etc / "config.toml")
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
        handler.close()
    assert log_path.read_text().count("\n") == 1, log_path.read_text()[:2000]
    assert set(watched.causes) == {str(watched.etc / "config.toml")}


def test_other_files_in_conf_d_reload_nothing(watched: Watched) -> None:
    """A non-TOML or hidden file written in conf.d reloads nothing, nor does conf.d's change."""
    confd = watched.etc / "conf.d"
    confd.mkdir()
    watched.settle_with(confd / "first.toml")
    settled = len(watched.causes)
    (confd / "notes.txt").write_text("x")
    (confd / ".cache.toml.swp").write_text("x")

    causes = watched.settle_with(watched.etc / "config.toml")[settled:]

    assert not {str(confd), str(confd / "notes.txt"), str(confd / ".cache.toml.swp")} & set(causes)


def test_subdirectories_of_the_config_directory_are_not_watched(watched: Watched) -> None:
    """Files below the config directory's subdirectories never even reach the watcher."""
    (watched.etc / "sub").mkdir()
    (watched.etc / "sub" / "x.toml").write_text("x")
    watched.settle_with(watched.etc / "config.toml")

    assert not [path for path in watched.seen if "/sub/" in path]


def test_conf_d_created_after_start_is_watched(watched: Watched) -> None:
    """conf.d made after start-up reloads once, and its TOML files reload from then on."""
    confd = watched.etc / "conf.d"
    confd.mkdir()
    wait_for(lambda: watched.causes, timeout=5, message="conf.d's creation not seen")

    assert watched.settle_with(confd / "a.toml") == [str(confd)]


def test_conf_d_replaced_is_watched_again(watched: Watched) -> None:
    """conf.d removed and made again (a new inode) is watched again."""
    confd = watched.etc / "conf.d"
    confd.mkdir()
    watched.settle_with(confd / "a.toml")
    (confd / "a.toml").unlink()
    confd.rmdir()
    confd.mkdir()

    watched.settle_with(confd / "b.toml")


def test_stop_leaves_no_watchdog_thread_running(tmp_path: Path) -> None:
    """After stop() returns, no thread of watchdog's is left to race the interpreter's exit."""
    (tmp_path / "conf.d").mkdir()
    watcher = ConfigWatcher(tmp_path / "config.toml", tmp_path / "conf.d", lambda: None)
    before = set(threading.enumerate())
    assert watcher.start()
    (tmp_path / "config.toml").write_text("")
    watcher.stop()

    assert set(threading.enumerate()) - before == set()
