"""What /proc says about processes and their listening sockets, read bounded and tolerantly."""

from __future__ import annotations

import os
import socket
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator

COMM_MAX = 15  # the kernel keeps 15 bytes of a command name
CMDLINE_MAX = 1 << 16
FILE_MAX = 1 << 20
NET_LINES_MAX = 1 << 18  # listening sockets come among every connection of the host
FDS_MAX = 1 << 16
PROCESSES_MAX = 1 << 17
TCP_LISTEN = "0A"
UNIX_ACCEPTING = 0x10000  # __SO_ACCEPTCON
UNIX_UNCONNECTED = "01"
UNIX_COLUMNS = 8  # the last one, the path, may hold spaces


@dataclass(frozen=True, slots=True)
class Process:
    """A running process: its id, kernel command name and argument vector (its title)."""

    pid: int
    comm: str
    argv: tuple[str, ...]

    @property
    def program(self) -> str:
        """The base name of the program its title starts with (`/usr/bin/redis-server *:6379`)."""
        first = self.argv[0].split(" ", 1)[0] if self.argv else ""
        return first.rsplit("/", 1)[-1]

    def named(self, names: frozenset[str]) -> bool:
        """Whether its command name or its title's program is one of `names`."""
        return self.program in names or self.comm in {name[:COMM_MAX] for name in names}


@dataclass(frozen=True, slots=True)
class Listener:
    """A listening socket: a TCP host and port, or a unix socket path."""

    inode: int
    host: str = ""
    port: int = 0
    path: str = ""


def read_bounded(path: Path, limit: int = FILE_MAX) -> bytes | None:
    """At most `limit` bytes of a regular file; None when it is anything else or unreadable.

    O_NONBLOCK so that a FIFO put where a file was expected cannot hang the scan.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except (OSError, ValueError):
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        return os.read(fd, limit)
    except OSError:
        return None
    finally:
        os.close(fd)


def read_text(path: Path, limit: int = FILE_MAX) -> str | None:
    """Like read_bounded, decoded (undecodable bytes replaced)."""
    data = read_bounded(path, limit)
    return None if data is None else data.decode("utf-8", "replace")


def processes(proc_root: Path) -> Iterator[Process]:
    """Every process whose title is readable; those that exit meanwhile are left out."""
    try:
        entries = [entry.name for entry in os.scandir(proc_root) if entry.name.isdigit()]
    except OSError:
        return
    for name in sorted(entries, key=int)[:PROCESSES_MAX]:
        found = process(proc_root, int(name))
        if found is not None:
            yield found


def process(proc_root: Path, pid: int) -> Process | None:
    """One process, or None when it is gone, a zombie, a kernel thread or unreadable."""
    base = proc_root / str(pid)
    cmdline = read_bounded(base / "cmdline", CMDLINE_MAX)
    comm = read_bounded(base / "comm", 64)
    if not cmdline or comm is None:
        return None
    argv = tuple(part.decode("utf-8", "replace") for part in cmdline.split(b"\0") if part)
    return Process(pid, comm.decode("utf-8", "replace").strip(), argv)


def socket_inodes(proc_root: Path, pid: int) -> frozenset[int]:
    """The inodes of a process's sockets; empty when its fds are not ours to read."""
    inodes: set[int] = set()
    try:
        with os.scandir(proc_root / str(pid) / "fd") as fds:
            for count, fd in enumerate(fds):
                if count >= FDS_MAX:
                    break
                inode = _socket_inode(Path(fd.path))
                if inode is not None:
                    inodes.add(inode)
    except OSError:
        pass
    return frozenset(inodes)


def _socket_inode(fd_path: Path) -> int | None:
    try:
        target = str(fd_path.readlink())
    except OSError:
        return None
    if target.startswith("socket:[") and target.endswith("]"):
        digits = target[len("socket:[") : -1]
        return int(digits) if digits.isdigit() else None
    return None


def net_dir(proc_root: Path) -> Path:
    """/proc/self/net, which systemd's ProcSubset=pid leaves readable; else /proc/net."""
    own = proc_root / "self" / "net"
    return own if own.is_dir() else proc_root / "net"


def listeners(proc_root: Path) -> dict[int, Listener]:
    """Listening TCP (v4, v6) and unix sockets of this network namespace, by inode."""
    found: dict[int, Listener] = {}
    net = net_dir(proc_root)
    for name, family in (("tcp", socket.AF_INET), ("tcp6", socket.AF_INET6)):
        for fields in _table(net / name, 10):
            listener = _tcp_listener(fields, family)
            if listener is not None:
                found[listener.inode] = listener
    for fields in _table(net / "unix", UNIX_COLUMNS):
        listener = _unix_listener(fields)
        if listener is not None:
            found[listener.inode] = listener
    return found


def _table(path: Path, columns: int) -> Iterator[list[str]]:
    """The rows of a /proc/net table (header skipped), the last column holding the rest."""
    try:
        with path.open("r", encoding="utf-8", errors="replace") as table:
            next(table, None)
            for count, line in enumerate(table):
                if count >= NET_LINES_MAX:
                    return
                fields = line.split(maxsplit=columns - 1)
                if len(fields) >= columns - 1:
                    yield fields
    except OSError:
        return


def _tcp_listener(fields: list[str], family: int) -> Listener | None:
    try:
        if fields[3] != TCP_LISTEN:
            return None
        hex_host, hex_port = fields[1].split(":")
        raw = bytes.fromhex(hex_host)
        # The kernel prints each 32-bit word of the address in host (little-endian) order.
        words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
        host = socket.inet_ntop(family, words)
        return Listener(int(fields[9].split()[0]), host=host, port=int(hex_port, 16))
    except (IndexError, ValueError, OSError):
        return None


def _unix_listener(fields: list[str]) -> Listener | None:
    if len(fields) < UNIX_COLUMNS or not fields[-1].startswith("/"):  # unnamed or abstract
        return None
    try:
        if not int(fields[3], 16) & UNIX_ACCEPTING or fields[5] != UNIX_UNCONNECTED:
            return None
        return Listener(int(fields[6]), path=fields[-1].rstrip("\n"))
    except ValueError:
        return None
