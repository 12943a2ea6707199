"""Stopping `textfile-redis run`: any moment, hung servers, double signals, PID 1, crash leftovers.

The contract: SIGTERM or SIGINT ends the daemon with exit status 0 within one second, and it leaves
the textfile directory holding exactly what other tools and other owners put there.

A signal is only sent once the daemon has installed its handlers (SigCgt in /proc shows SIGTERM
caught). Before that, during the interpreter's start-up and imports, a signal kills it (status
-15, or -2 after a KeyboardInterrupt traceback), and as PID 1 the kernel drops it; see
`_handles_stop_signals`.
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import pytest

from tests.support.config import write_config
from tests.support.daemon import NotifySocket, RunningDaemon, clean_env, textfile_redis
from tests.support.processes import free_port, free_ports, wait_for
from tests.support.servers import RedisServer, binary_for
from tests.support.tools import require

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence

KIND = "redis-7.0"  # stopping does not depend on the server version; one kind keeps this quick
STOP_DEADLINE = 1.0  # seconds from the signal to the exit: DESIGN.md's promise
# Random moments per run: each run draws new ones (a new SEED), so CI runs add up to many; the
# loop's stop logic itself is pinned in-process by tests/test_daemon.py. Raise it to hunt a race.
RUNS = int(os.environ.get("TEXTFILE_REDIS_STOP_RUNS", "16"))
INTERVAL = 0.2
# The seed of the random moments; set TEXTFILE_REDIS_STOP_SEED to replay a failed run.
SEED = os.environ.get("TEXTFILE_REDIS_STOP_SEED") or uuid.uuid4().hex[:8]
FOREIGN_OWNER = "0123456789ab"  # another configuration's owner id
OUR_TEMP = re.compile(r"\.textfile-redis-(?P<owner>[0-9a-f]+)-.*\.tmp")
MARKER = re.compile(r"# textfile-redis owner=(?P<owner>\S+) target=(?P<target>\S+)\n")
SIGTERM_BIT = 1 << (signal.SIGTERM - 1)
SIGHUP_BIT = 1 << (signal.SIGHUP - 1)
WAIT_DEADLINE = 10.0

T = TypeVar("T")

# What every run of the random-moment test saw, printed once at the end of the module.
_OUTCOMES: list[dict[str, object]] = []


# --- the textfile directory ------------------------------------------------------------------


@dataclass
class Scene:
    """A textfile directory holding other tools' and other owners' files, and a config dir."""

    textfile_dir: Path
    etc: Path
    foreign: dict[str, bytes] = field(default_factory=dict)

    @property
    def config(self) -> Path:
        """The main configuration file (its own directory: the daemon watches that directory)."""
        return self.etc / "config.toml"

    def write_config(self, targets: list[dict[str, str]], **top: object) -> Path:
        """Write config.toml with these targets; interval and timeout default to quick ones."""
        top = {"interval": INTERVAL, "timeout": 0.15, **top}
        return write_config(self.config, self.textfile_dir, targets, **top)

    def plant_foreign(self) -> None:
        """Plant files the daemon must never touch: other tools', another owner's, hand-made."""
        self.foreign = {
            "node_cpu.prom": b'# TYPE node_cpu_guest gauge\nnode_cpu_guest{cpu="0"} 1\n',
            "redis_foreign.prom": (
                f"# textfile-redis owner={FOREIGN_OWNER} target=foreign\nredis_up 1\n".encode()
            ),
            "redis_handmade.prom": b"# written by hand\nredis_up 1\n",
            f".textfile-redis-{FOREIGN_OWNER}-xyz.tmp": b"another owner's write in progress\n",
        }
        for name, data in self.foreign.items():
            (self.textfile_dir / name).write_bytes(data)

    def contents(self) -> dict[str, bytes]:
        """Every entry of the textfile directory and its bytes."""
        return {p.name: p.read_bytes() for p in sorted(self.textfile_dir.iterdir())}

    def ours(self) -> list[str]:
        """Names of the entries that are not foreign: our files and our temp files."""
        return sorted(p.name for p in self.textfile_dir.iterdir() if p.name not in self.foreign)

    def assert_only_foreign(self, context: str = "") -> None:
        """The directory holds exactly the foreign files, byte for byte."""
        contents = self.contents()
        assert contents == self.foreign, (
            f"left behind: {sorted(set(contents) - set(self.foreign))}; "
            f"changed or gone: {sorted(n for n, b in self.foreign.items() if contents.get(n) != b)}"
            f"\n{context}"
        )


@pytest.fixture
def scene(textfile_dir: Path, tmp_path: Path) -> Scene:
    """A textfile directory with foreign files planted, and an empty configuration directory."""
    etc = tmp_path / "etc"
    etc.mkdir()
    made = Scene(textfile_dir, etc)
    made.plant_foreign()
    return made


def _marker(path: Path) -> dict[str, str]:
    """The owner and target a file of ours names on its first line."""
    with path.open() as file:
        found = MARKER.fullmatch(file.readline())
    assert found, f"{path.name} has no marker line"
    return found.groupdict()


def _value(path: Path, name: str) -> float | None:
    """The value of the first sample of `name` in an exposition file, None when absent or gone."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    found = re.search(rf"^{name}(?:{{[^}}]*}})? (\S+)$", text, re.MULTILINE)
    return float(found[1]) if found else None


