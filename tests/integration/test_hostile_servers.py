"""Hostile servers on real sockets: each is cut off or contained, and every file is still right."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.support.config import write_config
from tests.support.consumers import unaccepted_lints
from tests.support.daemon import NotifySocket, RunningDaemon, clean_env
from tests.support.exposition import Exposition
from tests.support.hostile import (
    Close,
    Drip,
    Error,
    Flood,
    Hang,
    HostileServer,
    recorded_replies,
    resp,
)
from tests.support.processes import wait_for
from textfile_redis.config import Target
from textfile_redis.scrape import Scraper

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from tests.support.consumers import NodeExporter

TIMEOUT = 1.0  # each target's deadline in these tests
STARTUP_ALLOWANCE = 3.0  # the interpreter and imports, on a loaded two-core machine
PEAK_RSS_BOUND_MB = 250  # the import floor is ~35 MB and the byte cap 16 MiB
INFO = recorded_replies()["info"]


@dataclass(frozen=True, slots=True)
class Finished:
    """A one-shot command's end: exit status, stderr, wall time and peak memory."""

    returncode: int
    stderr: str
    seconds: float
    peak_rss_mb: float


def run_measured(*args: str, timeout: float = 30) -> Finished:
    """Run `python -m textfile_redis ARGS`, measuring its wall time and its peak RSS."""
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", "textfile_redis", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=clean_env(),
    )
    killer = threading.Timer(timeout, process.kill)
    killer.start()
    try:
        stderr = process.stderr.read().decode() if process.stderr else ""
        _, status, usage = os.wait4(process.pid, 0)
    finally:
        killer.cancel()
        process.returncode = 0  # reaped above; keeps Popen from waiting again
    seconds = time.monotonic() - started
    return Finished(os.waitstatus_to_exitcode(status), stderr, seconds, usage.ru_maxrss / 1024)


@pytest.fixture
def hostile() -> Iterator[Callable[..., HostileServer]]:
    """Yield a starter of hostile servers (HostileServer's script); stops them all."""
    started: list[HostileServer] = []

    def start(**script: object) -> HostileServer:
        server = HostileServer({key.replace("_", " "): value for key, value in script.items()})  # type: ignore[misc]
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def _config(tmp_path: Path, *servers: HostileServer, **top: object) -> tuple[Path, Path]:
    textfile_dir = tmp_path / "textfile"
    textfile_dir.mkdir(exist_ok=True)
    targets = [{"name": f"t{i}", "addr": s.addr} for i, s in enumerate(servers)]
    top = {"interval": 5, "timeout": TIMEOUT, **top}
    return write_config(tmp_path / "config.toml", textfile_dir, targets, **top), textfile_dir


def _once(tmp_path: Path, server: HostileServer, **top: object) -> tuple[Finished, Exposition]:
    config, textfile_dir = _config(tmp_path, server, **top)
    finished = run_measured("once", "--config", str(config))
    return finished, Exposition.read(textfile_dir / "redis_t0.prom")


@pytest.mark.parametrize("dripping", ["INFO", "CONFIG"])
@pytest.mark.parametrize("command", ["once", "check"])
def test_a_dripping_server_is_cut_off_at_the_timeout(
    hostile: Callable[..., HostileServer], tmp_path: Path, dripping: str, command: str
) -> None:
    """A reply sent a byte at a time ends the scrape at the target's timeout, not the reply's."""
    answer = Drip(resp(INFO if dripping == "INFO" else recorded_replies()["config"]), every=0.05)
    server = hostile(**{dripping: answer})
    config, textfile_dir = _config(tmp_path, server)
    argv = ["once", "--config", str(config)]
    if command == "check":
        argv = ["check", "--connect", "--config", str(config)]
    finished = run_measured(*argv)
    assert finished.returncode == 1, finished.stderr
    assert finished.seconds < TIMEOUT + STARTUP_ALLOWANCE
    if command == "once":
        assert "no complete reply within the timeout (1s)" in finished.stderr
        assert Exposition.read(textfile_dir / "redis_t0.prom").value("redis_up") == 0


FLOODS = {
    "bulk": Flood(b"$500000000\r\n", b"x" * 65536),
    "array": Flood(b"*100000000\r\n", b"$1\r\nx\r\n" * 9000),
    "nested": Flood(b"*100000000\r\n", b"*1\r\n:1\r\n" * 9000),
}


