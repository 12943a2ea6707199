"""scripts/demo.sh, the README's first command: it runs end to end and leaves nothing behind."""

from __future__ import annotations

import contextlib
import os
import queue
import re
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "scripts" / "demo.sh"
# The first run creates .venv and installs into it with pip; later runs take seconds.
READY_DEADLINE_S = 300.0
STOP_DEADLINE_S = 30.0
# Once the demo exited, its output pipe closes unless a process it started still holds it.
EOF_DEADLINE_S = 5.0

READY_LINE = "==> Ctrl-C to stop"
CLEAN_STOP_LINE = "==> stopped textfile-redis: exit status 0, no file left in the textfile dir"
TEMP_DIR_RE = re.compile(r"^==> working in (/\S+)$")
TEXTFILE_RE = re.compile(r"^==> textfile: (/\S+\.prom)$")
PID_RE = re.compile(r"\(pid (\d+)\)")
# node_exporter serves "1"; the file itself, without node_exporter, says "1.0".
REDIS_UP_RE = re.compile(r"^\s*redis_up\{[^}]*\} 1(\.0)?$")


def _start_time(pid: int) -> str | None:
    """A live process's start time (which tells it from a later one with its pid), else None."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:  # gone, or going
        return None
    # Fields after the parenthesised command name: state is field 3, starttime field 22.
    fields = stat.rpartition(")")[2].split()
    state, start_time = fields[0], fields[19]
    return None if state in {"Z", "X"} else start_time


def _environ_without(name: str) -> dict[str, str]:
    """Our environment less `name`, so that an outer setting cannot change the run."""
    return {key: value for key, value in os.environ.items() if key != name}


def _processes_mentioning(text: str) -> list[str]:
    """The command lines of live processes that contain `text`."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        with contextlib.suppress(OSError):  # the process ended while we looked
            args = cmdline.read_bytes()
            if text.encode() in args:
                found.append(args.replace(b"\0", b" ").decode(errors="replace"))
    return found