def _version(path: Path) -> tuple[int, int] | None:
    """Inode and mtime: each write renames a new file over the old one, so both change."""
    try:
        stat = path.stat()
    except FileNotFoundError:
        return None
    return stat.st_ino, stat.st_mtime_ns


# --- the daemon process ----------------------------------------------------------------------


def _status(pid: int) -> dict[str, str]:
    """The fields of /proc/<pid>/status."""
    text = Path(f"/proc/{pid}/status").read_text()
    return dict(line.split(":\t", 1) for line in text.splitlines() if ":\t" in line)


def _handles_stop_signals(pid: int) -> bool:
    """Whether the daemon has installed its handlers: SIGTERM and SIGHUP are caught.

    Python itself catches SIGINT from start-up (KeyboardInterrupt), SIGTERM and SIGHUP only once
    Daemon.run() installs its handlers, so these two bits say the daemon is ready for a stop.
    """
    try:
        caught = int(_status(pid)["SigCgt"], 16)
    except (FileNotFoundError, ProcessLookupError):
        return False
    return caught & SIGTERM_BIT != 0 and caught & SIGHUP_BIT != 0


def _stop(daemon: RunningDaemon, signum: int, context: str = "", pid: int | None = None) -> float:
    """Send the signal (to `pid`, default the daemon); assert a timely exit 0; seconds taken."""
    sent = time.monotonic()
    os.kill(daemon.pid if pid is None else pid, signum)
    try:
        code = daemon.wait(STOP_DEADLINE)
    except subprocess.TimeoutExpired:
        pytest.fail(f"no exit {STOP_DEADLINE:g} s after {signal.Signals(signum).name}\n{context}")
    elapsed = time.monotonic() - sent
    assert code == 0, f"exit status {code} after {signal.Signals(signum).name}\n{context}"
    return elapsed


def _await(
    daemon: RunningDaemon,
    predicate: Callable[[], T],
    message: str,
    timeout: float = WAIT_DEADLINE,
    interval: float = 0.02,
) -> T:
    """wait_for while the daemon runs; a failure tells how the daemon ended and what it logged."""

    def check() -> T:
        result = predicate()
        if not result and daemon.process.poll() is not None:
            pytest.fail(f"{message}: exited with {daemon.process.returncode}\n{daemon.log()}")
        return result

    try:
        return wait_for(check, timeout, interval, message)
    except TimeoutError as exc:
        pytest.fail(f"{exc}\n{daemon.log()}")


def _describe(daemon: RunningDaemon, scene: Scene, **facts: object) -> str:
    """What a failure message needs: the facts of the run, the directory and the daemon's log."""
    lines = [", ".join(f"{key}={value}" for key, value in facts.items())]
    lines.append(f"directory: {sorted(p.name for p in scene.textfile_dir.iterdir())}")
    lines.append(f"daemon log:\n{daemon.log()}")
    return "\n".join(lines)


