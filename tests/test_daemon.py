"""The run loop: its schedule, its heap upkeep, and its events with a stand-in collector."""

from __future__ import annotations

import ctypes
import dataclasses
import gc
import logging
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import weakref
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import pytest

from tests.support.config import write_config
from tests.support.daemon import RunningDaemon
from tests.support.processes import free_ports, wait_for
from textfile_redis.config import Config, ConfigError, Credential, Discovery, Secret, Target
from textfile_redis.cycle import Collector, TargetReport
from textfile_redis.daemon import Daemon, Event, _next_tick, freeze_long_lived
from textfile_redis.discover import Server
from textfile_redis.notify import Notifier

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

CANARY = "s3cr3t-never-printed"


@pytest.mark.parametrize(
    ("previous", "now", "expected"),
    [
        (100.0, 100.001, 115.0),  # on time: the next slot
        (100.0, 114.9, 115.0),  # a slow cycle still lands on the grid
        (100.0, 115.0, 130.0),  # exactly on a slot: that slot is not after now
        (100.0, 146.0, 160.0),  # suspended for three intervals: missed slots are skipped
    ],
)
def test_next_tick_stays_on_the_grid(previous: float, now: float, expected: float) -> None:
    """Cycles start at previous + k*interval, never drifting by the time a cycle took."""
    assert _next_tick(previous, 15.0, now) == expected


def test_freeze_long_lived_frees_garbage_then_freezes_what_lives() -> None:
    """Unreachable cycles are collected first; what is still reachable leaves the GC's walks."""

    class Node:
        partner: object = None

    garbage = Node()
    garbage.partner = garbage
    probe = weakref.ref(garbage)
    del garbage
    kept = [Node()]
    gc.unfreeze()
    try:
        freeze_long_lived()
        assert probe() is None
        assert gc.get_freeze_count() > 1000
        assert not any(obj is kept for obj in gc.get_objects())
    finally:
        gc.unfreeze()


# --- the loop, with a stand-in collector and watcher -----------------------------------------


def as_collector(fake: FakeCollector) -> Collector:
    """A fake where Daemon's signature names the concrete Collector: it has the methods used."""
    return cast("Collector", fake)


class FakeCollector:
    """Collects nothing: each cycle reports every target at once, failing or not as told."""

    def __init__(self, failing: set[str] | None = None) -> None:
        self.failing = failing or set()
        self.targets: tuple[Target, ...] = ()
        self.reconfigure_error: Exception | None = None

    def start_cycle(self, on_done: Callable[[TargetReport], None]) -> list[str]:
        """Report every target at once."""
        for target in self.targets:
            error = "ConnectionError: refused" if target.name in self.failing else None
            on_done(TargetReport(target, scrape_error=error))
        return [target.name for target in self.targets]

    def reconfigure(self, config: Config, _timeout: float) -> list[Target]:
        """Adopt the targets (or raise as told); the retired ones."""
        if self.reconfigure_error is not None:
            raise self.reconfigure_error
        retired = [t for t in self.targets if t not in config.targets]
        self.targets = config.targets
        return retired

    def stop(self, _timeout: float) -> bool:
        """Nothing is ever being written."""
        return True


class FakeWatcher:
    """A watcher that watches nothing."""

    def start(self) -> bool:
        """Nothing to watch."""
        return False

    def stop(self) -> None:
        """Nothing to stop."""


def _config(tmp_path: Path, *targets: Target, warnings: tuple[str, ...] = ()) -> Config:
    return Config(
        textfile_dir=tmp_path,
        interval=3600.0,  # one cycle at start, then only what the test posts
        timeout=1.0,
        targets=targets,
        owner="0123456789ab",
        config_path=tmp_path / "config.toml",
        warnings=warnings,
    )


