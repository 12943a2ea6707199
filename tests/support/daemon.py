"""The daemon under test: the CLI in this process or a child's, RunningDaemon, NotifySocket."""

from __future__ import annotations

import contextlib
import io
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

from textfile_redis.cli import main

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping, Sequence
    from pathlib import Path

# redis_exporter's variables, which the product reads: a developer's shell must not leak them in.
PRODUCT_ENV = ("REDIS_ADDR", "REDIS_USER", "REDIS_PASSWORD", "REDIS_PASSWORD_FILE")


def clean_env(**extra: str) -> dict[str, str]:
    """The test process's environment without the product's variables, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if k not in PRODUCT_ENV}
    env.update(extra)
    return env


@dataclass(frozen=True, slots=True)
class Ran:
    """What a shell sees of one command: exit status and output, as CompletedProcess names them."""

    returncode: int
    stdout: str
    stderr: str


def run_cli(*args: str, env: Mapping[str, str] | None = None, umask: int = -1) -> Ran:
    """Run `textfile-redis ARGS` in this process: main() with its own environment and output.

    The quick way for what a process would not change (arguments, exit codes, files, messages);
    signals, PID 1 and systemd need `textfile_redis()`'s real process. The environment, umask,
    signal handlers and root logger are put back afterwards.
    """
    out, err = io.StringIO(), io.StringIO()
    with (
        _process_state(env if env is not None else clean_env(), umask),
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
    ):
        try:
            status = main(list(args))
        except SystemExit as exited:  # argparse: usage errors, --help, --version
            status = exited.code if isinstance(exited.code, int) else 1
    return Ran(status, out.getvalue(), err.getvalue())


@contextlib.contextmanager
def _process_state(env: Mapping[str, str], umask: int) -> Iterator[None]:
    saved_env = dict(os.environ)
    handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    saved_umask = os.umask(umask) if umask >= 0 else None
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved_env)
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
        if saved_umask is not None:
            os.umask(saved_umask)


def textfile_redis(
    *args: str, env: dict[str, str] | None = None, umask: int = -1, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run `python -m textfile_redis ARGS` in a child process to completion; its output."""
    return subprocess.run(
        [sys.executable, "-m", "textfile_redis", *args],
        capture_output=True,
        text=True,
        env=env if env is not None else clean_env(),
        umask=umask,
        timeout=timeout,
        check=False,
    )


class RunningDaemon:
    """`textfile-redis run` in a child process, its stderr kept in a file for assertions."""

    def __init__(
        self,
        config: Path,
        log_path: Path,
        *,
        env: dict[str, str] | None = None,
        argv_prefix: Sequence[str] = (),
    ) -> None:
        self.log_path = log_path
        with log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [
                    *argv_prefix,
                    sys.executable,
                    "-m",
                    "textfile_redis",
                    "run",
                    "--config",
                    str(config),
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                env=env if env is not None else clean_env(),
            )

    @property
    def pid(self) -> int:
        """The child's process id."""
        return self.process.pid

    def log(self) -> str:
        """Everything the daemon logged so far."""
        return self.log_path.read_text(errors="replace")

    def send(self, signum: int) -> None:
        """Send a signal to the daemon."""
        self.process.send_signal(signum)

    def wait(self, timeout: float) -> int:
        """Wait for the daemon to exit; its exit status."""
        return self.process.wait(timeout)

    def kill(self) -> None:
        """SIGKILL the daemon if it still runs, and reap it (for test teardown)."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(10)


class NotifySocket:
    """systemd's side of NOTIFY_SOCKET: an abstract datagram socket read on a thread.

    Every completed cycle sends one STATUS line, so this counts cycles exactly. It must be read
    all the time the daemon runs: a full datagram queue would block the daemon's main loop.
    """

    def __init__(self) -> None:
        self.address = f"@textfile-redis-test-{uuid.uuid4().hex}"
        self.messages: list[str] = []
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._socket.bind("\0" + self.address[1:])
        self._socket.settimeout(0.05)
        self._closing = threading.Event()
        self._reader = threading.Thread(target=self._read, name="notify-reader", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while not self._closing.is_set():
            with contextlib.suppress(TimeoutError):
                self.messages.append(self._socket.recv(4096).decode())

    @property
    def cycles(self) -> int:
        """Cycles completed so far (READY=1 carries the first one's STATUS)."""
        return sum("STATUS=" in message for message in list(self.messages))

    def statuses(self) -> list[str]:
        """The STATUS= lines received so far, one per completed cycle."""
        lines = (line for message in list(self.messages) for line in message.splitlines())
        return [line for line in lines if line.startswith("STATUS=")]

    @property
    def stops(self) -> int:
        """How many STOPPING=1 have come: each says a daemon began its stop."""
        return sum("STOPPING=1" in message for message in list(self.messages))

    def close(self) -> None:
        """Stop reading and close the socket."""
        self._closing.set()
        self._reader.join()
        self._socket.close()
