"""Biggest keys and busiest cluster slots against real servers: known data in, exact values out."""

from __future__ import annotations

import signal
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest

from tests.integration import test_million_keys as million
from tests.support.config import write_config
from tests.support.consumers import unaccepted_lints
from tests.support.daemon import RunningDaemon, run_cli
from tests.support.exposition import Exposition
from tests.support.hostile import Error, HostileServer, resp
from tests.support.hostile import recorded_replies as _recorded
from tests.support.processes import wait_for
from tests.support.servers import raw_command

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    import redis

    from tests.support.consumers import NodeExporter
    from tests.support.servers import RedisServer

TOP_N = 4
MEMORY = "redis_biggest_key_memory_bytes"
SLOT_KEYS = "redis_cluster_slot_keys"
SLOT_STATS_KINDS = ["valkey-8.1", "valkey-9.1", "redis-8.2"]  # CLUSTER SLOT-STATS's servers


def _once(workdir: Path, servers: list[RedisServer], **options: object) -> list[Exposition]:
    """Run `textfile-redis once` on these servers with these options; each file, parsed.

    Every file must also pass promtool's checks (but redis_exporter's own naming lints).
    """
    textfile_dir = workdir / "textfile"
    textfile_dir.mkdir(parents=True)
    targets = [{"name": f"n{i}", "addr": s.addr, **options} for i, s in enumerate(servers)]
    config = write_config(workdir / "config.toml", textfile_dir, targets)
    result = run_cli("once", "--config", str(config))
    assert result.returncode == 0, result.stderr
    assert "refused" not in result.stderr
    paths = [textfile_dir / f"redis_n{i}.prom" for i in range(len(servers))]
    assert [problem for path in paths for problem in unaccepted_lints(path)] == []
    return [Exposition.read(path) for path in paths]


def _write_big_keys(client: redis.Redis) -> dict[str, str]:
    """Five keys of distinct types and sizes among twenty small strings; their types by name."""
    pipe = client.pipeline(transaction=False)
    pipe.set("big:string", "s" * 60_000)
    pipe.rpush("big:list", *(f"item-{n:06}" for n in range(4000)))
    pipe.hset("big:hash", mapping={f"field-{n}": "v" * 40 for n in range(1500)})
    pipe.sadd("big:set", *(f"member-{n}" for n in range(900)))
    pipe.zadd("big:zset", {f"member-{n}": n for n in range(600)})
    for n in range(20):
        pipe.set(f"small:{n}", "x" * n)
    pipe.execute()
    return {
        "big:string": "string",
        "big:list": "list",
        "big:hash": "hash",
        "big:set": "set",
        "big:zset": "zset",
    }


def _own_usage(client: redis.Redis) -> dict[str, int]:
    """MEMORY USAGE SAMPLES 5 of every key, as the server itself answers it."""
    keys = [str(key) for key in client.scan_iter(count=1000)]
    return {key: int(raw_command(client, "MEMORY", "USAGE", key, "SAMPLES", "5")) for key in keys}  # type: ignore[call-overload]


def test_the_biggest_keys_are_the_servers_own_top_n_with_their_types(
    server_factory: Callable[..., RedisServer], tmp_path: Path
) -> None:
    """Exactly N keys per database, the server's own MEMORY USAGE figures, types and the rest."""
    server = server_factory()
    client = server.client(socket_timeout=30)
    types = _write_big_keys(client)
    server.client(db=2).set("lonely", "1")
    usage = _own_usage(client)
    ranked = sorted(usage.items(), key=lambda item: (-item[1], item[0]))
    assert len({memory for _, memory in ranked[: TOP_N + 1]}) == TOP_N + 1  # an order to test
    (found,) = _once(tmp_path, [server], export_biggest_keys=True, insight_top_n=TOP_N)
    written = found.find(MEMORY, db="db0")
    assert [(s.labels["key"], s.value) for s in written] == ranked[:TOP_N]
    assert all(s.labels["type"] == types[s.labels["key"]] for s in written)
    rest = sum(memory for _, memory in ranked[TOP_N:])
    assert found.value("redis_biggest_keys_other_memory_bytes", db="db0") == rest
    assert found.value("redis_biggest_keys_scanned_keys", db="db0") == len(usage)
    assert [s.labels["key"] for s in found.find(MEMORY, db="db2")] == ["lonely"]
    assert found.value("textfile_redis_scan_in_progress", kind="export_biggest_keys") is None