@pytest.mark.parametrize("flood", FLOODS.values(), ids=FLOODS.keys())
def test_a_flood_is_cut_off_at_max_scrape_bytes(
    hostile: Callable[..., HostileServer], tmp_path: Path, flood: Flood
) -> None:
    """A reply without end is abandoned at the byte cap: redis_up 0, and stderr names the cap."""
    finished, found = _once(tmp_path, hostile(INFO=flood), timeout=4, max_scrape_bytes=1 << 20)
    assert finished.returncode == 1, finished.stderr
    assert "more than max_scrape_bytes (1048576 bytes)" in finished.stderr
    assert found.value("redis_up") == 0
    assert finished.seconds < 4 + STARTUP_ALLOWANCE


@pytest.mark.parametrize("flood", FLOODS.values(), ids=FLOODS.keys())
def test_a_flood_under_the_default_cap_keeps_memory_bounded(
    hostile: Callable[..., HostileServer], tmp_path: Path, flood: Flood
) -> None:
    """Whichever comes first, the 16 MiB cap or the deadline, peak memory stays bounded."""
    finished, found = _once(tmp_path, hostile(INFO=flood), timeout=4)
    assert finished.returncode == 1, finished.stderr
    assert found.value("redis_up") == 0
    assert finished.peak_rss_mb < PEAK_RSS_BOUND_MB
    assert finished.seconds < 4 + STARTUP_ALLOWANCE


def test_max_scrape_bytes_is_the_operators_to_set(
    hostile: Callable[..., HostileServer], tmp_path: Path
) -> None:
    """A cap below what a well-behaved server sends fails its scrape and says which setting."""
    finished, found = _once(tmp_path, hostile(), max_scrape_bytes=4096)
    assert "more than max_scrape_bytes (4096 bytes)" in finished.stderr
    assert found.value("redis_up") == 0
    finished, found = _once(tmp_path, hostile(), max_scrape_bytes=1 << 20)
    assert finished.returncode == 0, finished.stderr
    assert found.value("redis_up") == 1


@pytest.mark.parametrize(
    ("answer", "said"),
    [
        (b"-\r\n", "INFO refused: an empty error reply"),
        (resp(Error("NOPERM no INFO for you")), "INFO refused: no INFO for you"),
        (resp(5), "INFO answered with int, not text"),
        (resp(None), "INFO answered with NoneType, not text"),
        (resp(["a", "b"]), "INFO answered with list, not text"),
    ],
    ids=["empty-error", "error", "integer", "nil", "array"],
)
def test_info_without_text_is_a_failed_scrape(
    hostile: Callable[..., HostileServer], tmp_path: Path, answer: bytes, said: str
) -> None:
    """Without INFO there is nothing to go on: redis_up 0, exit 1, and stderr says why."""
    finished, found = _once(tmp_path, hostile(INFO=answer))
    assert finished.returncode == 1
    assert said in finished.stderr
    assert ": ok" not in finished.stderr
    assert found.value("redis_up") == 0
    assert found.value("textfile_redis_scrape_error") == 1


@pytest.mark.parametrize("answer", [Close(), Hang()], ids=["close", "hang"])
def test_a_server_that_never_answers_gets_redis_up_0_in_time(
    hostile: Callable[..., HostileServer], tmp_path: Path, answer: object
) -> None:
    """Accepting and then closing, or never answering, costs one timeout and gives redis_up 0."""
    finished, found = _once(tmp_path, hostile(INFO=answer))
    assert finished.returncode == 1
    assert finished.seconds < TIMEOUT + STARTUP_ALLOWANCE
    assert found.value("redis_up") == 0


