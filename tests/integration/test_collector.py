"""The Collector's workers: one thread per target for its whole life, none left behind."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import pytest

from tests.support.config import write_config
from tests.support.processes import free_port, wait_for
from textfile_redis.config import Overrides, load_config
from textfile_redis.cycle import Collector

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from tests.support.servers import RedisServer


def _workers() -> dict[str, threading.Thread]:
    return {t.name: t for t in threading.enumerate() if t.name.startswith("scrape-")}


@pytest.mark.parametrize("server_kind", ["redis-7.0"], indirect=True)
def test_each_target_keeps_one_worker_until_it_is_retired(
    server_factory: Callable[..., RedisServer], textfile_dir: Path, tmp_path: Path
) -> None:
    """Cycles reuse each target's worker; a reload retires a removed target's; close the rest."""
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
        assert sorted(workers) == ["scrape-down", "scrape-up"]
        assert {r.target.name: r.ok for r in first} == {"up": True, "down": False}
        assert {r.target.name: r.ok for r in collector.cycle()} == {"up": True, "down": False}
        assert _workers() == workers  # the very same threads

        write_config(path, textfile_dir, both[:1])
        retired = collector.reconfigure(load_config(Overrides(config_path=path), {}), timeout=1)
        assert [t.name for t in retired] == ["down"]
        wait_for(lambda: not workers["scrape-down"].is_alive(), timeout=5, message="worker lives")
        assert [r.ok for r in collector.cycle()] == [True]
        assert _workers() == {"scrape-up": workers["scrape-up"]}
    finally:
        collector.close()
    wait_for(lambda: not _workers(), timeout=5, message="workers outlive close()")
