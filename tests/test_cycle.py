"""The collector's worker pool and write gates, with jobs in place of servers."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import pytest

from tests.support.processes import wait_for
from textfile_redis.config import Config, Target
from textfile_redis.cycle import Collector, Heartbeat, WorkerPool, pool_size

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

QUICK = 5.0  # seconds: what "at once" may take on a loaded machine, far below a hung job's


def _pool_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name.startswith("scrape-") and t.is_alive()}


@pytest.fixture
def release() -> Iterator[threading.Event]:
    """An event that hung jobs wait on; set after the test so that none is left hanging."""
    event = threading.Event()
    yield event
    event.set()


def _hang(release: threading.Event, started: threading.Event) -> Callable[[], None]:
    def job() -> None:
        started.set()
        release.wait()

    return job


@pytest.mark.parametrize(("targets", "workers"), [(0, 1), (1, 1), (2, 2), (3, 2), (500, 2)])
def test_pool_size_is_one_worker_a_target_up_to_two(targets: int, workers: int) -> None:
    """One target gets one worker; more share two, one per CPU of the machines measured."""
    assert pool_size(targets) == workers


def test_many_quick_jobs_run_on_no_more_threads_than_the_pool_size() -> None:
    """Two hundred quick jobs are shared by the pool's two workers, not a thread each."""
    pool = WorkerPool(2, stall=60.0)
    ran: list[int] = []
    done = threading.Semaphore(0)

    def job() -> None:
        ran.append(threading.get_ident())
        done.release()

    try:
        for _ in range(200):
            pool.submit(job)
        for _ in range(200):
            assert done.acquire(timeout=QUICK)
        assert len(set(ran)) <= 2  # the pool's size
    finally:
        pool.close()


def test_a_hung_job_delays_the_jobs_behind_it_by_the_stall_at_most(
    release: threading.Event,
) -> None:
    """A job past the stall gets a stand-in worker: the one queued behind it runs meanwhile."""
    pool = WorkerPool(1, stall=0.05)
    hung, behind = threading.Event(), threading.Event()
    try:
        pool.submit(_hang(release, hung))
        assert hung.wait(QUICK)
        pool.submit(behind.set)
        assert behind.wait(QUICK)
        assert not release.is_set()  # the hung job still holds its worker
    finally:
        pool.close()


def _beating(heartbeat: Heartbeat, beats: int, release: threading.Event) -> Callable[[], None]:
    """A job that shows progress every 10 ms, as a scrape reading its reply does, `beats` times."""

    def job() -> None:
        for _ in range(beats):
            heartbeat()
            if release.wait(0.01):
                return

    return job


def test_a_job_that_shows_progress_keeps_its_worker(release: threading.Event) -> None:
    """A slow job whose heartbeat beats past the stall gets no stand-in: the next job waits."""
    pool = WorkerPool(1, stall=0.05, patience=60.0)
    ran: list[int] = []
    heartbeat, behind = Heartbeat(), threading.Event()

    def note_thread() -> None:
        ran.append(threading.get_ident())

    def after() -> None:
        ran.append(threading.get_ident())
        behind.set()

    try:
        pool.submit(note_thread)
        pool.submit(_beating(heartbeat, 30, release), heartbeat)  # 0.3 s: six stalls long
        pool.submit(after)
        assert behind.wait(QUICK)
        assert len(set(ran)) == 1
    finally:
        pool.close()


def test_a_job_past_its_patience_gets_a_stand_in_though_it_progresses(
    release: threading.Event,
) -> None:
    """A dripping server beats the heartbeat, yet past patience another worker steps in."""
    pool = WorkerPool(1, stall=0.05, patience=0.2)
    heartbeat, behind = Heartbeat(), threading.Event()
    try:
        pool.submit(_beating(heartbeat, 100_000, release), heartbeat)
        pool.submit(behind.set)
        assert behind.wait(QUICK)
        assert not release.is_set()
    finally:
        pool.close()


def test_stand_in_workers_leave_once_the_hung_jobs_end(release: threading.Event) -> None:
    """After three hung jobs end, the pool is back to its own workers (and its watcher)."""
    before = _pool_threads()
    pool = WorkerPool(1, stall=0.05)
    starts = [threading.Event() for _ in range(3)]
    try:
        for started in starts:
            pool.submit(_hang(release, started))
        for started in starts:
            assert started.wait(QUICK)  # each got a worker of its own while the others hung
        release.set()
        wait_for(
            lambda: len(_pool_threads() - before) <= 2,  # a worker, the watcher
            timeout=QUICK,
            message="stand-in workers outlive their jobs",
        )
    finally:
        pool.close()


def test_close_drops_the_jobs_not_started(release: threading.Event) -> None:
    """Jobs still queued when the pool closes never run; the running one ends as it will."""
    pool = WorkerPool(1, stall=60.0)
    hung, dropped = threading.Event(), threading.Event()
    pool.submit(_hang(release, hung))
    assert hung.wait(QUICK)
    pool.submit(dropped.set)
    pool.close()
    before = _pool_threads()
    release.set()
    wait_for(lambda: not (_pool_threads() & before), timeout=QUICK, message="workers outlive close")
    assert not dropped.is_set()


def test_a_failing_job_costs_that_job_not_the_worker() -> None:
    """A job that raises is logged; the worker goes on to the next job."""
    pool = WorkerPool(1, stall=60.0)
    after = threading.Event()

    def fail() -> None:
        raise RuntimeError

    try:
        pool.submit(fail)
        pool.submit(after.set)
        assert after.wait(QUICK)
    finally:
        pool.close()


def _collector(tmp_path: Path, count: int) -> Collector:
    """A collector of targets on a port nothing serves; no test here starts a cycle."""
    targets = tuple(
        Target(name=f"t{n}", addr="redis://127.0.0.1:1", timeout=1.0) for n in range(count)
    )
    config = Config(
        textfile_dir=tmp_path,
        interval=15.0,
        timeout=1.0,
        targets=targets,
        owner="0123456789ab",
        config_path=tmp_path / "config.toml",
    )
    return Collector(config)


def test_stop_shuts_every_gate_even_when_a_writer_outlasts_it(tmp_path: Path) -> None:
    """A writer stuck in one gate makes stop() say False, and still no other file can be written."""
    collector = _collector(tmp_path, 3)
    gates = [slot.gate for slot in collector._slots.values()]  # noqa: SLF001 - the gates under test
    try:
        with gates[0].enter() as allowed:
            assert allowed
            assert collector.stop(0.05) is False
            for gate in gates:
                with gate.enter() as later:
                    assert not later
    finally:
        collector.close()
