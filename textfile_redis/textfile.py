"""Textfiles: render families, write them atomically with an ownership marker, remove our own."""

from __future__ import annotations

import os
import tempfile
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from prometheus_client.metrics_core import Metric

from .exposition import exposition

if TYPE_CHECKING:
    from collections.abc import Iterable

MARKER = "# textfile-redis"
TEMP_PREFIX = ".textfile-redis-"
TEMP_SUFFIX = ".tmp"
FILE_MODE = 0o644
_MARKER_READ_LIMIT = 512


@dataclass(frozen=True, slots=True)
class Marker:
    """The first line of every file we write: which configuration owns it, for which target."""

    owner: str
    target: str

    def line(self) -> str:
        """The comment line itself; node_exporter ignores comments that are not HELP or TYPE."""
        return f"{MARKER} owner={self.owner} target={self.target}\n"

    @classmethod
    def parse(cls, line: str) -> Marker | None:
        """Read a marker line back; None for anything that is not exactly one of ours."""
        words = line.rstrip("\n").split(" ")
        expected_words = 4
        if len(words) != expected_words or " ".join(words[:2]) != MARKER:
            return None
        owner, target = words[2].partition("=")[2], words[3].partition("=")[2]
        if not (words[2].startswith("owner=") and words[3].startswith("target=")):
            return None
        return cls(owner, target)


def render(families: Iterable[Metric], marker: Marker) -> bytes:
    """The file's bytes: the marker, then the exposition text of every family."""
    listed = list(families)
    try:
        return _render(listed, marker)
    except UnicodeEncodeError:  # a name or value that is not UTF-8: see _printable
        return _render(_printable(listed), marker)


def _printable(families: list[Metric]) -> list[Metric]:
    r"""The families with bytes that are not UTF-8 shown as \xNN escapes.

    Replies keep such bytes as lone surrogates (so a key name can be sent back as it was); the
    exposition must be UTF-8. A sample that the escaping makes identical to another is dropped:
    a series twice in one file would make node_exporter refuse the file.
    """
    printable = []
    for family in families:
        copy = Metric(family.name, family.documentation, family.type)
        seen: set[tuple[str, tuple[tuple[str, str], ...]]] = set()
        for sample in family.samples:
            labels = {name: _escaped(value) for name, value in sample.labels.items()}
            identity = (sample.name, tuple(sorted(labels.items())))
            if identity not in seen:
                seen.add(identity)
                copy.samples.append(sample._replace(labels=labels))
        printable.append(copy)
    return printable


def _escaped(text: str) -> str:
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _render(families: list[Metric], marker: Marker) -> bytes:
    return (marker.line() + exposition(families)).encode()


def write_atomic(directory: Path, filename: str, data: bytes, owner: str) -> None:
    """Replace directory/filename with data so that readers see the old file or the new one.

    The temp file is created exclusively under a random hidden name that node_exporter skips
    (it reads only *.prom), made 0644 whatever the umask, synced, then renamed over the target.
    """
    fd, temp_name = tempfile.mkstemp(
        prefix=f"{TEMP_PREFIX}{owner}-", suffix=TEMP_SUFFIX, dir=directory
    )
    try:
        with os.fdopen(fd, "wb") as temp:
            os.fchmod(temp.fileno(), FILE_MODE)
            temp.write(data)
            temp.flush()
            os.fsync(temp.fileno())
        Path(temp_name).replace(directory / filename)
    except BaseException:
        with suppress(FileNotFoundError):
            Path(temp_name).unlink()
        raise
    _fsync_directory(directory)


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself durable, so a crash cannot bring the old file back."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_marker(path: Path) -> Marker | None:
    """The marker of a file, or None when the file is not ours or cannot be read."""
    try:
        with path.open("rb") as file:
            first_line = file.readline(_MARKER_READ_LIMIT)
    except OSError:
        return None
    return Marker.parse(first_line.decode("utf-8", errors="replace"))


def owned_files(directory: Path, owner: str) -> list[Path]:
    """Every .prom file in the directory whose marker names this owner."""
    found = []
    for path in sorted(directory.glob("redis_*.prom")):
        marker = read_marker(path)
        if marker is not None and marker.owner == owner:
            found.append(path)
    return found


def temp_files(directory: Path, owner: str) -> list[Path]:
    """Temp files this owner left behind (a crash between create and rename)."""
    return sorted(directory.glob(f"{TEMP_PREFIX}{owner}-*{TEMP_SUFFIX}"))


def remove_files(paths: Iterable[Path]) -> list[Path]:
    """Remove the files, ignoring those already gone; returns those removed."""
    removed = []
    for path in paths:
        with suppress(FileNotFoundError):
            path.unlink()
            removed.append(path)
    return removed
