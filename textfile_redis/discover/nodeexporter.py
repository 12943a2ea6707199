"""node_exporter's textfile directory: from its command line, else Debian's, else the fallback."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .procfs import Process, processes

NODE_EXPORTER_NAMES = frozenset({"node_exporter", "prometheus-node-exporter"})
FLAG = "--collector.textfile.directory"
DEBIAN_DIR = Path("/var/lib/prometheus/node-exporter")
FALLBACK_DIR = Path("/var/lib/node_exporter")
SYSTEM_UID_MAX = 999  # Debian's SYS_UID_MAX: root and the users packages create (prometheus)


@dataclass(frozen=True, slots=True)
class TextfileDir:
    """The directory chosen and, in one line, why."""

    path: Path
    reason: str


def textfile_dir(
    proc_root: Path = Path("/proc"),
    debian: Path = DEBIAN_DIR,
    fallback: Path = FALLBACK_DIR,
) -> TextfileDir:
    """Where node_exporter reads textfiles: its own flag, else Debian's default, else fallback."""
    running = node_exporter_dirs(proc_root)
    if running:
        pid, path = running[0]
        return TextfileDir(path, f"from node_exporter's {FLAG} (pid {pid})")
    if debian.is_dir():
        return TextfileDir(debian, "Debian's default")
    return TextfileDir(fallback, "the fallback")


def node_exporter_dirs(proc_root: Path = Path("/proc")) -> list[tuple[int, Path]]:
    """(pid, textfile directory) of every running node_exporter that names one, by pid.

    Only a node_exporter run by root or a system user counts: any local user can start a
    process of that name, and must not choose where our metrics (key names, client addresses)
    are written.
    """
    found: list[tuple[int, Path]] = []
    for process in processes(proc_root):
        if process.named(NODE_EXPORTER_NAMES) and _run_by_the_system(proc_root, process.pid):
            directory = flag_value(process)
            if directory:
                found.append((process.pid, _absolute(directory, proc_root, process)))
    return found


def _run_by_the_system(proc_root: Path, pid: int) -> bool:
    try:
        uid = (proc_root / str(pid)).stat().st_uid
    except OSError:  # gone meanwhile
        return False
    return uid <= SYSTEM_UID_MAX


def flag_value(process: Process) -> str | None:
    """The value of --collector.textfile.directory, as `--flag=value` or `--flag value`."""
    args = list(process.argv[1:])
    for index, arg in enumerate(args):
        for prefix in (FLAG, "-" + FLAG.lstrip("-")):  # Go's flag packages take one dash too
            if arg.startswith(prefix + "="):
                return arg[len(prefix) + 1 :]
            if arg == prefix and index + 1 < len(args):
                return args[index + 1]
    return None


def _absolute(directory: str, proc_root: Path, process: Process) -> Path:
    """A relative directory is relative to node_exporter's working directory, when readable."""
    path = Path(directory)
    if path.is_absolute():
        return path
    try:
        return Path((proc_root / str(process.pid) / "cwd").readlink()) / path
    except OSError:
        return path