def test_the_same_n_across_cycles_when_nothing_changes(
    server_factory: Callable[..., RedisServer], tmp_path: Path
) -> None:
    """A running daemon republishes the same N keys, same order, cycle after cycle."""
    server = server_factory()
    _write_big_keys(server.client(socket_timeout=30))
    textfile_dir = tmp_path / "textfile"
    textfile_dir.mkdir()
    target = {"name": "t", "addr": server.addr}
    config = write_config(
        tmp_path / "config.toml",
        textfile_dir,
        [target],
        interval=1.0,
        timeout=0.9,
        export_biggest_keys=True,
        insight_top_n=TOP_N,
        scan_budget=0.5,
    )
    path = textfile_dir / "redis_t.prom"
    seen: list[tuple[int, list[tuple[str, float]]]] = []

    def three_cycles() -> bool:
        stat = path.stat() if path.exists() else None
        if stat is not None and (not seen or seen[-1][0] != stat.st_mtime_ns):
            keys = [(s.labels["key"], s.value) for s in Exposition.read(path).find(MEMORY)]
            seen.append((stat.st_mtime_ns, keys))
        return len(seen) >= 3

    daemon = RunningDaemon(config, tmp_path / "daemon.log")
    try:
        wait_for(three_cycles, timeout=30, interval=0.05, message="three cycles")
        daemon.send(signal.SIGTERM)
        assert daemon.wait(10) == 0
    finally:
        daemon.kill()
    tops = [keys for _, keys in seen]
    assert len(tops[0]) == TOP_N
    assert tops[1:] == [tops[0]] * (len(tops) - 1)


@pytest.mark.parametrize("server_kind", ["redis-6.2", "redis-8.2", "valkey-8.1"], indirect=True)
def test_a_replica_target_lists_the_primarys_biggest_keys_and_node_exporter_serves_them(
    server_factory: Callable[..., RedisServer],
    tmp_path: Path,
    node_exporter_factory: Callable[[Path], NodeExporter],
) -> None:
    """Pointed at a replica, the sweep finds the primary's biggest keys; node_exporter serves it."""
    primary = server_factory()
    types = _write_big_keys(primary.client(socket_timeout=30))
    replica = server_factory(replica_of=primary)
    client = replica.client(socket_timeout=30)
    wait_for(lambda: client.dbsize() == len(types) + 20, timeout=30, message="replica in sync")
    ranked = sorted(_own_usage(client).items(), key=lambda item: (-item[1], item[0]))
    (found,) = _once(tmp_path, [replica], export_biggest_keys=True, insight_top_n=TOP_N)
    written = found.find(MEMORY, db="db0")
    assert [(s.labels["key"], s.value) for s in written] == ranked[:TOP_N]
    assert {s.labels["key"] for s in written} <= set(types)
    served = node_exporter_factory(tmp_path / "textfile")
    text = served.metrics()
    assert "\nnode_textfile_scrape_error 0\n" in text
    assert f'{MEMORY}{{addr="' in text
    assert served.complaints() == []


@pytest.mark.parametrize("server_kind", ["valkey-9.1"], indirect=True)
def test_a_server_outside_cluster_mode_writes_no_slot_family_and_no_error(
    server_factory: Callable[..., RedisServer], tmp_path: Path
) -> None:
    """Slot stats are not asked of a standalone server: no family, no refusal, no error reply."""
    server = server_factory()
    (found,) = _once(tmp_path, [server], export_cluster_slot_stats=True)
    assert not [name for name in found.names() if name.startswith("redis_cluster_slot_")]
    assert server.client().info("errorstats") == {}


def _slots_owned_by(client: redis.Redis, first: int, last: int, count: int) -> list[str]:
    """`count` hash tags whose slots fall in [first, last], found with CLUSTER KEYSLOT."""
    tags: list[str] = []
    for n in range(10_000):
        slot = int(raw_command(client, "CLUSTER", "KEYSLOT", f"t{n}"))  # type: ignore[call-overload]
        if first <= slot <= last:
            tags.append(f"t{n}")
            if len(tags) == count:
                return tags
    raise AssertionError("no hash tags in that range")


