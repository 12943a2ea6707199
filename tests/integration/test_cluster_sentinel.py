"""A real three-primary cluster and a real sentinel, scraped by `textfile-redis once`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tests.support.cluster import CLUSTER_SLOTS, SENTINEL_DOWN_AFTER_MS, slot_ranges
from tests.support.config import write_config
from tests.support.consumers import unaccepted_lints
from tests.support.daemon import run_cli
from tests.support.exposition import Exposition
from tests.support.processes import wait_for

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    import redis

    from tests.support.cluster import Sentinel
    from tests.support.consumers import NodeExporter
    from tests.support.servers import RedisServer

ITEMS = 60  # keys written across the cluster, each to the node owning its slot


def _once(tmp_path: Path, servers: list[RedisServer], **options: object) -> list[Exposition]:
    """Run `textfile-redis once` on every server (target n<i>); return each file, parsed."""
    textfile_dir = tmp_path / "textfile"
    textfile_dir.mkdir()
    targets = [{"name": f"n{i}", "addr": s.addr, **options} for i, s in enumerate(servers)]
    config = write_config(tmp_path / "config.toml", textfile_dir, targets)
    result = run_cli("once", "--config", str(config))
    assert result.returncode == 0, result.stderr
    paths = [textfile_dir / f"redis_n{i}.prom" for i in range(len(servers))]
    for path in paths:
        assert unaccepted_lints(path) == [], path.name
    return [Exposition.read(path) for path in paths]


def _error_replies(client: redis.Redis) -> int:
    return int(client.info("stats")["total_error_replies"])


def _one_value(found: Exposition, name: str) -> float:
    """The value of `name`, even if the series is (wrongly) written twice: one value only."""
    values = {sample.value for sample in found.find(name)}
    assert len(values) == 1, (name, values)
    return values.pop()


def test_cluster_nodes_report_cluster_state_and_only_db0(
    cluster: list[RedisServer], tmp_path: Path
) -> None:
    """Each node: state ok, all slots, 3 known nodes, size 3, its own epoch, db0 and no db1..15."""
    clients = [node.client() for node in cluster]
    before = [_error_replies(client) for client in clients]
    files = _once(tmp_path, cluster)
    for found in files:
        assert _one_value(found, "redis_cluster_enabled") == 1
        assert _one_value(found, "redis_cluster_state") == 1
        assert _one_value(found, "redis_cluster_slots_assigned") == CLUSTER_SLOTS
        assert _one_value(found, "redis_cluster_slots_ok") == CLUSTER_SLOTS
        assert _one_value(found, "redis_cluster_known_nodes") == 3
        assert _one_value(found, "redis_cluster_size") == 3
        assert {s.labels["db"] for s in found.find("redis_db_keys")} == {"db0"}
        assert found.find("textfile_redis_command_refused") == []
    # start_cluster gave node i config epoch i + 1, as redis-cli --cluster create does.
    assert [_one_value(found, "redis_cluster_my_epoch") for found in files] == [1, 2, 3]
    assert [_error_replies(client) for client in clients] == before


def test_cluster_node_files_hold_each_series_once_for_node_exporter(
    cluster: list[RedisServer],
    node_exporter_factory: Callable[[Path], NodeExporter],
    tmp_path: Path,
) -> None:
    """No series is written twice, so node_exporter serves every cluster_* series without error."""
    files = _once(tmp_path, cluster)
    exporter = node_exporter_factory(tmp_path / "textfile")
    served = Exposition.parse(exporter.metrics())
    assert served.value("node_textfile_scrape_error") == 0
    for node in cluster:
        assert served.value("redis_cluster_state", addr=node.addr) == 1
    assert [found.duplicates() for found in files] == [[], [], []]
    assert exporter.complaints() == []


def _owner(slot: int, primaries: int) -> int:
    """The index of the node whose slot range (from start_cluster) holds `slot`."""
    return next(
        i for i, (first, last) in enumerate(slot_ranges(primaries)) if first <= slot <= last
    )


def test_key_inspection_on_a_cluster_node_sees_only_its_own_slots(
    cluster: list[RedisServer], tmp_path: Path
) -> None:
    """count_keys, check_keys and key groups on each node see exactly the keys its slots hold."""
    clients = [node.client() for node in cluster]
    owned: list[set[str]] = [set() for _ in cluster]
    for n in range(ITEMS):
        key = f"item:{n}"
        slot = int(clients[0].execute_command("CLUSTER", "KEYSLOT", key))  # type: ignore[no-untyped-call]
        owner = _owner(slot, len(cluster))
        clients[owner].set(key, str(n))  # a node refuses (MOVED) a key of another node's slot
        owned[owner].add(key)
    assert all(owned), owned  # 60 keys over 3 nodes: each has some
    before = [_error_replies(client) for client in clients]
    files = _once(
        tmp_path,
        cluster,
        count_keys=["db0=item:*"],
        check_keys=["db0=item:*"],
        check_key_groups=["^(item):"],
    )
    for keys, found in zip(owned, files, strict=True):
        assert found.value("redis_keys_count", db="db0", key="item:*") == len(keys)
        assert found.by_label("redis_key_group_count", "key_group", db="db0") == {"item": len(keys)}
        assert set(found.by_label("redis_key_size", "key", db="db0")) == keys
        assert found.find("textfile_redis_scan_in_progress") == []
    assert sum(found.value("redis_keys_count", key="item:*") or 0 for found in files) == ITEMS
    assert [_error_replies(client) for client in clients] == before


def _watching(sentinel: Sentinel) -> bool:
    """The sentinel calls its master ok and knows the replica, connected."""
    client = sentinel.client()
    master = client.info("sentinel").get("master0")
    replicas = client.execute_command("SENTINEL", "REPLICAS", sentinel.master_name)  # type: ignore[no-untyped-call]
    flags = [dict(zip(r[::2], r[1::2], strict=True))["flags"] for r in replicas]
    return (
        isinstance(master, dict)
        and master.get("status") == "ok"
        and master.get("slaves") == 1
        and flags == ["slave"]
    )


def test_sentinel_reports_its_master_replica_and_quorum(
    server_factory: Callable[..., RedisServer],
    sentinel_factory: Callable[..., Sentinel],
    tmp_path: Path,
) -> None:
    """A sentinel target: master status, replicas, sentinels, settings, quorum; no db series."""
    primary = server_factory()
    server_factory(replica_of=primary)
    sentinel = sentinel_factory(primary)
    wait_for(lambda: _watching(sentinel), timeout=15, message="the sentinel never saw the replica")
    client = sentinel.client()
    before = (_error_replies(client), client.info("errorstats"))
    (found,) = _once(tmp_path, [sentinel], export_client_list=True, include_config_metrics=True)
    master = {"master_name": "mymaster", "master_address": f"127.0.0.1:{primary.port}"}
    assert found.value("redis_up") == 1
    assert found.value("redis_sentinel_masters") == 1
    assert found.value("redis_sentinel_master_status", **master, master_status="ok") == 1
    assert found.value("redis_sentinel_master_slaves", **master) == 1
    assert found.value("redis_sentinel_master_ok_slaves", **master) == 1
    assert found.value("redis_sentinel_master_sentinels", **master) == 1
    assert found.value("redis_sentinel_master_ok_sentinels", **master) == 1
    assert found.value("redis_sentinel_master_setting_ckquorum", **master) == 1
    assert (
        found.value("redis_sentinel_master_setting_down_after_milliseconds", **master)
        == SENTINEL_DOWN_AFTER_MS
    )
    (quorum,) = found.find("redis_sentinel_master_ckquorum_status", master_name="mymaster")
    assert quorum.value == 1
    assert quorum.labels["message"].startswith("OK 1 usable Sentinels")
    assert found.find("redis_db_keys") == []
    assert found.find("redis_db_keys_expiring") == []
    assert found.find("textfile_redis_command_refused") == []
    assert found.find("redis_connected_client_info") != []
    assert (_error_replies(client), client.info("errorstats")) == before