@pytest.fixture
def start_daemon(tmp_path: Path) -> Iterator[Callable[..., RunningDaemon]]:
    """Yield a starter of `textfile-redis run` processes; SIGKILLs those still running after."""
    started: list[RunningDaemon] = []

    def start(
        config: Path, *, env: dict[str, str] | None = None, argv_prefix: Sequence[str] = ()
    ) -> RunningDaemon:
        log = tmp_path / f"daemon-{len(started)}.log"
        daemon = RunningDaemon(config, log, env=env, argv_prefix=argv_prefix)
        started.append(daemon)
        return daemon

    yield start
    for daemon in started:
        daemon.kill()


@pytest.fixture
def notify() -> Iterator[NotifySocket]:
    """A NOTIFY_SOCKET listener counting the daemon's cycles."""
    listener = NotifySocket()
    yield listener
    listener.close()


# --- servers ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def live_servers(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[RedisServer, RedisServer]]:
    """Two empty servers shared by the module's tests, which only read them."""
    require(binary_for(KIND) is not None, f"no {KIND} binary here; install redis-server")
    with (
        RedisServer.start(KIND, tmp_path_factory.mktemp("one")) as one,
        RedisServer.start(KIND, tmp_path_factory.mktemp("two")) as two,
    ):
        yield one, two


@pytest.fixture
def freezable_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A server of the test's own, to be frozen; thawed (and stopped) after the test."""
    require(binary_for(KIND) is not None, f"no {KIND} binary here; install redis-server")
    with RedisServer.start(KIND, tmp_path_factory.mktemp("frozen")) as started:
        yield started
        started.thaw()


def _three_targets(servers: tuple[RedisServer, RedisServer]) -> list[dict[str, str]]:
    one, two = servers
    return [
        {"name": "one", "addr": one.addr},
        {"name": "two", "addr": two.addr},
        {"name": "down", "addr": f"redis://127.0.0.1:{free_port()}"},  # nothing listens there
    ]


# --- 1. a stop at any moment -----------------------------------------------------------------


@pytest.fixture(scope="module")
def _report_outcomes() -> Iterator[None]:
    """Print what the random-moment runs covered (shown with pytest -s)."""
    yield
    if not _OUTCOMES:
        return
    before_first = sum(o["our files at the signal"] == 0 for o in _OUTCOMES)
    slowest = max(float(str(o["stop seconds"])) for o in _OUTCOMES)
    print(  # noqa: T201 - a summary for the record
        f"\nrandom-moment stops (seed {SEED}): {len(_OUTCOMES)} runs, "
        f"{sum(o['signal'] == 'SIGTERM' for o in _OUTCOMES)} SIGTERM, "
        f"{sum(o['signal'] == 'SIGINT' for o in _OUTCOMES)} SIGINT, "
        f"{before_first} before the first file, cycles completed up to "
        f"{max(int(str(o['cycles done'])) for o in _OUTCOMES)}, slowest stop {slowest:.3f} s"
    )