@pytest.mark.parametrize("server_kind", SLOT_STATS_KINDS, indirect=True)
def test_slot_stats_name_the_busiest_slots_by_keys_cpu_and_network(
    cluster: list[RedisServer], tmp_path: Path
) -> None:
    """The node's top slots by keys (capped at N), and with tracking on, by CPU and bytes."""
    node = cluster[2]  # start_cluster gives the last node the slots 10923 to 16383
    client = node.client()
    client.flushall()
    tags = _slots_owned_by(client, 10923, 16383, 3)
    for tag, keys in zip(tags, (5, 4, 3), strict=True):
        client.mset({f"{{{tag}}}:{n}": n for n in range(keys)})
    slots = [str(raw_command(client, "CLUSTER", "KEYSLOT", tag)) for tag in tags]
    raw_command(client, "CONFIG", "SET", "cluster-slot-stats-enabled", "yes")
    try:
        for _ in range(3):
            client.get(f"{{{tags[2]}}}:0")  # 3 GETs: traffic in the slot with the fewest keys
        files = _once(tmp_path, cluster, export_cluster_slot_stats=True, insight_top_n=2)
        own = raw_command(client, "CLUSTER", "SLOT-STATS", "SLOTSRANGE", slots[2], slots[2])
    finally:
        raw_command(client, "CONFIG", "SET", "cluster-slot-stats-enabled", "no")
    found = files[2]
    assert found.by_label(SLOT_KEYS, "slot") == {slots[0]: 5, slots[1]: 4}
    fields = dict(zip(own[0][1][::2], own[0][1][1::2], strict=True))  # type: ignore[index]
    bytes_in = found.by_label("redis_cluster_slot_network_bytes_in_total", "slot")
    get_bytes = len(b"*2\r\n$3\r\nGET\r\n$") + len(f"{len(tags[2]) + 4}\r\n{{{tags[2]}}}:0\r\n")
    assert bytes_in == {slots[2]: 3 * get_bytes} == {slots[2]: fields["network-bytes-in"]}
    cpu = found.by_label("redis_cluster_slot_cpu_seconds_total", "slot")
    assert cpu == {slots[2]: fields["cpu-usec"] / 1e6}
    assert found.by_label("redis_cluster_slot_network_bytes_out_total", "slot") == {
        slots[2]: fields["network-bytes-out"]
    }
    for other in files[:2]:  # nodes without keys: no slot is busy, nothing to write
        assert other.find(SLOT_KEYS) == []


@dataclass(frozen=True, slots=True)
class Sweeping:
    """One option's sweep over many keys, as test_million_keys measures count_keys."""

    option: dict[str, object]
    done: str  # the family whose presence says a sweep completed
    kind: str  # textfile_redis_scan_in_progress's kind


# A batch's cost, what PING waits behind, does not grow with the keyspace; a fifth of the million
# keeps the sweep to ~20 s (the million took 100 s) with over a thousand PINGs during scans.
SWEPT_KEYS = 200_000
SWEEPS = {
    "count_keys": Sweeping({"count_keys": ["db0=key:*"]}, "redis_keys_count", "count_keys"),
    "export_biggest_keys": Sweeping({"export_biggest_keys": True}, MEMORY, "export_biggest_keys"),
}


@pytest.mark.timeout(900)
@pytest.mark.parametrize("server_kind", ["redis-7.0"], indirect=True)
# count_keys has its own test in test_million_keys.py; run both files together for the pair.
@pytest.mark.parametrize("sweep", ["export_biggest_keys"])
def test_many_keys_swept_keep_ping_latency_within_the_count_keys_bound(
    server_factory: Callable[..., RedisServer], tmp_path: Path, sweep: str
) -> None:
    """Biggest keys over 200k keys: each cycle within budget, PING p99 under count_keys' bound."""
    server = server_factory()
    client = server.client(socket_timeout=60)
    client.execute_command("DEBUG", "POPULATE", SWEPT_KEYS, "key", 10)  # type: ignore[no-untyped-call]
    textfile_dir = tmp_path / "textfile"
    textfile_dir.mkdir()
    config = write_config(
        tmp_path / "config.toml",
        textfile_dir,
        [{"name": "big", "addr": server.addr}],
        interval=million.INTERVAL,
        scan_budget=million.SCAN_BUDGET,
        check_keys_batch_size=million.BATCH,
        insight_top_n=TOP_N,
        **SWEEPS[sweep].option,
    )
    cycles = _Cycles(textfile_dir / "redis_big.prom", SWEEPS[sweep])
    pinger = million.Pinger(server.client(socket_timeout=5))
    daemon = RunningDaemon(config, tmp_path / "daemon.log")
    started = time.monotonic()
    try:
        pinger.start()
        wait_for(cycles.poll, timeout=million.SWEEP_DEADLINE * 5, interval=0.01, message="sweep")
        pinger.stopping.set()
        pinger.join(10)
        daemon.send(signal.SIGTERM)
        assert daemon.wait(10) == 0
    finally:
        pinger.stopping.set()
        daemon.kill()
    during = sorted(lat for moment, lat in pinger.pings if cycles.scanning(moment))
    print(  # noqa: T201 - the figures for bench/RESULTS.md
        f"\n{sweep} over {SWEPT_KEYS} keys: sweep complete in cycle {cycles.first_done + 1} "
        f"({time.monotonic() - started:.0f} s); scrape durations max "
        f"{max(d for _, d, _ in cycles.seen):.3f} s (budget {million.SCAN_BUDGET} s); "
        f"PING during scans {million._latencies(during)}"  # noqa: SLF001 - the same measure
    )
    assert all(d < million.SCAN_BUDGET + million.DURATION_SLACK for _, d, _ in cycles.seen)
    assert len(during) >= 300
    assert million._p99(during) < million.PING_P99_LIMIT  # noqa: SLF001 - the same measure


