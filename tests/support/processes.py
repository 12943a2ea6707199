"""Child processes for tests: free ports, one polling helper with a deadline, ManagedProcess."""

from __future__ import annotations

import atexit
import contextlib
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from types import TracebackType

    from typing_extensions import Self

START_DEADLINE_S = 10.0
STOP_DEADLINE_S = 10.0
# Another process may take a probed free port before our server binds it; try a new one.
PORT_ATTEMPTS = 5
PORT_TAKEN_MARKER = "address already in use"
LOG_TAIL_LINES = 20

T = TypeVar("T")


def on_path(command: str) -> Path | None:
    """The executable `command` found on PATH, or None."""
    found = shutil.which(command)
    return Path(found) if found else None


def required_binary(*commands: str) -> Path:
    """The first of `commands` on PATH; FileNotFoundError naming them all when none is."""
    for command in commands:
        found = on_path(command)
        if found is not None:
            return found
    raise FileNotFoundError(f"none of {', '.join(commands)} is on PATH")


def free_port() -> int:
    """Return a loopback TCP port that nothing listened on a moment ago."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def free_ports(count: int) -> list[int]:
    """Return count distinct loopback TCP ports nothing listens on: targets that refuse at once.

    Each is held while the rest are chosen, so none repeats, then all are released.
    """
    with contextlib.ExitStack() as held:
        ports: set[int] = set()
        while len(ports) < count:
            probe = held.enter_context(socket.socket())
            probe.bind(("127.0.0.1", 0))
            ports.add(int(probe.getsockname()[1]))
    return sorted(ports)


def port_is_free(port: int) -> bool:
    """Whether a loopback TCP port can be bound right now."""
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def wait_for(
    predicate: Callable[[], T],
    timeout: float = START_DEADLINE_S,
    interval: float = 0.02,
    message: str = "condition not met",
) -> T:
    """Poll `predicate` until it returns something truthy and return that; TimeoutError at deadline.

    Tests wait for conditions with this, never with a blind sleep.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{message} (waited {timeout:g} s)")
        time.sleep(interval)


class ProcessExitedError(RuntimeError):
    """A process ended while we waited for it to become ready."""


class PortTakenError(ProcessExitedError):
    """A process ended because another one bound its port first."""


_LIVE: set[ManagedProcess] = set()


@atexit.register
def stop_all() -> None:
    """Stop every process this module started that is still running (after crashes or Ctrl-C)."""
    for running in list(_LIVE):
        running.stop()


class ManagedProcess:
    """A child process with a log file, stopped on `stop()`, on leaving a `with`, or at exit."""

    name = "process"

    def __init__(self, process: subprocess.Popen[bytes], port: int, log_path: Path) -> None:
        self.process = process
        self.port = port
        self.log_path = log_path
        _LIVE.add(self)

    @property
    def pid(self) -> int:
        """The process id."""
        return self.process.pid

    def log(self) -> str:
        """Return what the process has logged so far."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        """End the process: SIGTERM, then SIGKILL if it lingers. Safe to call twice."""
        _LIVE.discard(self)
        if self.process.poll() is not None:
            return
        # A stopped process would hold SIGTERM pending forever; let it run to handle it.
        self.thaw()
        self.process.terminate()
        try:
            self.process.wait(STOP_DEADLINE_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def freeze(self) -> None:
        """Suspend the process (SIGSTOP): it keeps its sockets but answers nothing."""
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        """Resume a frozen process (SIGCONT)."""
        with contextlib.suppress(ProcessLookupError):
            self.process.send_signal(signal.SIGCONT)

    def check_alive(self) -> None:
        """Raise ProcessExitedError (PortTakenError if its port was taken) if the process ended."""
        code = self.process.poll()
        if code is None:
            return
        log = self.log()
        error = PortTakenError if PORT_TAKEN_MARKER in log.lower() else ProcessExitedError
        tail = "\n".join(log.splitlines()[-LOG_TAIL_LINES:])
        raise error(f"{self.name} exited with code {code}; {self.log_path} ends:\n{tail}")

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


P = TypeVar("P", bound=ManagedProcess)


def launch_on_free_port(
    launch: Callable[[int], P],
    wait_ready: Callable[[P], object],
    pick_port: Callable[[], int] = free_port,
) -> P:
    """Launch on a fresh free port until one sticks; stop the process if it never gets ready."""
    for _ in range(PORT_ATTEMPTS):
        started = launch(pick_port())
        try:
            wait_ready(started)
        except PortTakenError:
            continue
        except BaseException:
            started.stop()
            raise
        return started
    raise ProcessExitedError(f"every one of {PORT_ATTEMPTS} free ports was taken before binding")


def spawn(argv: Sequence[str], log_path: Path) -> subprocess.Popen[bytes]:
    """Start a child process with its output in log_path, which holds this process only."""
    # Appended to, because redis-server opens the log itself too.
    log_path.write_bytes(b"")
    with log_path.open("ab") as log:
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