def test_run_keeps_the_other_files_fresh_and_the_watchdog_fed_beside_a_dripping_server(
    hostile: Callable[..., HostileServer], tmp_path: Path
) -> None:
    """A dripping server costs its own file redis_up 0; cycles complete and WATCHDOG=1 goes on."""
    dripping, healthy = hostile(INFO=Drip(resp(INFO), every=0.05)), hostile()
    config, textfile_dir = _config(tmp_path, dripping, healthy, interval=1, timeout=0.5)
    notify = NotifySocket()
    env = clean_env(NOTIFY_SOCKET=notify.address, WATCHDOG_USEC="3000000")
    daemon = RunningDaemon(config, tmp_path / "daemon.log", env=env)
    try:
        wait_for(lambda: notify.cycles >= 3, timeout=15, message="three complete cycles")
        watchdogs = sum("WATCHDOG=1" in message for message in notify.messages)
        assert any("READY=1" in message for message in notify.messages)
        assert watchdogs >= 2
        assert Exposition.read(textfile_dir / "redis_t0.prom").value("redis_up") == 0
        assert Exposition.read(textfile_dir / "redis_t1.prom").value("redis_up") == 1
        daemon.send(signal.SIGTERM)
        stopping = time.monotonic()
        assert daemon.wait(5) == 0
        assert time.monotonic() - stopping < 1.0
        assert sorted(p.name for p in textfile_dir.iterdir()) == []
    finally:
        daemon.kill()
        notify.close()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_once_interrupted_mid_cycle_exits_130_and_leaves_no_temp_file(
    hostile: Callable[..., HostileServer], tmp_path: Path, signum: int
) -> None:
    """Interrupted at any moment, `once` exits 130 and leaves no temp file behind."""
    config, textfile_dir = _config(tmp_path, hostile(INFO=Hang()), *[hostile() for _ in range(3)])
    for attempt in range(8):
        process = subprocess.Popen(
            [sys.executable, "-m", "textfile_redis", "once", "--config", str(config)],
            stderr=subprocess.PIPE,
            env=clean_env(),
        )
        time.sleep(random.uniform(0.2, 0.5))  # noqa: S311 - a moment, not a secret; the point of the test
        process.send_signal(signum)
        _, stderr = process.communicate(timeout=10)
        assert process.returncode == 130, (attempt, stderr.decode())
        assert [p.name for p in textfile_dir.iterdir() if not p.name.endswith(".prom")] == []
        assert b"Traceback" not in stderr


def test_a_doubled_info_gives_every_series_once(
    hostile: Callable[..., HostileServer],
    node_exporter_factory: Callable[[Path], NodeExporter],
    tmp_path: Path,
) -> None:
    """INFO with every section twice gives one series each; node_exporter serves the file."""
    finished, found = _once(tmp_path, hostile(INFO=resp(INFO + "\r\n" + INFO)))
    assert finished.returncode == 0, finished.stderr
    assert found.duplicates() == []
    assert found.value("redis_up") == 1
    path = tmp_path / "textfile" / "redis_t0.prom"
    assert unaccepted_lints(path) == []
    served = Exposition.parse(node_exporter_factory(path.parent).metrics())
    assert served.value("node_textfile_scrape_error") == 0


MALFORMED = {
    "latency_histogram": ("LATENCY HISTOGRAM", resp(["get", ["calls", "x", "histogram_usec", 5]])),
    "config": ("CONFIG GET", resp(["databases", "inf", "maxmemory", "nan"])),
    "slowlog_get": ("SLOWLOG GET", resp([[None, "x", ["y"]]])),
    "latency_latest": ("LATENCY LATEST", resp([["command", "x", None, 5]])),
}


@pytest.mark.parametrize(("command", "answer"), MALFORMED.values(), ids=MALFORMED.keys())
def test_a_reply_of_the_wrong_shape_loses_its_family_not_the_file(
    hostile: Callable[..., HostileServer], tmp_path: Path, command: str, answer: bytes
) -> None:
    """A malformed reply costs at most its own families; the file is whole and valid."""
    finished, found = _once(tmp_path, hostile(**{command: answer}))
    assert finished.returncode == 0, finished.stderr
    assert "Traceback" not in finished.stderr
    assert found.value("redis_up") == 1
    assert found.value("redis_connected_clients") is not None
    assert found.duplicates() == []
    assert unaccepted_lints(tmp_path / "textfile" / "redis_t0.prom") == []


def test_a_million_line_info_is_bounded_in_time_and_memory(
    hostile: Callable[..., HostileServer], tmp_path: Path
) -> None:
    """A million INFO lines cost neither seconds of CPU nor hundreds of MB: the file comes."""
    lines = "".join(f"field_{i}:{i}\r\n" for i in range(1_000_000))
    finished, found = _once(tmp_path, hostile(INFO=resp(INFO + lines)), timeout=4)
    assert found.value("redis_up") is not None
    assert finished.peak_rss_mb < PEAK_RSS_BOUND_MB
    assert finished.seconds < 4 + STARTUP_ALLOWANCE


