"""Textfiles: render families, write them atomically with an ownership marker, remove our own."""

from __future__ import annotations

import errno
import functools
import logging
import os
import re
import stat
from contextlib import suppress
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .exposition import Family

if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path

log = logging.getLogger(__name__)

MARKER = "# textfile-redis"
FILE_PREFIX = "redis_"
FILE_SUFFIX = ".prom"
TEMP_PREFIX = ".textfile-redis-"
TEMP_SUFFIX = ".tmp"
FILE_MODE = 0o644
_MARKER_READ_LIMIT = 512
_TEMP_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
# Another user may have put a link, a FIFO or a device under a name we read: never follow the
# link, never wait for a FIFO's writer (a blocking open would hang start-up, stop and cleanup).
_READ_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
_KINDS = {
    stat.S_IFREG: "regular file",
    stat.S_IFDIR: "directory",
    stat.S_IFLNK: "symbolic link",
    stat.S_IFIFO: "FIFO",
    stat.S_IFSOCK: "socket",
    stat.S_IFCHR: "character device",
    stat.S_IFBLK: "block device",
}
_TEMP_ATTEMPTS = 3  # 64 random bits make a clash next to impossible, not impossible


class ForeignFileError(OSError):
    """A file we would replace is not ours: another tool's, another owner's, or not a file."""


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
    (it reads only *.prom), made 0644 whatever the umask, synced, then renamed over the target,
    but only when the target is missing or ours (ForeignFileError otherwise, the temp removed).
    The directory is not synced (its cost is in bench/RESULTS.md, "Directory fsync"): after a
    crash the old file may come back instead of the new, and both are whole files as stale as
    each other until the next cycle replaces them.
    """
    # Plain strings and os calls: building Path objects is a measurable share of a write.
    destination = f"{directory}/{filename}"
    fd, temp = _create_temp(os.fspath(directory), owner)
    try:
        try:
            os.fchmod(fd, FILE_MODE)
            _write_all(fd, data)
            os.fsync(fd)
            _refuse_unless_free_or_ours(destination, owner)
            os.rename(temp, destination)  # noqa: PTH104 - strings, as above
            placed = os.fstat(fd)  # after the rename, which changes the file's ctime
        finally:
            os.close(fd)
    except BaseException:
        _placed.pop(destination, None)
        with suppress(OSError):  # the write's own error is the one to report
            os.unlink(temp)  # noqa: PTH108 - strings, as above
        raise
    _remember(destination, owner, placed, data)


# The file each destination last received from us, while its marker names its owner. An lstat
# showing that very file untouched proves the marker is still ours without opening it: a
# replacement is another inode or another user's, a rewrite in place moves the change time, a
# hard link added moves the link count. What still passes: a file of our user, at our inode
# number (ours rewritten in place, or a new file reusing the number), of the same size, changed
# within one tick of the filesystem's timestamps after our rename. That tick is coarse on some
# filesystems (vfat, ext4 with small inodes, some NFS), so this window can be wider than the
# check-to-rename race's below; docs/operations.md says so.
# Single dict operations are atomic, and a stale or lost entry only costs the full check.
_Identity = tuple[str, int, int, int, int, int, int, int, int]
_placed: dict[str, _Identity] = {}
_PLACED_LIMIT = 4096  # destinations; past it start afresh: targets come and go with discovery


def _remember(destination: str, owner: str, placed: os.stat_result, data: bytes) -> None:
    if not _names(data[:_MARKER_READ_LIMIT].partition(b"\n")[0], owner):
        _placed.pop(destination, None)  # the next write must read it, as before
        return
    if len(_placed) >= _PLACED_LIMIT:
        _placed.clear()
    _placed[destination] = _identity(owner, placed)


@functools.lru_cache(maxsize=256)  # a target's first line is the same every cycle
def _names(first_line: bytes, owner: str) -> bool:
    """Whether a file starting with this line is ours: what read_marker would make of it."""
    marker = _parse_head(first_line)
    return marker is not None and marker.owner == owner


def _identity(owner: str, status: os.stat_result) -> _Identity:
    return (
        owner,
        status.st_uid,
        status.st_mode,
        status.st_nlink,
        status.st_dev,
        status.st_ino,
        status.st_size,
        status.st_mtime_ns,
        status.st_ctime_ns,
    )


def _refuse_unless_free_or_ours(path: str, owner: str) -> None:
    """Raise ForeignFileError unless nothing is at path or a file whose marker names owner.

    Checked as late as possible, right before the rename. Someone who can write the directory
    can still swap a file in between the check and the rename, and lose it to the rename: no
    check can close that race without renameat2(RENAME_EXCHANGE) and a swap back. What we refuse
    is what we can see, which covers another tool's file or another instance's lying there.
    Our last write there, found untouched, is ours without reading its marker again (_placed).
    """
    try:
        status = os.lstat(path)
    except FileNotFoundError:
        return
    if _placed.get(path) == _identity(owner, status):
        return
    reason = _why_not(path, status, owner)  # a file gone since the lstat reads as "no marker"
    if reason is not None:
        msg = f"{path} is {reason}; left as it is"
        raise ForeignFileError(msg)


def conflict(path: Path, owner: str) -> str | None:
    """Why a write to path would be refused (something not ours is there), or None."""
    try:
        return _why_not_ours(path, owner)
    except FileNotFoundError:
        return None
    except OSError as exc:
        return f"not to be checked: {exc.strerror or exc}"


def _why_not_ours(path: Path, owner: str) -> str | None:
    """None when path is a regular file whose marker names owner, else why it is not ours.

    Raises FileNotFoundError when nothing is there, OSError when it cannot be looked at.
    """
    return _why_not(path, os.lstat(path), owner)


def _why_not(path: str | Path, status: os.stat_result, owner: str) -> str | None:
    """_why_not_ours for a path whose lstat is status."""
    kind = _kind(status.st_mode)
    if kind != "regular file":
        return f"a {kind}, not a textfile-redis file"
    marker = read_marker(path)
    if marker is None:
        return "not a textfile-redis file (no marker)"
    if marker.owner != owner:
        return f"held by another owner (owner={marker.owner!r}, target={marker.target!r})"
    return None


def _kind(mode: int) -> str:
    return _KINDS.get(stat.S_IFMT(mode), "special file")


def _create_temp(directory: str, owner: str) -> tuple[int, str]:
    """A new file of our own: O_EXCL under a name with 64 random bits, links not followed."""
    for _ in range(_TEMP_ATTEMPTS):
        temp = f"{directory}/{_temp_prefix(owner)}{os.urandom(8).hex()}{TEMP_SUFFIX}"
        with suppress(FileExistsError):
            return os.open(temp, _TEMP_FLAGS, 0o600), temp
    raise FileExistsError(errno.EEXIST, "no unused temp file name", directory)


def _temp_prefix(owner: str) -> str:
    return f"{TEMP_PREFIX}{owner}-"


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def read_marker(path: str | Path) -> Marker | None:
    """The marker of a regular file; None when it is not ours, not a regular file or unreadable."""
    try:
        fd = os.open(path, _READ_FLAGS)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        head = os.read(fd, _MARKER_READ_LIMIT)
    except OSError:
        return None
    finally:
        os.close(fd)
    return _parse_head(head)


def _parse_head(head: bytes) -> Marker | None:
    return Marker.parse(head.partition(b"\n")[0].decode("utf-8", errors="replace"))


def owned_files(directory: Path, owner: str) -> list[Path]:
    """Every redis_*.prom regular file in the directory whose marker names this owner."""
    return [p for p in _entries(directory, FILE_PREFIX, FILE_SUFFIX) if _is_ours(p, owner)]


def _is_ours(path: Path, owner: str) -> bool:
    try:
        return _why_not_ours(path, owner) is None
    except OSError:  # gone meanwhile, or cannot be looked at: not ours to touch
        return False


def temp_files(directory: Path, owner: str) -> list[Path]:
    """Temp files this owner left behind (a crash between create and rename).

    Only regular files that this process's user owns: we create temp files exclusively, so any
    other kind or owner under such a name was put there by someone else, and is left alone.
    """
    found = []
    for path in _entries(directory, _temp_prefix(owner), TEMP_SUFFIX):
        try:
            reason = _why_not_our_temp(path)
        except OSError:  # gone meanwhile
            continue
        if reason is None:
            found.append(path)
        else:
            log.warning("left %r alone: it is %s", str(path), reason)
    return found


def _why_not_our_temp(path: Path) -> str | None:
    """None when path is a regular file of our user (the name is the caller's to check)."""
    status = os.lstat(path)
    if not stat.S_ISREG(status.st_mode):
        return f"a {_kind(status.st_mode)}, not a temp file of ours"
    if status.st_uid != os.geteuid():
        return f"a file of user {status.st_uid}, not a temp file of ours"
    return None


def _entries(directory: Path, prefix: str, suffix: str) -> list[Path]:
    """The names in directory with this prefix and suffix, sorted; [] when it cannot be listed."""
    shortest = len(prefix) + len(suffix)
    try:
        with os.scandir(directory) as entries:
            names = [
                entry.name
                for entry in entries
                if len(entry.name) >= shortest
                and entry.name.startswith(prefix)
                and entry.name.endswith(suffix)
            ]
    except FileNotFoundError:
        return []
    except OSError as exc:
        log.warning("cannot list %s: %s", directory, exc.strerror or exc)
        return []
    return [directory / name for name in sorted(names)]


def remove_files(paths: Iterable[Path], owner: str) -> list[Path]:
    """Remove those files that are still ours, each checked again right before; never raises.

    Files already gone are skipped; one no longer ours (someone put another file under its name
    since it was listed) or that cannot be removed (a read-only directory, ...) is logged in one
    line and left. Returns the files removed.
    """
    return [path for path in paths if _remove_if_ours(path, owner)]


def _remove_if_ours(path: Path, owner: str) -> bool:
    is_temp = path.name.startswith(_temp_prefix(owner)) and path.name.endswith(TEMP_SUFFIX)
    try:
        reason = _why_not_our_temp(path) if is_temp else _why_not_ours(path, owner)
        if reason is None:
            path.unlink()  # the same residual race as in _refuse_unless_free_or_ours
            _placed.pop(str(path), None)
            return True
    except FileNotFoundError:
        return False
    except OSError as exc:
        log.warning("cannot remove %s: %s", path, exc.strerror or exc)
        return False
    log.warning("left %r alone: it is %s", str(path), reason)
    return False