@pytest.mark.usefixtures("_report_outcomes")
@pytest.mark.parametrize("run", range(RUNS))
def test_stop_at_a_random_moment_exits_0_and_leaves_only_foreign_files(
    run: int,
    live_servers: tuple[RedisServer, RedisServer],
    scene: Scene,
    notify: NotifySocket,
    start_daemon: Callable[..., RunningDaemon],
) -> None:
    """SIGTERM or SIGINT at any moment after start-up exits 0 within 1 s, leaving foreign files."""
    rng = random.Random(f"{SEED}-{run}")  # noqa: S311 - picks test moments, not secrets
    signum = signal.SIGTERM if run % 2 == 0 else signal.SIGINT
    # Cycles to let complete, then a random offset into the next interval; one run in four
    # signals as soon as the handlers are in, mostly before the first file is written.
    at_once = rng.random() < 0.25
    cycles = 0 if at_once else rng.randint(0, 6)
    offset = 0.0 if at_once else rng.uniform(0, INTERVAL)
    config = scene.write_config(_three_targets(live_servers))
    daemon = start_daemon(config, env=clean_env(NOTIFY_SOCKET=notify.address))
    _await(daemon, lambda: _handles_stop_signals(daemon.pid), "no handlers", interval=0.0005)
    if not at_once:
        _await(daemon, lambda: notify.cycles >= cycles, f"{cycles} cycles never completed")
        moment = time.monotonic() + offset
        wait_for(lambda: time.monotonic() >= moment, interval=0.005)  # the random moment itself
    facts: dict[str, object] = {
        "run": run,
        "seed": SEED,
        "signal": signal.Signals(signum).name,
        "at once": at_once,
        "cycles asked": cycles,
        "offset": f"{offset:.3f}",
        "cycles done": notify.cycles,
        "our files at the signal": sum(name.startswith("redis_") for name in scene.ours()),
    }
    elapsed = _stop(daemon, signum, _describe(daemon, scene, **facts))
    facts["stop seconds"] = f"{elapsed:.3f}"
    scene.assert_only_foreign(_describe(daemon, scene, **facts))
    _OUTCOMES.append(facts)


# --- 2. a frozen server ----------------------------------------------------------------------


