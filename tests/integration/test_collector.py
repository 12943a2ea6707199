"""The Collector's workers: a pool kept across cycles and reloads, none left behind."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import pytest

from tests.support.config import write_config
from tests.support.processes import free_port, wait_for
from textfile_redis.config import Overrides, load_config
from textfile_redis.cycle import Collector, pool_size

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from tests.support.servers import RedisServer


def _workers() -> dict[str, threading.Thread]:
    return {t.name: t for t in threading.enumerate() if t.name.startswith("scrape-")}


@pytest.mark.parametrize("server_kind", ["redis-7.0"], indirect=True)
def test_cycles_reuse_the_pools_workers_and_close_leaves_none(
    server_factory: Callable[..., RedisServer], textfile_dir: Path, tmp_path: Path
) -> None:
    """Cycles run on the same few workers; a reload shrinks the pool; close() ends every one."""
    server = server_factory()
    both = [
        {"name": "up", "addr": server.addr},
        {"name": "down", "addr": f"127.0.0.1:{free_port()}"},
    ]
    path = write_config(tmp_path / "c.toml", textfile_dir, both)
    collector = Collector(load_config(Overrides(config_path=path), {}))
    try:
        first = [collector.cycle() for _ in range(3)][-1]
        workers = _workers()
        assert len(workers) <= pool_size(2) + 1  # and the watcher
        assert {r.target.name: r.ok for r in first} == {"up": True, "down": False}
        assert {r.target.name: r.ok for r in collector.cycle()} == {"up": True, "down": False}
        assert all(thread.is_alive() for thread in workers.values())  # the very same threads

        write_config(path, textfile_dir, both[:1])
        retired = collector.reconfigure(load_config(Overrides(config_path=path), {}), timeout=1)
        assert [t.name for t in retired] == ["down"]
        assert [r.ok for r in collector.cycle()] == [True]
        wait_for(
            lambda: len(_workers()) <= pool_size(1) + 1,
            timeout=5,
            message="the pool kept a worker for the retired target",
        )
    finally:
        collector.close()
    wait_for(lambda: not _workers(), timeout=5, message="workers outlive close()")