@dataclass
class _Cycles:
    """Each cycle's (write time, scrape duration, sweep complete) as the file is replaced."""

    path: Path
    sweep: Sweeping
    seen: list[tuple[float, float, bool]] = field(default_factory=list)
    _stamp: int = 0

    @property
    def first_done(self) -> int:
        """The first cycle that published a complete sweep."""
        return next(i for i, (_, _, done) in enumerate(self.seen) if done)

    def poll(self) -> bool:
        """Record a new cycle; True once a cycle after the first complete sweep was seen."""
        stat = self.path.stat() if self.path.exists() else None
        if stat is not None and stat.st_mtime_ns != self._stamp:
            self._stamp = stat.st_mtime_ns
            found = Exposition.read(self.path)
            duration = found.value("textfile_redis_scrape_duration_seconds") or 0.0
            self.seen.append((stat.st_mtime_ns / 1e9, duration, bool(found.find(self.sweep.done))))
        done = [i for i, (_, _, complete) in enumerate(self.seen) if complete]
        return bool(done) and len(self.seen) > done[0] + 1

    def scanning(self, moment: float) -> bool:
        """Whether some cycle's scrape was running at wall-clock `moment`."""
        return any(end - duration <= moment <= end for end, duration, _ in self.seen)


LONG_KEY = "k" * 5000


def hostile_info() -> str:
    """The recorded Redis 7.0 INFO the hostile server answers by default."""
    return str(_recorded()["info"])


def _hostile_memory(words: list[str]) -> bytes:
    """MEMORY USAGE answered with a list, text, an error, or a size that grows with the name."""
    odd = {"k1": resp(["1"]), "k2": resp("abc"), "k3": resp(Error("ERR nope"))}
    return odd.get(words[2], resp(len(words[2]) * 10))


def test_hostile_insight_replies_cost_their_entries_never_the_file(tmp_path: Path) -> None:
    """Odd MEMORY, TYPE and SLOT-STATS replies: N keys at most, labels bounded, redis_up 1."""
    info = hostile_info().replace("redis_version:7.0.15", "redis_version:8.2.3")
    junk: list[object] = ["x", [1], [99999, ["key-count", 5]], [7, ["key-count", "many"]]]
    slots = junk + [[slot, ["key-count", 100 - slot]] for slot in range(50)]
    script: dict[str, Any] = {
        "INFO": resp(info.replace("cluster_enabled:0", "cluster_enabled:1")),
        "SELECT": resp("OK"),
        "SCAN": resp(["0", [LONG_KEY, *(f"k{n}" for n in range(50))]]),
        "MEMORY": _hostile_memory,
        "TYPE": lambda words: resp("t" * 3000 if words[1] == "k10" else "string"),
        "CLUSTER SLOT-STATS": resp(slots),
        "CLUSTER INFO": resp(""),
    }
    with HostileServer(script) as server:
        textfile_dir = tmp_path / "textfile"
        textfile_dir.mkdir()
        options = {"export_biggest_keys": True, "export_cluster_slot_stats": True}
        target = {"name": "t", "addr": server.addr, "insight_top_n": 5, **options}
        config = write_config(tmp_path / "config.toml", textfile_dir, [target])
        result = run_cli("once", "--config", str(config))
    assert result.returncode == 0, result.stderr
    found = Exposition.read(textfile_dir / "redis_t.prom")
    assert found.value("redis_up") == 1
    db0 = found.find(MEMORY, db="db0")
    assert [len(s.labels["key"]) for s in db0] == [1024 + len("...(3976 more)"), 3, 3, 3, 3]
    assert db0[0].labels["type"] == "unknown"  # a name kept cut: its TYPE cannot be asked
    assert len(db0[1].labels["type"]) == 1024 + len("...(1976 more)")
    # LIMIT 5: the first five entries only, of which four are junk, skipped one by one.
    assert found.by_label(SLOT_KEYS, "slot") == {"0": 100}