def _tcp_connected(pid: int, port: int) -> bool:
    """Whether the process holds an established TCP connection to 127.0.0.1:port."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(FileNotFoundError):  # an fd closed while we look
            link = str(fd.readlink())
            if link.startswith("socket:["):
                inodes.add(link[len("socket:[") : -1])
    for line in Path(f"/proc/{pid}/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        remote, state, inode = fields[2], fields[3], fields[9]
        if int(remote.split(":")[1], 16) == port and state == "01" and inode in inodes:
            return True
    return False


def test_frozen_server_neither_stalls_cycles_nor_delays_the_stop(
    live_servers: tuple[RedisServer, RedisServer],
    freezable_server: RedisServer,
    scene: Scene,
    start_daemon: Callable[..., RunningDaemon],
) -> None:
    """A SIGSTOPped server gets redis_up 0, the others keep being written, SIGTERM still exits 0."""
    live, _two = live_servers
    # The timeout outlasts the stop deadline, so a stop that waited for a hung scrape would fail.
    config = scene.write_config(
        [{"name": "live", "addr": live.addr}, {"name": "frozen", "addr": freezable_server.addr}],
        interval=1.5,
        timeout=1.2,
    )
    live_file = scene.textfile_dir / "redis_live.prom"
    frozen_file = scene.textfile_dir / "redis_frozen.prom"
    daemon = start_daemon(config)
    _await(daemon, lambda: _value(frozen_file, "redis_up") == 1, "frozen target never up")
    freezable_server.freeze()

    versions = [_version(live_file)]
    for _ in range(2):  # the live target's file is rewritten on two cycles while frozen
        _await(
            daemon,
            lambda: _version(live_file) != versions[-1],
            "live file not rewritten while the other server is frozen",
            timeout=1.5 + 1,
        )
        versions.append(_version(live_file))
    assert _value(live_file, "redis_up") == 1
    _await(
        daemon,
        lambda: _value(frozen_file, "redis_up") == 0,
        "the frozen target's file never said redis_up 0",
        timeout=1.5 + 1.2 + 1,  # the next cycle, its timeout, slack
    )
    # After the failure the scraper reconnects (after its 1 s backoff): the kernel accepts the
    # connection for the stopped server, whose reply never comes. Stop early in that 1.2 s hang.
    _await(
        daemon,
        lambda: _tcp_connected(daemon.pid, freezable_server.port),
        "the daemon never tried the frozen server again",
        timeout=5,
        interval=0.01,
    )
    elapsed = _stop(daemon, signal.SIGTERM, _describe(daemon, scene))
    scene.assert_only_foreign(_describe(daemon, scene, stop_seconds=elapsed))


# --- 3. a second SIGINT while stopping -------------------------------------------------------
#
# The daemon's promise (daemon.py, _on_stop_signal): a stop signal while stopping means "out now":
# os._exit(0). That may cut the removal short, so what stays can only be ours, and `cleanup` (or
# the next start) takes it. Two signals sent back to back mostly merge into one (a pending signal
# is not queued twice); to be sure of the `stopping` path the test runs the daemon in small steps
# (SIGSTOP, read /proc, SIGCONT) and sends the second one once STOPPING=1 has come.

TRIES = 5  # daemons a stepping test may start before it catches the moment it wants


def _catches(status: dict[str, str], signum: int) -> bool:
    """Whether a /proc status says the process has a handler for the signal."""
    return int(status.get("SigCgt", "0"), 16) & (1 << (signum - 1)) != 0


def _stopped_status(pid: int) -> dict[str, str]:
    """The status of a process just sent SIGSTOP, once it has stopped; {} once it has exited."""
    seen: list[dict[str, str]] = []

    def settled() -> bool:
        try:
            status = _status(pid)
        except FileNotFoundError:
            status = {}
        state = status.get("State", "Z")[0]  # T: stopped, Z: exited (not reaped yet)
        if state in "TZ":
            seen.append(status if state == "T" else {})
        return bool(seen)

    wait_for(settled, interval=0.0001)
    return seen[0]


def _step_until(daemon: RunningDaemon, verdict: Callable[[dict[str, str]], str | None]) -> str:
    """Run the daemon in small steps until `verdict` names what it sees in /proc; "exited" if never.

    The daemon is left stopped when `verdict` spoke: send it what you want, then SIGCONT.
    """
    while True:
        os.kill(daemon.pid, signal.SIGSTOP)
        status = _stopped_status(daemon.pid)
        if not status:
            return "exited"
        seen = verdict(status)
        if seen:
            return seen
        os.kill(daemon.pid, signal.SIGCONT)


def _settled_daemon(
    scene: Scene,
    servers: tuple[RedisServer, RedisServer],
    notify: NotifySocket,
    start_daemon: Callable[..., RunningDaemon],
) -> tuple[RunningDaemon, str]:
    """A daemon with its handlers in and two cycles done; and its owner id."""
    config = scene.write_config(_three_targets(servers))
    daemon = start_daemon(config, env=clean_env(NOTIFY_SOCKET=notify.address))
    _await(daemon, lambda: _handles_stop_signals(daemon.pid), "no signal handlers")
    cycles = notify.cycles
    _await(daemon, lambda: notify.cycles >= cycles + 2, "two cycles never completed")
    return daemon, _marker(scene.textfile_dir / "redis_one.prom")["owner"]


def _assert_leftovers_are_ours(scene: Scene, owner: str, context: str) -> list[str]:
    """Anything not foreign is a file or temp file of `owner`; returns those names."""
    leftovers = scene.ours()
    for name in leftovers:
        temp = OUR_TEMP.fullmatch(name)
        if temp:
            assert temp["owner"] == owner, f"{name}: a temp file not ours\n{context}"
        else:
            assert _marker(scene.textfile_dir / name)["owner"] == owner, f"{name}\n{context}"
    return leftovers


def _assert_quick_exit_0_then_cleanup(
    daemon: RunningDaemon, scene: Scene, owner: str, label: str
) -> None:
    """Exit 0 within the deadline; leftovers only ours; `cleanup` leaves the foreign files."""
    context = _describe(daemon, scene, case=label)
    try:
        code = daemon.wait(STOP_DEADLINE)
    except subprocess.TimeoutExpired:
        pytest.fail(f"no exit {STOP_DEADLINE:g} s after the second signal\n{context}")
    assert code == 0, f"exit status {code}\n{context}"
    leftovers = _assert_leftovers_are_ours(scene, owner, context)
    print(f"\ntwo SIGINTs, {label}: exit 0, left {leftovers}")  # noqa: T201 - for the record
    cleaned = textfile_redis("cleanup", "--config", str(scene.config))
    assert cleaned.returncode == 0, cleaned.stderr
    scene.assert_only_foreign(context)


@pytest.mark.parametrize("attempt", range(4))
def test_two_sigints_back_to_back_exit_0(
    attempt: int,
    live_servers: tuple[RedisServer, RedisServer],
    scene: Scene,
    notify: NotifySocket,
    start_daemon: Callable[..., RunningDaemon],
) -> None:
    """Two SIGINTs sent back to back exit 0 within a second, leaving only what cleanup removes."""
    daemon, owner = _settled_daemon(scene, live_servers, notify, start_daemon)
    daemon.send(signal.SIGINT)
    daemon.send(signal.SIGINT)
    _assert_quick_exit_0_then_cleanup(daemon, scene, owner, f"back to back #{attempt}")


def _mid_stop(stops_before: int, notify: NotifySocket) -> Callable[[dict[str, str]], str | None]:
    """A verdict: "mid-stop" once STOPPING=1 came with the handlers still in; "late" after."""

    def verdict(status: dict[str, str]) -> str | None:
        if not _catches(status, signal.SIGINT):
            return "late"
        return "mid-stop" if notify.stops > stops_before else None

    return verdict


@pytest.mark.parametrize("attempt", range(4))
def test_second_sigint_while_stopping_exits_0_at_once(
    attempt: int,
    live_servers: tuple[RedisServer, RedisServer],
    scene: Scene,
    notify: NotifySocket,
    start_daemon: Callable[..., RunningDaemon],
) -> None:
    """A SIGINT after STOPPING=1 (the daemon is stopping) exits 0 at once; cleanup does the rest."""
    for _ in range(TRIES):
        daemon, owner = _settled_daemon(scene, live_servers, notify, start_daemon)
        stops = notify.stops
        daemon.send(signal.SIGINT)
        seen = _step_until(daemon, _mid_stop(stops, notify))
        if seen == "mid-stop":
            daemon.send(signal.SIGINT)
        os.kill(daemon.pid, signal.SIGCONT)
        _assert_quick_exit_0_then_cleanup(daemon, scene, owner, f"{seen} #{attempt}")
        if seen == "mid-stop":
            return
    pytest.fail(f"no daemon of {TRIES} was caught between STOPPING=1 and its exit")


def test_second_sigint_during_interpreter_shutdown_exits_0(
    live_servers: tuple[RedisServer, RedisServer],
    scene: Scene,
    notify: NotifySocket,
    start_daemon: Callable[..., RunningDaemon],
) -> None:
    """A SIGINT in the last moments of a stop (its handlers already gone) still exits 0."""
    for _ in range(TRIES):
        daemon, owner = _settled_daemon(scene, live_servers, notify, start_daemon)
        daemon.send(signal.SIGINT)
        no_handler = _step_until(
            daemon, lambda status: None if _catches(status, signal.SIGINT) else "no handler"
        )
        if no_handler == "no handler":  # alive, its cleanup done, SIGINT no longer handled
            daemon.send(signal.SIGINT)
            os.kill(daemon.pid, signal.SIGCONT)
        _assert_quick_exit_0_then_cleanup(daemon, scene, owner, no_handler)
        if no_handler == "no handler":
            return


# --- 4. PID 1 of a pid namespace -------------------------------------------------------------

UNSHARE = ("unshare", "--pid", "--fork", "--kill-child", "--mount-proc")


@pytest.fixture(scope="module")
def unshare_works() -> None:
    """Skip (fail on CI) unless util-linux unshare can make a pid namespace here."""
    require(shutil.which("unshare") is not None, "no unshare here; install util-linux")
    probe = subprocess.run([*UNSHARE, "true"], capture_output=True, text=True, check=False)
    require(probe.returncode == 0, f"unshare cannot make a pid namespace: {probe.stderr.strip()}")


def _only_child(pid: int) -> int | None:
    """The one child of a process, once it has one."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except FileNotFoundError:
        return None
    return int(children[0]) if len(children) == 1 else None