def _rss_mb(pid: int) -> float:
    """The process's resident memory now, from /proc."""
    status = Path(f"/proc/{pid}/status").read_text()
    return (
        int(next(line for line in status.splitlines() if line.startswith("VmRSS:")).split()[1])
        / 1024
    )


def test_run_gives_memory_back_after_a_flood_and_keeps_the_other_file_fresh(
    hostile: Callable[..., HostileServer], tmp_path: Path
) -> None:
    """Cycle after cycle of 16 MiB floods, run's memory stays bounded and the neighbour fresh."""
    flooding = hostile(INFO=Flood(b"$500000000\r\n", b"x" * 65536))
    healthy = hostile()
    config, textfile_dir = _config(tmp_path, flooding, healthy, interval=1, timeout=0.8)
    notify = NotifySocket()
    daemon = RunningDaemon(
        config, tmp_path / "daemon.log", env=clean_env(NOTIFY_SOCKET=notify.address)
    )
    try:
        wait_for(lambda: notify.cycles >= 2, timeout=15, message="two complete cycles")
        settled = _rss_mb(daemon.pid)
        wait_for(lambda: notify.cycles >= 6, timeout=15, message="four more cycles")
        assert _rss_mb(daemon.pid) < settled + 20
        assert _rss_mb(daemon.pid) < PEAK_RSS_BOUND_MB
        assert flooding.connections >= 3  # tried again after 1 s and 2 s of backoff, cut off again
        assert Exposition.read(textfile_dir / "redis_t0.prom").value("redis_up") == 0
        assert Exposition.read(textfile_dir / "redis_t1.prom").value("redis_up") == 1
        daemon.send(signal.SIGTERM)
        assert daemon.wait(5) == 0
    finally:
        daemon.kill()
        notify.close()


INSPECTION_REPLIES = {
    "group-of-two": ("EVAL", resp(["0", [["g", "1"]]]), {"check_key_groups": ["^(.*)$"]}),
    "group-count-a-list": (
        "EVAL",
        resp(["0", [["g", ["1"], "2"]]]),
        {"check_key_groups": ["^(.*)$"]},
    ),
    "cursor-not-a-number": ("SCAN", resp(["abc", ["k"]]), {"count_keys": ["db0=k*"]}),
    "type-a-list": ("TYPE", resp(["string"]), {"check_keys": ["db0=k*"]}),
}


@pytest.mark.parametrize(
    ("command", "answer", "options"), INSPECTION_REPLIES.values(), ids=INSPECTION_REPLIES.keys()
)
def test_a_malformed_key_inspection_reply_costs_the_key_families_not_the_target(
    hostile: Callable[..., HostileServer],
    tmp_path: Path,
    command: str,
    answer: bytes,
    options: dict[str, object],
) -> None:
    """Inspection replies of the wrong shape leave the file whole, redis_up 1, no traceback."""
    finished, found = _once(tmp_path, hostile(**{command: answer}), **options)
    assert finished.returncode == 0, finished.stderr
    assert "Traceback" not in finished.stderr
    assert found.value("redis_up") == 1
    assert found.value("redis_connected_clients") is not None


def test_a_reconnect_learns_the_server_again(hostile: Callable[..., HostileServer]) -> None:
    """After a reconnect the server is asked what it is first: a sentinel now gets no CONFIG."""
    server = hostile()
    scraper = Scraper(Target("t", server.addr, TIMEOUT))
    assert scraper.scrape().error is None
    sentinel_info = INFO.replace("redis_mode:standalone", "redis_mode:sentinel")
    server.script["INFO"] = resp(sentinel_info)
    scraper.close()  # as a failure would, when the server behind the address restarts
    asked_before = len(server.commands)
    scraper.scrape()
    scraper.close()
    asked_after = [words[0].upper() for words in server.commands[asked_before:]]
    assert asked_after[0] == "INFO"
    assert "CONFIG" not in asked_after
    assert "SLOWLOG" not in asked_after