class Demo:
    """scripts/demo.sh in its own process group, as a terminal runs it; its output read as it comes.

    Every process whose pid the demo prints is noted with its start time the moment the line
    arrives, so that afterwards "still alive" means that very process, not a reuse of its pid.
    """

    def __init__(self, **env: str) -> None:
        self.process = subprocess.Popen(
            [str(DEMO)],
            cwd=REPO,
            env={**_environ_without("DEMO_NO_WAIT"), **env},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            start_new_session=True,
        )
        self.lines: list[str] = []
        self.started: dict[int, str | None] = {}
        self._arrivals: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        self._ended = False
        threading.Thread(target=self._pump, daemon=True).start()

    @property
    def output(self) -> str:
        """Everything the demo printed so far, for failure messages."""
        return "\n".join(self.lines)

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            text = line.rstrip("\n")
            for pid in map(int, PID_RE.findall(text)):
                self.started[pid] = _start_time(pid)
            self.lines.append(text)
            self._arrivals.put(text)
        self._arrivals.put(None)  # end of output: every holder of the pipe has closed it

    def _next_line(self, deadline: float, what: str) -> str | None:
        """The next line, or None at the end of output; TimeoutError at the deadline."""
        try:
            line = self._arrivals.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            msg = f"no {what} in time; the demo printed:\n{self.output}"
            raise TimeoutError(msg) from None
        self._ended = line is None
        return line

    def read_until(self, wanted: str, timeout: float) -> None:
        """Wait until the demo prints the line `wanted`."""
        deadline = time.monotonic() + timeout
        while (line := self._next_line(deadline, repr(wanted))) != wanted:
            assert line is not None, f"output ended before {wanted!r}:\n{self.output}"

    def read_to_end(self) -> None:
        """Wait until the output pipe closes: the demo and every process it started are gone."""
        deadline = time.monotonic() + EOF_DEADLINE_S
        while not self._ended:
            self._next_line(deadline, "end of output (a process still holds the pipe)")

    def match(self, pattern: re.Pattern[str]) -> str:
        """The first group of the first line matching `pattern`."""
        for line in self.lines:
            found = pattern.match(line)
            if found:
                return found.group(1)
        msg = f"no line matches {pattern.pattern}:\n{self.output}"
        raise AssertionError(msg)

    def interrupt(self) -> None:
        """Send SIGINT to the whole process group, as a terminal's Ctrl-C does."""
        os.killpg(self.process.pid, signal.SIGINT)

    def wait(self, timeout: float) -> int:
        """Wait for the demo to exit and its output to end; return its exit status."""
        code = self.process.wait(timeout)
        self.read_to_end()
        return code

    def still_running(self) -> list[int]:
        """The processes the demo started (by the pids it printed) that are still alive."""
        return [
            pid
            for pid, start_time in list(self.started.items())  # the reader thread adds to it
            if start_time is not None and _start_time(pid) == start_time
        ]

    def stop(self) -> None:
        """After a failed test: Ctrl-C, then SIGKILL for whatever is left. Safe to call twice."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.interrupt()
            try:
                self.process.wait(STOP_DEADLINE_S)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        for pid in self.still_running():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


@pytest.fixture
def run_demo() -> Iterator[Callable[..., Demo]]:
    """Yield a starter of demo runs (keyword arguments go into the environment); stops them all."""
    demos: list[Demo] = []

    def start(**env: str) -> Demo:
        demo = Demo(**env)
        demos.append(demo)
        return demo

    yield start
    for demo in demos:
        demo.stop()


def _assert_printed_a_scrape(demo: Demo, temp_dir: Path) -> None:
    textfile = Path(demo.match(TEXTFILE_RE))
    assert textfile.parent == temp_dir / "textfile", demo.output
    assert any(REDIS_UP_RE.match(line) for line in demo.lines), demo.output


def _assert_nothing_left(demo: Demo, temp_dir: Path) -> None:
    assert CLEAN_STOP_LINE in demo.lines, demo.output
    assert not temp_dir.exists(), demo.output
    assert demo.still_running() == [], demo.output
    assert _processes_mentioning(str(temp_dir)) == [], demo.output


@pytest.mark.timeout(600)
def test_ctrl_c_stops_every_process_removes_the_temp_dir_and_exits_0(
    run_demo: Callable[..., Demo],
) -> None:
    """Ctrl-C on a running demo stops what it started, removes its temp dir and exits 0."""
    demo = run_demo()
    demo.read_until(READY_LINE, READY_DEADLINE_S)
    temp_dir = Path(demo.match(TEMP_DIR_RE))
    _assert_printed_a_scrape(demo, temp_dir)
    assert Path(demo.match(TEXTFILE_RE)).is_file(), "textfile-redis keeps its file while it runs"
    # The server and textfile-redis at least; node_exporter too where it is installed.
    assert len(demo.still_running()) >= 2, demo.output

    demo.interrupt()

    assert demo.wait(STOP_DEADLINE_S) == 0, demo.output
    _assert_nothing_left(demo, temp_dir)


@pytest.mark.timeout(600)
def test_no_wait_exits_0_by_itself_after_printing_and_leaves_nothing(
    run_demo: Callable[..., Demo],
) -> None:
    """With DEMO_NO_WAIT=1 the demo prints a scrape, then exits 0 by itself leaving nothing."""
    demo = run_demo(DEMO_NO_WAIT="1")

    assert demo.wait(READY_DEADLINE_S) == 0, demo.output

    temp_dir = Path(demo.match(TEMP_DIR_RE))
    _assert_printed_a_scrape(demo, temp_dir)
    assert READY_LINE not in demo.lines, demo.output
    assert demo.started, f"the demo printed no pid:\n{demo.output}"
    _assert_nothing_left(demo, temp_dir)