@pytest.mark.usefixtures("unshare_works")
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_as_pid_1_of_a_pid_namespace_the_stop_signal_works(
    signum: int,
    live_servers: tuple[RedisServer, RedisServer],
    scene: Scene,
    start_daemon: Callable[..., RunningDaemon],
) -> None:
    """As PID 1 (no default signal actions there) the daemon still stops on signal and cleans."""
    config = scene.write_config(_three_targets(live_servers))
    unshare = start_daemon(config, argv_prefix=UNSHARE)  # `process` is unshare; the daemon forks
    host_pid = _await(unshare, lambda: _only_child(unshare.pid) or 0, "unshare never forked")
    # unshare does not forward signals: the test signals the daemon's host pid itself.
    _await(unshare, lambda: _handles_stop_signals(host_pid), "no signal handlers")
    namespaced = _status(host_pid)["NSpid"].split()
    assert namespaced[-1] == "1", f"NSpid {namespaced}: not PID 1 in its namespace"
    for name in ("one", "two", "down"):
        _await(unshare, (scene.textfile_dir / f"redis_{name}.prom").exists, f"no {name} file")
    elapsed = _stop(unshare, signum, _describe(unshare, scene, ns_pid=namespaced), pid=host_pid)
    scene.assert_only_foreign(_describe(unshare, scene, stop_seconds=elapsed))


