"""Textfiles: render families, write them atomically with an ownership marker, remove our own."""

from __future__ import annotations

import errno
import os
import re
from contextlib import suppress
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .exposition import Family

if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path

MARKER = "# textfile-redis"
TEMP_PREFIX = ".textfile-redis-"
TEMP_SUFFIX = ".tmp"
FILE_MODE = 0o644
_MARKER_READ_LIMIT = 512
_TEMP_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_TEMP_ATTEMPTS = 3  # 64 random bits make a clash next to impossible, not impossible


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


def render(families: Iterable[Family], marker: Marker) -> bytes:
    """The file's bytes: the marker, then every family's HELP, TYPE and sample lines."""
    listed = list(families)
    try:
        return _render(listed, marker)
    except UnicodeEncodeError:  # a name or value that is not UTF-8: see _printable
        return _render([_printable(family) for family in listed], marker)


def _render(families: list[Family], marker: Marker) -> bytes:
    parts = [marker.line()]
    for family in families:
        parts.append(family.header)
        parts += family.lines
    return "".join(parts).encode()


def _printable(family: Family) -> Family:
    r"""The family with bytes that are not UTF-8 shown as \xNN escapes.

    Replies keep such bytes as lone surrogates (so a key name can be sent back as it was); the
    exposition must be UTF-8. A sample that the escaping makes identical to another is dropped:
    a series twice in one file would make node_exporter refuse the file.
    """
    lines: list[str] = []
    seen: set[str] = set()
    for line in family.lines:
        printable = _UNDECODED_BYTE.sub(_byte_escape, line)
        series = printable.rpartition(" ")[0]  # the value is the last word, never quoted
        if series not in seen:
            seen.add(series)
            lines.append(printable)
    return Family(family.name, family.kind, family.header, lines)


# surrogateescape keeps byte 0xNN as U+DCNN; only 0x80 to 0xff can be undecodable.
_UNDECODED_BYTE = re.compile(r"[\udc80-\udcff]")


def _byte_escape(match: re.Match[str]) -> str:
    # Label values are already escaped: the backslash must itself be escaped to survive reading.
    return f"\\\\x{ord(match[0]) - 0xDC00:02x}"


def write_atomic(directory: Path, filename: str, data: bytes, owner: str) -> None:
    """Replace directory/filename with data so that readers see the old file or the new one.

    The temp file is created exclusively under a random hidden name that node_exporter skips
    (it reads only *.prom), made 0644 whatever the umask, synced, then renamed over the target.
    The directory is not synced: after a crash the old file may come back instead of the new,
    and both are whole files as stale as each other until the next cycle replaces them.
    """
    fd, temp = _create_temp(directory, owner)
    try:
        try:
            os.fchmod(fd, FILE_MODE)
            _write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        temp.replace(directory / filename)
    except BaseException:
        with suppress(FileNotFoundError):
            temp.unlink()
        raise


def _create_temp(directory: Path, owner: str) -> tuple[int, Path]:
    """A new file of our own: O_EXCL under a name with 64 random bits, links not followed."""
    for _ in range(_TEMP_ATTEMPTS):
        temp = directory / f"{TEMP_PREFIX}{owner}-{os.urandom(8).hex()}{TEMP_SUFFIX}"
        with suppress(FileExistsError):
            return os.open(temp, _TEMP_FLAGS, 0o600), temp
    raise FileExistsError(errno.EEXIST, "no unused temp file name", str(directory))


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


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
