"""The run loop: its schedule, its heap upkeep, and its events with a stand-in collector."""

from __future__ import annotations

import gc
import logging
import signal
import threading
import weakref
from typing import TYPE_CHECKING

import pytest
from servers import wait_for

from textfile_redis.config import Config, ConfigError, Target
from textfile_redis.cycle import TargetReport
from textfile_redis.daemon import Daemon, Event, _next_tick, freeze_long_lived
from textfile_redis.notify import Notifier

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

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
        collector=collector,
        watcher=FakeWatcher(),  # type: ignore[arg-type]
    )


def _run_until(daemon: Daemon, *, after: Callable[[], bool]) -> int:
    """Run the daemon in this thread (signal handlers need it); post STOP once `after` holds."""
    stopper = threading.Thread(
        target=lambda: (wait_for(after, timeout=5), daemon.post(Event.STOP)), daemon=True
    )
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

    assert _run_until(daemon, after=lambda: loads) == 0
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