# --- 5. SIGKILL, then a restart with one target fewer ----------------------------------------


def _our_files_written(scene: Scene, names: list[str]) -> Callable[[], bool]:
    return lambda: all((scene.textfile_dir / f"redis_{name}.prom").exists() for name in names)


def test_restart_after_sigkill_removes_leftovers_before_its_first_cycle(
    live_servers: tuple[RedisServer, RedisServer],
    scene: Scene,
    start_daemon: Callable[..., RunningDaemon],
) -> None:
    """A restart removes the killed run's temp file and a dropped target's file, keeps the rest."""
    targets = _three_targets(live_servers)
    config = scene.write_config(targets)
    killed = start_daemon(config)
    _await(killed, _our_files_written(scene, ["one", "two", "down"]), "no files")
    killed.kill()  # SIGKILL: no cleanup at all
    one, two, down = (scene.textfile_dir / f"redis_{name}.prom" for name in ("one", "two", "down"))
    owner = _marker(one)["owner"]
    stale_temp = scene.textfile_dir / f".textfile-redis-{owner}-abc.tmp"
    stale_temp.write_bytes(b"# textfile-redis: a write the SIGKILL cut short\n")
    before = {path: _version(path) for path in (one, down)}

    scene.write_config([t for t in targets if t["name"] != "two"])  # same path: same owner
    daemon = start_daemon(config)
    _await(
        daemon,
        lambda: all(_version(path) != version for path, version in before.items()),
        "the remaining targets' files were not rewritten",
    )
    # Leftovers go before the first cycle, so they are gone once the new files are there.
    assert not stale_temp.exists(), daemon.log()
    assert not two.exists(), daemon.log()
    assert f"removed leftover {stale_temp}" in daemon.log()
    assert f"removed leftover {two}" in daemon.log()
    assert _marker(one) == {"owner": owner, "target": "one"}
    assert {name: data for name, data in scene.contents().items() if name in scene.foreign} == (
        scene.foreign
    )
    elapsed = _stop(daemon, signal.SIGTERM, _describe(daemon, scene))
    scene.assert_only_foreign(_describe(daemon, scene, stop_seconds=elapsed))


# --- 6. `cleanup` after a SIGKILL ------------------------------------------------------------


def test_cleanup_after_sigkill_removes_our_files_and_temp_files_only(
    live_servers: tuple[RedisServer, RedisServer],
    scene: Scene,
    start_daemon: Callable[..., RunningDaemon],
) -> None:
    """`textfile-redis cleanup` (ExecStopPost=) removes a killed run's files, not foreign ones."""
    config = scene.write_config(_three_targets(live_servers))
    killed = start_daemon(config)
    _await(killed, _our_files_written(scene, ["one", "two", "down"]), "no files")
    killed.kill()
    owner = _marker(scene.textfile_dir / "redis_one.prom")["owner"]
    (scene.textfile_dir / f".textfile-redis-{owner}-abc.tmp").write_bytes(b"cut short\n")
    result = textfile_redis("cleanup", "--config", str(config))
    assert result.returncode == 0, result.stderr
    assert "removed 4 file(s)" in result.stderr
    scene.assert_only_foreign(result.stderr)


