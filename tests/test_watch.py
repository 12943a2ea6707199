"""Which file events reload the configuration: synthetic watchdog events, no real files."""

from __future__ import annotations

from pathlib import Path

import pytest
from watchdog.events import (
    DirCreatedEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileOpenedEvent,
)

from textfile_redis.watch import ConfigWatcher

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
    ],
    ids=lambda e: f"{type(e).__name__}:{Path(e.src_path).name}",
)
def test_other_events_are_ignored(event: object) -> None:
    """Reads, non-TOML files and files outside conf.d never trigger a reload."""
    assert _changes(event) == 0