@pytest.fixture
def restore_signals(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Daemon.run installs handlers (and ignores stop signals once stopped): put them back.

    Also lets the daemon's info lines through to caplog.
    """
    caplog.set_level(logging.INFO)
    saved = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
    yield
    for signum, handler in saved.items():
        signal.signal(signum, handler)


def _daemon(
    config: Config, load: Callable[[], Config], collector: FakeCollector | None = None
) -> Daemon:
    collector = collector or FakeCollector()
    collector.targets = config.targets
    return Daemon(
        config,
        load,
        Notifier({}),
        collector=as_collector(collector),
        watcher=FakeWatcher(),
    )


def _run_until(daemon: Daemon, *, after: Callable[[], bool]) -> int:
    """Run the daemon in this thread (signal handlers need it); post STOP once `after` holds."""

    def stop_after() -> None:
        wait_for(after, timeout=5)
        daemon.post(Event.STOP)

    stopper = threading.Thread(target=stop_after, daemon=True)
    stopper.start()
    return daemon.run()


@pytest.mark.usefixtures("restore_signals")
def test_stop_jumps_the_queue_and_queued_reloads_never_load(tmp_path: Path) -> None:
    """A STOP behind 50 queued reloads stops at once: not one configuration is loaded."""
    loads: list[None] = []

    def load() -> Config:
        loads.append(None)
        return _config(tmp_path)

    daemon = _daemon(_config(tmp_path), load)
    for _ in range(50):
        daemon.post(Event.RELOAD)
    daemon.post(Event.STOP)

    assert daemon.run() == 0
    assert loads == []


@pytest.mark.usefixtures("restore_signals")
def test_queued_reloads_merge_into_one_load(tmp_path: Path) -> None:
    """Twenty reloads that wait together in the queue load the configuration once."""
    loads: list[None] = []
    config = _config(tmp_path)

    def load() -> Config:
        loads.append(None)
        return config

    daemon = _daemon(config, load)
    for _ in range(20):
        daemon.post(Event.RELOAD)

    assert _run_until(daemon, after=lambda: bool(loads)) == 0
    assert len(loads) == 1


@pytest.mark.usefixtures("restore_signals")
@pytest.mark.parametrize(
    ("error", "logged"),
    [
        (RecursionError("deep"), "unexpected RecursionError while loading"),
        (ValueError(CANARY), "unexpected ValueError while loading"),
        (ConfigError("/etc/x.toml: bad"), "/etc/x.toml: bad"),
    ],
)
def test_any_exception_while_loading_is_a_one_line_refusal(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, error: Exception, logged: str
) -> None:
    """A load that raises anything is refused in one line; the running configuration stays."""
    running = _config(tmp_path, Target("a", "redis://a:1", 1.0))

    def load() -> Config:
        raise error

    daemon = _daemon(running, load)
    daemon.post(Event.RELOAD)
    refused = "reload refused, keeping the running configuration"

    assert _run_until(daemon, after=lambda: refused in caplog.text) == 0
    (line,) = [r.getMessage() for r in caplog.records if refused in r.getMessage()]
    assert line == f"{refused}: {logged}"
    assert daemon.config is running
    assert CANARY not in caplog.text


@pytest.mark.usefixtures("restore_signals")
def test_exception_while_reconfiguring_keeps_the_daemon_running(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """An exception out of the collector's reconfigure costs one log line, not the daemon."""
    collector = FakeCollector()
    collector.reconfigure_error = RuntimeError(CANARY)
    daemon = _daemon(_config(tmp_path), lambda: _config(tmp_path), collector)
    daemon.post(Event.RELOAD)

    assert _run_until(daemon, after=lambda: "reload failed" in caplog.text) == 0
    assert "reload failed (RuntimeError); the daemon goes on" in caplog.messages
    assert CANARY not in caplog.text
    assert "stopped; removed" in caplog.text


@pytest.mark.usefixtures("restore_signals")
def test_failing_target_is_not_logged_again_after_reloads(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A target failing before and after reloads (even redefined) is logged once."""
    down = Target("down", "redis://127.0.0.1:1", 1.0)
    redefined = Target("down", "redis://127.0.0.1:1", 0.5)  # a new timeout: a new slot
    configs = iter([_config(tmp_path, down), _config(tmp_path, redefined)])
    loads: list[Config] = []

    def load() -> Config:
        loads.append(next(configs))
        return loads[-1]

    daemon = _daemon(_config(tmp_path, down), load, FakeCollector(failing={"down"}))
    daemon.post(Event.RELOAD)

    def reloaded_twice() -> bool:
        if len(loads) == 1 and caplog.text.count("reloaded:") == 1:
            daemon.post(Event.RELOAD)
        return caplog.text.count("reloaded:") == 2

    assert _run_until(daemon, after=reloaded_twice) == 0
    assert sum("target down" in message for message in caplog.messages) == 1


@pytest.mark.usefixtures("restore_signals")
def test_exposure_warnings_are_logged_at_start_and_at_each_reload(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A configuration's warnings are logged once at start and once after each reload."""
    warning = "/etc/x.toml holds a password and every user may read it: chmod o-r /etc/x.toml"
    config = _config(tmp_path, warnings=(warning,))
    daemon = _daemon(config, lambda: config)
    daemon.post(Event.RELOAD)

    assert _run_until(daemon, after=lambda: "reloaded:" in caplog.text) == 0
    assert caplog.messages.count(warning) == 2


# --- rediscovery, with a stand-in discover function --------------------------------------------


class FakeDiscover:
    """A discover function that hands out the results a test gives it, one call per result."""

    def __init__(self) -> None:
        self.results: queue.SimpleQueue[list[Server]] = queue.SimpleQueue()
        self.calls = 0

    def __call__(self) -> list[Server]:
        """Wait for the test's next result; a call nobody answers blocks (a slow discovery)."""
        self.calls += 1
        return self.results.get()

    def answer(self, *servers: Server) -> None:
        """The servers the next (or a waiting) call finds."""
        self.results.put(list(servers))


class RecordingCollector(FakeCollector):
    """A FakeCollector that also keeps which targets each cycle started and which it retired."""

    def __init__(self) -> None:
        super().__init__()
        self.cycles: list[set[str]] = []
        self.retired: list[str] = []

    def start_cycle(self, on_done: Callable[[TargetReport], None]) -> list[str]:
        """Report every target at once, and remember them."""
        self.cycles.append({target.name for target in self.targets})
        return super().start_cycle(on_done)

    def reconfigure(self, config: Config, timeout: float) -> list[Target]:
        """Adopt the targets; remember the retired ones."""
        retired = super().reconfigure(config, timeout)
        self.retired += [target.name for target in retired]
        return retired

    def collecting(self, name: str) -> bool:
        """Whether the target is among the collector's current ones."""
        return name in {target.name for target in self.targets}


def _found(port: int, *, needs_credential: bool = False) -> Server:
    return Server(str(port), f"redis://127.0.0.1:{port}", "primary", ("title",), needs_credential)


def _discovering(
    tmp_path: Path, *, interval: float = 3600.0, every: float = 3600.0, **discovery: Any
) -> Config:
    """A configuration with discovery on; by default one cycle and one discovery at start."""
    config = _config(tmp_path)
    on = Discovery("discover = true", interval=every, timeout=1.0, **discovery)
    return dataclasses.replace(config, interval=interval, discovery=on)


def _run_steps(daemon: Daemon, steps: Callable[[], object]) -> None:
    """Run the daemon here while `steps` runs on a thread; STOP after them, even if they fail."""
    failures: list[BaseException] = []

    def script() -> None:
        try:
            steps()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test's own thread
            failures.append(exc)
        finally:
            daemon.post(Event.STOP)

    threading.Thread(target=script, daemon=True).start()
    assert daemon.run() == 0
    if failures:
        raise failures[0]


def _discovering_daemon(
    config: Config, discover: FakeDiscover, load: Callable[[], Config] | None = None
) -> tuple[Daemon, RecordingCollector]:
    collector = RecordingCollector()
    daemon = Daemon(
        config,
        load or (lambda: config),
        Notifier({}),
        collector=as_collector(collector),
        watcher=FakeWatcher(),
        discover=discover,
    )
    return daemon, collector


@pytest.mark.usefixtures("restore_signals")
def test_first_discovery_is_collected_at_once_and_leftovers_wait_for_it(tmp_path: Path) -> None:
    """At start the first discovery's servers are collected at once, not an interval later.

    A file of the last run is kept if its server is found again, removed if not.
    """
    config = _discovering(tmp_path)
    for name in ("6379", "6380"):
        (tmp_path / f"redis_{name}.prom").write_text(
            f"# textfile-redis owner={config.owner} target={name}\n"
        )
    discover = FakeDiscover()
    daemon, collector = _discovering_daemon(config, discover)

    def steps() -> None:
        wait_for(lambda: collector.cycles, message="no first cycle")
        assert (tmp_path / "redis_6380.prom").exists()  # not removed before discovery says
        discover.answer(_found(6379))
        wait_for(
            lambda: any("6379" in cycle for cycle in collector.cycles), message="not collected"
        )
        wait_for(lambda: not (tmp_path / "redis_6380.prom").exists(), message="leftover stayed")

    _run_steps(daemon, steps)
    assert collector.cycles[0] == set()  # the first cycle did not wait for discovery
    assert (tmp_path / "redis_6379.prom").exists() is False  # removed at stop, as ours


@pytest.mark.usefixtures("restore_signals")
def test_server_that_appears_is_collected_and_one_gone_twice_is_dropped(tmp_path: Path) -> None:
    """A new server becomes a target; one absent from two discoveries in a row loses it."""
    discover = FakeDiscover()
    daemon, collector = _discovering_daemon(
        _discovering(tmp_path, interval=0.02, every=0.02), discover
    )

    def steps() -> None:
        discover.answer()
        discover.answer(_found(6379))
        wait_for(lambda: collector.collecting("6379"), message="new server not collected")
        discover.answer()  # absent once: kept
        wait_for(lambda: discover.calls >= 4, message="no fourth discovery")
        assert collector.collecting("6379")
        discover.answer()  # absent twice: gone
        wait_for(lambda: not collector.collecting("6379"), message="gone server kept")

    _run_steps(daemon, steps)
    assert collector.retired == ["6379"]


@pytest.mark.usefixtures("restore_signals")
def test_server_missed_by_one_discovery_keeps_its_target(tmp_path: Path) -> None:
    """A restarting server, absent from one discovery, is never retired: its file stays."""
    discover = FakeDiscover()
    daemon, collector = _discovering_daemon(
        _discovering(tmp_path, interval=0.02, every=0.02), discover
    )

    def steps() -> None:
        discover.answer(_found(6379))
        wait_for(lambda: collector.collecting("6379"), message="server not collected")
        for found in ([], [_found(6379)], [], [_found(6379)]):
            discover.answer(*found)
        wait_for(lambda: discover.calls >= 6, message="discoveries stalled")

    _run_steps(daemon, steps)
    assert collector.retired == []
    assert collector.collecting("6379")


@pytest.mark.usefixtures("restore_signals")
def test_a_slow_discovery_never_delays_a_cycle(tmp_path: Path) -> None:
    """Cycles keep their schedule while a discovery hangs; its result is merged when it comes."""
    discover = FakeDiscover()
    daemon, collector = _discovering_daemon(
        _discovering(tmp_path, interval=0.02, every=0.02), discover
    )

    def steps() -> None:
        wait_for(lambda: discover.calls == 1, message="no discovery")
        cycles = len(collector.cycles)
        wait_for(lambda: len(collector.cycles) >= cycles + 10, message="cycles waited")
        assert discover.calls == 1  # one discovery at a time, however long it takes
        discover.answer(_found(6379))
        wait_for(lambda: collector.collecting("6379"), message="late result not merged")

    _run_steps(daemon, steps)


@pytest.mark.usefixtures("restore_signals")
def test_a_reload_keeps_discovered_targets_and_gives_them_a_new_credential(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A reload keeps what discovery found, discovers again, and a credential added is used."""
    without = _discovering(tmp_path)
    credential = Credential("6379", "monitor", Secret(CANARY))
    with_credential = _discovering(tmp_path, credentials=(credential,))
    discover = FakeDiscover()
    daemon, collector = _discovering_daemon(without, discover, lambda: with_credential)

    def steps() -> None:
        discover.answer(_found(6379, needs_credential=True))
        wait_for(lambda: collector.collecting("6379"), message="server not collected")
        (target,) = collector.targets
        assert (target.password, "needs a credential" in target.advice) == (None, True)
        daemon.post(Event.RELOAD)
        wait_for(lambda: discover.calls == 2, message="a reload did not discover again")
        (target,) = collector.targets
        assert (target.username, target.password, target.advice) == ("monitor", Secret(CANARY), "")
        discover.answer(_found(6379, needs_credential=True))

    _run_steps(daemon, steps)
    assert "reloaded: 1 target(s); added: none; removed: none" in caplog.messages


@pytest.mark.usefixtures("restore_signals")
def test_a_failed_discovery_keeps_the_servers_and_is_logged_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A discovery that raises removes nothing, and says so in one line until one works."""
    calls: list[None] = []

    def discover() -> list[Server]:
        calls.append(None)
        if len(calls) == 1:
            return [_found(6379)]
        raise OSError(CANARY[:0] + "no /proc")

    collector = RecordingCollector()
    daemon = Daemon(
        _discovering(tmp_path, interval=0.02, every=0.02),
        lambda: _config(tmp_path),
        Notifier({}),
        collector=as_collector(collector),
        watcher=FakeWatcher(),
        discover=discover,
    )

    _run_steps(daemon, lambda: wait_for(lambda: len(calls) >= 5, message="discoveries stalled"))
    assert collector.retired == []
    failed = [m for m in caplog.messages if m.startswith("discovery failed")]
    assert failed == ["discovery failed; the servers found before stay: OSError: no /proc"]


@pytest.mark.usefixtures("restore_signals")
def test_a_target_whose_settings_change_keeps_its_file_through_the_reload(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A reload that restarts a target (a new timeout, budget, ...) never removes its file."""
    before, after = Target("a", "redis://a:1", 1.0), Target("a", "redis://a:1", 2.0)
    daemon = _daemon(_config(tmp_path, before), lambda: _config(tmp_path, after))
    file = tmp_path / before.filename
    file.write_text("# textfile-redis owner=0123456789ab target=a\nredis_up 1\n")
    daemon.post(Event.RELOAD)
    present_after_reload: list[bool] = []

    def reloaded() -> bool:
        if "reloaded:" not in caplog.text:
            return False
        present_after_reload.append(file.exists())
        return True

    assert _run_until(daemon, after=reloaded) == 0
    assert present_after_reload == [True]
    assert daemon.config.targets == (after,)


# --- a stop with many targets, in a process of its own ---------------------------------------

MANY_TARGETS = 500
STOP_DEADLINE = 1.0  # seconds from SIGTERM to the exit: DESIGN.md's promise
SIGHUP_BIT = 1 << (signal.SIGHUP - 1)


def _catches_sighup(pid: int) -> bool:
    """Whether the daemon has installed its handlers (SIGHUP is caught only once it has)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigCgt:"):
            return int(line.split()[1], 16) & SIGHUP_BIT != 0
    return False


def _write_targets(config: Path, textfile_dir: Path, prefix: str, ports: list[int]) -> None:
    targets = [
        {"name": f"{prefix}{n}", "addr": f"redis://127.0.0.1:{p}"} for n, p in enumerate(ports)
    ]
    write_config(config, textfile_dir, targets, interval=1, timeout=0.5)


@pytest.mark.parametrize("moment", ["during the reload", "mid-cycle after it"])
def test_sigterm_with_500_targets_reloaded_exits_0_within_a_second(
    tmp_path: Path, moment: str
) -> None:
    """SIGTERM during or just after a reload to 500 targets exits 0 in time, leaving no file."""
    ports = free_ports(10 + MANY_TARGETS)
    textfile_dir, config = tmp_path / "textfile", tmp_path / "etc" / "config.toml"
    textfile_dir.mkdir()
    config.parent.mkdir()
    _write_targets(config, textfile_dir, "a", ports[:10])
    daemon = RunningDaemon(config, tmp_path / "daemon.log")
    try:
        wait_for(lambda: _catches_sighup(daemon.pid), message="handlers never installed")
        wait_for(lambda: len(list(textfile_dir.glob("*.prom"))) == 10, message="first files")
        _write_targets(config, textfile_dir, "b", ports[10:])
        daemon.send(signal.SIGHUP)
        if moment == "mid-cycle after it":
            wait_for(lambda: any(textfile_dir.glob("redis_b*.prom")), message="never reloaded")
        signalled = time.monotonic()
        daemon.send(signal.SIGTERM)
        assert daemon.wait(10) == 0, daemon.log()
        assert time.monotonic() - signalled < STOP_DEADLINE, daemon.log()
        assert list(textfile_dir.iterdir()) == [], daemon.log()
    finally:
        daemon.kill()


# A child that reads a "flood" into a growing buffer on one thread, then on another, and prints
# its resident memory (kB) before and after; argv[1] says whether the daemon's setting is made.
FLOODS_ON_TWO_THREADS = """
import io, sys, threading
from textfile_redis.daemon import map_large_buffers_apart
def rss():
    status = open("/proc/self/status").read().splitlines()
    return int(next(line for line in status if line.startswith("VmRSS:")).split()[1])
def flood():
    buffer = io.BytesIO()
    for _ in range(256):
        buffer.write(b"x" * 65536)
    del buffer
if sys.argv[1] == "set":
    map_large_buffers_apart()
flood()
before = rss()
for _ in range(2):
    thread = threading.Thread(target=flood)
    thread.start()
    thread.join()
print(before, rss())
"""


@pytest.mark.parametrize(("setting", "kept_mb"), [("set", (0, 4)), ("unset", (12, 1000))])
def test_floods_read_on_other_threads_are_given_back(
    setting: str, kept_mb: tuple[int, int]
) -> None:
    """With the daemon's allocator setting, 16 MiB buffers freed on workers leave no RSS behind.

    The unset case shows what the setting is for: glibc keeps such a buffer in the thread's arena.
    """
    child = subprocess.run(
        [sys.executable, "-c", FLOODS_ON_TWO_THREADS, setting],
        capture_output=True,
        text=True,
        check=True,
    )
    before, after = (int(kb) for kb in child.stdout.split())
    low, high = kept_mb
    assert low <= (after - before) / 1024 <= high


# A child whose six threads allocate at once, then count glibc's arenas (malloc_info's heaps);
# argv[1] says whether the daemon's setting is made.
ARENAS_OF_SIX_THREADS = """
import ctypes, os, re, sys, tempfile, threading
from textfile_redis.daemon import share_malloc_arenas
if sys.argv[1] == "set":
    share_malloc_arenas()
together = threading.Barrier(6)
def allocate():
    held = [bytes(100_000) for _ in range(20)]  # past pymalloc's 512 bytes: malloc's
    together.wait()
    del held
threads = [threading.Thread(target=allocate) for _ in range(6)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
libc = ctypes.CDLL(None)
libc.fopen.restype = ctypes.c_void_p
fd, path = tempfile.mkstemp()
os.close(fd)
stream = ctypes.c_void_p(libc.fopen(path.encode(), b"w"))
libc.malloc_info(0, stream)
libc.fclose(stream)
print(len(re.findall("<heap nr=", open(path).read())))
os.unlink(path)
"""


@pytest.mark.skipif(
    not hasattr(ctypes.CDLL(None), "malloc_info"), reason="glibc's malloc_info counts the arenas"
)
@pytest.mark.parametrize(("setting", "arenas"), [("set", range(1, 3)), ("unset", range(3, 65))])
def test_threads_allocating_at_once_share_two_malloc_arenas(setting: str, arenas: range) -> None:
    """With the daemon's allocator setting, what one thread frees another can reuse.

    The unset case shows what the setting is for: glibc gives each such thread an arena. The
    child gets none of glibc's own settings from our environment, which would make the same.
    """
    env = {k: v for k, v in os.environ.items() if k not in {"MALLOC_ARENA_MAX", "GLIBC_TUNABLES"}}
    child = subprocess.run(
        [sys.executable, "-c", ARENAS_OF_SIX_THREADS, setting],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    assert int(child.stdout) in arenas