# --- stops behind reloads, and instances side by side ----------------------------------------

MANY_TARGETS = 200
QUEUED_RELOADS = 30


def _unreachable_targets(count: int) -> list[dict[str, str]]:
    """Targets on loopback ports nothing listens on."""
    ports = free_ports(count)
    return [{"name": f"t{i}", "addr": f"redis://127.0.0.1:{p}"} for i, p in enumerate(ports)]


def test_stop_behind_many_queued_reloads_takes_under_a_second(
    scene: Scene, start_daemon: Callable[..., RunningDaemon]
) -> None:
    """With 200 targets and 30 SIGHUPs just sent, SIGTERM still exits 0 within a second."""
    config = scene.write_config(_unreachable_targets(MANY_TARGETS), interval=1, timeout=0.5)
    daemon = start_daemon(config)
    _await(daemon, lambda: _handles_stop_signals(daemon.pid), "handlers never installed")
    _await(daemon, lambda: len(scene.ours()) >= MANY_TARGETS // 2, "few files written")
    for _ in range(QUEUED_RELOADS):
        daemon.send(signal.SIGHUP)
        time.sleep(0.01)  # spaced: the kernel merges SIGHUPs that are pending together
    _stop(daemon, signal.SIGTERM, daemon.log())
    scene.assert_only_foreign(daemon.log())


def test_no_error_line_at_a_clean_stop_after_a_reload(
    live_servers: tuple[RedisServer, RedisServer],
    scene: Scene,
    start_daemon: Callable[..., RunningDaemon],
) -> None:
    """A reload then a stop log no ERROR line (watchdog's emitter once raced the exit)."""
    daemon = start_daemon(scene.write_config(_three_targets(live_servers)[:2]))
    _await(daemon, lambda: len(scene.ours()) == 2, "files never written")
    scene.config.write_text(scene.config.read_text() + "\n")
    _await(daemon, lambda: "reloaded:" in daemon.log(), "the edit did not reload")
    _stop(daemon, signal.SIGTERM, daemon.log())
    assert "ERROR" not in daemon.log()
    assert "InotifyEmitter" not in daemon.log()
    assert "Traceback" not in daemon.log()


def test_two_redis_addr_instances_keep_each_others_files(
    live_servers: tuple[RedisServer, RedisServer], scene: Scene, tmp_path: Path
) -> None:
    """Two `run --redis-addr` into one directory, and `cleanup --redis-addr B`, spare A's file."""
    one, two = live_servers
    common = ["--textfile-dir", str(scene.textfile_dir), "--interval", str(INTERVAL)]
    env = clean_env()
    env.pop("NOTIFY_SOCKET", None)
    started = [
        subprocess.Popen(
            [sys.executable, "-m", "textfile_redis", "run", "--redis-addr", server.addr, *common],
            stdin=subprocess.DEVNULL,
            stdout=(tmp_path / f"flags-{i}.log").open("wb"),
            stderr=subprocess.STDOUT,
            env=env,
        )
        for i, server in enumerate((one, two))
    ]
    try:
        # Named by port, not by listing: ours() also counts a temp file caught mid-write.
        first_file, second_file = (
            scene.textfile_dir / f"redis_127_0_0_1_{server.port}.prom" for server in (one, two)
        )
        wait_for(
            lambda: first_file.exists() and second_file.exists(),
            message="A and B never both wrote",
        )
        assert _marker(first_file)["owner"] != _marker(second_file)["owner"]
        before = _version(first_file)
        wait_for(lambda: _version(first_file) != before, message="A stopped writing")
        os.kill(started[1].pid, signal.SIGTERM)
        assert started[1].wait(WAIT_DEADLINE) == 0
        assert first_file.exists(), "B's stop removed A's file"
        cleanup = textfile_redis("cleanup", "--redis-addr", two.addr, *common[:2], env=env)
        assert cleanup.returncode == 0, cleanup.stderr
        assert first_file.exists(), "cleanup --redis-addr B removed A's file"
    finally:
        for process in started:
            if process.poll() is None:
                process.kill()
            process.wait(WAIT_DEADLINE)
