"""redis_exporter's opt-in families against real servers: known data in, exact values out."""

from __future__ import annotations

import secrets
import socket
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest

from tests.support.config import write_config
from tests.support.consumers import unaccepted_lints
from tests.support.daemon import run_cli
from tests.support.exposition import Exposition
from tests.support.processes import wait_for

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    import redis

    from tests.support.servers import RedisServer

# What _write_keys leaves in db0 under k:* and as `single`: the size redis_key_size must show.
SIZES_DB0 = {
    "k:list": 3,  # LLEN
    "k:num": 2,  # STRLEN of "42"
    "k:str": 5,  # STRLEN of "hello"
    "k:set": 4,  # SCARD
    "k:zset": 5,  # ZCARD
    "k:hash": 6,  # HLEN
    "k:stream": 2,  # XLEN
    "k:hll": 3,  # PFCOUNT, not STRLEN
    "single": 3,  # STRLEN of "3.5"
}
STREAM_MS = 1_700_000_000_000  # the time part of the stream ids written below


@dataclass(frozen=True, slots=True)
class Once:
    """One `textfile-redis once` run: its file, parsed, and what it logged."""

    path: Path
    exposition: Exposition
    stderr: str


def _once(workdir: Path, server: RedisServer, **options: object) -> Once:
    """Run `textfile-redis once` on one target with these options; it must exit 0."""
    textfile_dir = workdir / "textfile"
    textfile_dir.mkdir(parents=True)
    target = {"name": "t", "addr": server.addr, **options}
    config = write_config(workdir / "config.toml", textfile_dir, [target])
    result = run_cli("once", "--config", str(config))
    assert result.returncode == 0, result.stderr
    path = textfile_dir / "redis_t.prom"
    return Once(path, Exposition.read(path), result.stderr)


def _write_keys(server: RedisServer) -> None:
    """Keys of every type under k:* in db0, `single` and `other:ignored` beside, k:one in db1."""
    pipe = server.client().pipeline(transaction=False)
    pipe.rpush("k:list", "a", "b", "c")
    pipe.set("k:num", "42")
    pipe.set("k:str", "hello")
    pipe.sadd("k:set", "a", "b", "c", "d")
    pipe.zadd("k:zset", {member: rank for rank, member in enumerate("abcde")})
    pipe.hset("k:hash", mapping={f"field{n}": n for n in range(6)})
    pipe.xadd("k:stream", {"n": 1}, id=f"{STREAM_MS}-0")
    pipe.xadd("k:stream", {"n": 2}, id=f"{STREAM_MS}-1")
    pipe.pfadd("k:hll", "x", "y", "z")
    pipe.set("single", "3.5")
    pipe.set("other:ignored", "1")
    pipe.execute()
    server.client(db=1).set("k:one", "7")


def _write_streams(client: redis.Redis) -> None:
    """s:events: 3 entries, group g1 (alice holds 2, bob 1), group g2 at the end; s:solo: 1."""
    for n in range(3):
        client.xadd("s:events", {"n": n}, id=f"{STREAM_MS + n}-0")
    client.xgroup_create("s:events", "g1", id="0")
    client.xgroup_create("s:events", "g2", id="$")
    client.xreadgroup("g1", "alice", {"s:events": ">"}, count=2)
    client.xreadgroup("g1", "bob", {"s:events": ">"}, count=1)
    client.xadd("s:solo", {"n": 0}, id=f"{STREAM_MS + 9}-0")


def _errors(client: redis.Redis) -> tuple[int, dict[str, int]]:
    """The server's total_error_replies and its errorstats counts."""
    total = int(client.info("stats")["total_error_replies"])
    stats = {name: int(fields["count"]) for name, fields in client.info("errorstats").items()}
    return total, stats


def _memory(client: redis.Redis, *keys: str) -> int:
    return sum(int(client.memory_usage(key) or 0) for key in keys)


def test_check_keys_reports_size_value_and_memory_of_each_type(
    server_factory: Callable[..., RedisServer], tmp_path: Path
) -> None:
    """check_keys and check_single_keys: sizes per type, numbers as values, HLL as a count."""
    server = server_factory()
    _write_keys(server)
    once = _once(
        tmp_path,
        server,
        check_keys=["db0=k:*", "db1=k:*"],
        check_single_keys=["db0=single", "db0=absent"],
    )
    found = once.exposition
    assert found.by_label("redis_key_size", "key", db="db0") == SIZES_DB0
    assert found.by_label("redis_key_size", "key", db="db1") == {"k:one": 1}
    values = {(s.labels["db"], s.labels["key"]): s.value for s in found.find("redis_key_value")}
    assert values == {("db0", "k:num"): 42, ("db0", "single"): 3.5, ("db1", "k:one"): 7}
    strings = [
        (s.labels["db"], s.labels["key"], s.labels["val"], s.value)
        for s in found.find("redis_key_value_as_string")
    ]
    assert strings == [("db0", "k:str", "hello", 1)]  # not the HyperLogLog's bytes
    memory = found.by_label("redis_key_memory_usage_bytes", "key", db="db0")
    client = server.client()
    assert memory == {key: _memory(client, key) for key in SIZES_DB0}
    assert all(usage > 0 for usage in memory.values())
    assert "other:ignored" not in found.text
    assert "absent" not in found.text


def test_count_keys_counts_every_match_exactly_across_many_scan_batches(
    server_factory: Callable[..., RedisServer], tmp_path: Path
) -> None:
    """count_keys: one exact redis_keys_count per pattern and db, 0 where nothing matches."""
    server = server_factory()
    db0, db1 = server.client(), server.client(db=1)
    db0.mset({f"c:{n}": n for n in range(250)} | {f"d:{n}": n for n in range(40)})
    db1.mset({f"c:{n}": n for n in range(30)})
    once = _once(
        tmp_path,
        server,
        count_keys=["db0=c:*", "db1=c:*", "db0=none:*"],
        check_keys_batch_size=7,  # about 40 SCAN round trips for db0
    )
    counts = {
        (s.labels["db"], s.labels["key"]): s.value for s in once.exposition.find("redis_keys_count")
    }
    assert counts == {("db0", "c:*"): 250, ("db1", "c:*"): 30, ("db0", "none:*"): 0}
    assert once.exposition.find("textfile_redis_scan_in_progress") == []


def _write_groups(client: redis.Redis, *, user_value: str = "u") -> None:
    """12 user:* keys, 5 session:* keys and 2 keys neither pattern matches."""
    client.mset({f"user:{n}": user_value for n in range(12)})
    client.mset({f"session:{n}": "s" for n in range(5)})
    client.mset({"misc-a": "1", "misc-b": "2"})


def test_key_groups_count_keys_and_memory_per_lua_pattern(
    server_factory: Callable[..., RedisServer], tmp_path: Path
) -> None:
    """check_key_groups: exact counts and memory per captured group, per db, unmatched apart."""
    server = server_factory()
    client = server.client()
    _write_groups(client)
    server.client(db=1).set("user:other-db", "x")
    once = _once(tmp_path, server, check_key_groups=["^(user):", "^(session):"])
    found = once.exposition
    counts = found.by_label("redis_key_group_count", "key_group", db="db0")
    assert counts == {"user": 12, "session": 5, "unclassified": 2}
    assert found.by_label("redis_key_group_memory_usage_bytes", "key_group", db="db0") == {
        "user": _memory(client, *(f"user:{n}" for n in range(12))),
        "session": _memory(client, *(f"session:{n}" for n in range(5))),
        "unclassified": _memory(client, "misc-a", "misc-b"),
    }
    assert found.by_label("redis_key_group_count", "key_group", db="db1") == {"user": 1}
    assert found.value("redis_number_of_distinct_key_groups", db="db0") == 3
    assert found.value("redis_number_of_distinct_key_groups", db="db1") == 1
    duration = found.value("redis_last_key_groups_scrape_duration_milliseconds")
    assert duration is not None
    assert 0 < duration < 5000


def test_key_groups_beyond_the_limit_are_summed_as_overflow(
    server_factory: Callable[..., RedisServer], tmp_path: Path
) -> None:
    """max_distinct_key_groups = 1: the biggest group by memory stays, the rest is "overflow"."""
    server = server_factory()
    client = server.client()
    _write_groups(client, user_value="u" * 1000)  # user:* is the biggest group by far
    once = _once(
        tmp_path, server, check_key_groups=["^(user):", "^(session):"], max_distinct_key_groups=1
    )
    found = once.exposition
    assert found.by_label("redis_key_group_count", "key_group", db="db0") == {
        "user": 12,
        "overflow": 5 + 2,
    }
    rest = [*(f"session:{n}" for n in range(5)), "misc-a", "misc-b"]
    memory = found.by_label("redis_key_group_memory_usage_bytes", "key_group", db="db0")
    assert memory["overflow"] == _memory(client, *rest)
    assert memory["user"] > memory["overflow"]
    assert found.value("redis_number_of_distinct_key_groups", db="db0") == 3


def test_streams_report_length_groups_consumers_and_pending(
    server_factory: Callable[..., RedisServer], tmp_path: Path
) -> None:
    """check_streams and check_single_streams: XINFO figures per stream, group and consumer."""
    server = server_factory()
    _write_streams(server.client())
    once = _once(tmp_path, server, check_streams=["db0=s:ev*"], check_single_streams=["db0=s:solo"])
    found = once.exposition
    events = {"db": "db0", "stream": "s:events"}
    assert found.by_label("redis_stream_length", "stream") == {"s:events": 3, "s:solo": 1}
    assert found.value("redis_stream_groups", **events) == 2
    assert found.value("redis_stream_last_generated_id", **events) == STREAM_MS + 2
    assert found.value("redis_stream_first_entry_id", **events) == STREAM_MS
    assert found.value("redis_stream_last_entry_id", **events) == STREAM_MS + 2
    assert found.by_label("redis_stream_group_consumers", "group", **events) == {"g1": 2, "g2": 0}
    assert found.by_label("redis_stream_group_messages_pending", "group", **events) == {
        "g1": 3,
        "g2": 0,
    }
    assert found.value("redis_stream_group_last_delivered_id", group="g1", **events) == (
        STREAM_MS + 2
    )
    assert found.by_label(
        "redis_stream_group_consumer_messages_pending", "consumer", group="g1", **events
    ) == {"alice": 2, "bob": 1}
    idle = found.by_label("redis_stream_group_consumer_idle_seconds", "consumer", **events)
    assert set(idle) == {"alice", "bob"}
    assert all(0 <= seconds < 60 for seconds in idle.values())
    if server.kind.version >= (7, 0):  # entries-added, entries-read and lag are 7.0's
        assert found.value("redis_stream_entries_added_total", **events) == 3
        assert found.value("redis_stream_group_lag", group="g1", **events) == 0
        assert found.value("redis_stream_group_lag", group="g2", **events) == 0
    assert found.value("redis_stream_length", db="db0", stream="s:solo") == 1
    assert found.value("redis_stream_groups", db="db0", stream="s:solo") == 0


@pytest.fixture
def subscriber(server_factory: Callable[..., RedisServer]) -> Iterator[RedisServer]:
    """A server with a client named optin-subscriber on 2 channels and 1 pattern."""
    server = server_factory()
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as connection:
        connection.sendall(
            b"CLIENT SETNAME optin-subscriber\r\nSUBSCRIBE news alerts\r\nPSUBSCRIBE logs.*\r\n"
        )
        admin = server.client()

        def subscribed() -> bool:
            return any(
                client["name"] == "optin-subscriber" and client["sub"] == "2"
                for client in admin.client_list()
                if client.get("psub") == "1"
            )

        wait_for(subscribed, message="the subscriber never showed in CLIENT LIST")
        yield server


@pytest.mark.parametrize("with_port", [False, True], ids=["without-port", "with-port"])
def test_client_list_shows_the_named_client_and_per_client_gauges(
    subscriber: RedisServer, tmp_path: Path, *, with_port: bool
) -> None:
    """export_client_list: our named client's id, host, db, port only on request, its gauges."""
    named = subscriber.client(db=2)
    named.client_setname("optin-tester")
    me = named.client_info()
    before = time.time()
    options: dict[str, object] = {"export_client_list": True}
    if with_port:
        options["export_client_port"] = True
    found = _once(tmp_path, subscriber, **options).exposition
    (info,) = found.find("redis_connected_client_info", name="optin-tester")
    host, _, port = str(me["addr"]).rpartition(":")
    expected = {"id": str(me["id"]), "host": host, "db": "2", "flags": "N", "user": "default"}
    assert {k: info.labels[k] for k in expected} == expected
    assert info.value == 1
    assert info.labels.get("port") == (port if with_port else None)
    assert all(("port" in s.labels) == with_port for s in found.find("redis_connected_client_info"))
    sub = {"name": "optin-subscriber"}
    assert found.value("redis_connected_client_channel_subscriptions_count", **sub) == 2
    assert found.value("redis_connected_client_pattern_matching_subscriptions_count", **sub) == 1
    tester = {"id": str(me["id"]), "name": "optin-tester"}
    assert found.value("redis_connected_client_channel_subscriptions_count", **tester) == 0
    memory = found.value("redis_connected_client_total_memory_consumed_bytes", **tester)
    assert memory is not None
    assert memory > 0
    created = found.value("redis_connected_client_created_at_timestamp", **tester)
    assert created is not None
    assert before - 60 <= created <= time.time() + 1


def test_lua_scripts_export_values_and_failures_without_breaking_the_file(
    server_factory: Callable[..., RedisServer], tmp_path: Path
) -> None:
    """lua_scripts: name/value pairs as redis_script_values; result 1 ok, 0 failed, 2 empty."""
    server = server_factory()
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    good, failing, empty = scripts / "depth.lua", scripts / "failing.lua", scripts / "empty.lua"
    good.write_text('return {"depth", "7", "width", "2.5"}\n')
    failing.write_text('return redis.error_reply("SCRIPTFAIL deliberately")\n')
    empty.write_text("return {}\n")
    once = _once(tmp_path, server, lua_scripts=[str(good), str(failing), str(empty)])
    found = once.exposition
    assert found.by_label("redis_script_values", "key", filename=str(good)) == {
        "depth": 7,
        "width": 2.5,
    }
    assert found.by_label("redis_script_result", "filename") == {
        str(good): 1,
        str(failing): 0,
        str(empty): 2,
    }
    assert found.find("redis_script_values", filename=str(failing)) == []
    # The failing script costs only its own values: the rest of the file is all there.
    assert found.value("redis_up") == 1
    assert found.value("textfile_redis_scrape_error") == 0
    assert found.value("redis_db_keys", db="db0") == 0
    assert found.find("textfile_redis_build_info") != []
    assert found.find("textfile_redis_command_refused") == []
    assert once.stderr.count("failing.lua failed") == 1


def test_config_metrics_show_settings_but_never_the_password(
    server_factory: Callable[..., RedisServer], tmp_path: Path
) -> None:
    """include_config_metrics: CONFIG GET as key/value series; requirepass and masterauth never."""
    password = f"pw-{secrets.token_hex(12)}"
    server = server_factory(password=password)
    server.client().config_set("maxmemory", 104857600)
    password_file = tmp_path / "password"
    password_file.write_text(f"{password}\n")
    once = _once(tmp_path, server, password_file=str(password_file), include_config_metrics=True)
    found = once.exposition
    assert found.value("redis_config_value", key="maxmemory") == 104857600
    assert found.value("redis_config_key_value", key="maxmemory", value="104857600") == 1
    assert found.value("redis_config_key_value", key="maxmemory-policy", value="noeviction") == 1
    assert found.value("redis_config_maxmemory") == 104857600
    keys = {sample.labels["key"] for sample in found.find("redis_config_key_value")}
    assert len(keys) > 100
    assert not keys & {"requirepass", "masterauth"}
    assert password not in once.path.read_bytes().decode()
    assert password not in once.stderr


def test_system_metrics_only_when_asked(
    server_factory: Callable[..., RedisServer], tmp_path: Path
) -> None:
    """include_system_metrics adds redis_total_system_memory_bytes, INFO's figure; else absent."""
    server = server_factory()
    expected = int(server.client().info("memory")["total_system_memory"])
    asked = _once(tmp_path / "asked", server, include_system_metrics=True).exposition
    assert asked.value("redis_total_system_memory_bytes") == expected
    assert expected > 0
    default = _once(tmp_path / "default", server).exposition
    assert "redis_total_system_memory_bytes" not in default.names()


def test_every_family_at_once_leaves_no_error_reply_and_passes_promtool(
    server_factory: Callable[..., RedisServer], tmp_path: Path
) -> None:
    """All families on: the server counts only the failing script's error; promtool lints ok."""
    server = server_factory()
    client = server.client()
    _write_keys(server)
    _write_streams(client)
    _write_groups(client)
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    (scripts / "good.lua").write_text('return {"depth", "7"}\n')
    (scripts / "failing.lua").write_text('return redis.error_reply("SCRIPTFAIL deliberately")\n')
    before = _errors(client)
    once = _once(
        tmp_path,
        server,
        check_keys=["db0=k:*", "db1=k:*"],
        check_single_keys=["db0=single", "db0=absent"],
        count_keys=["db0=k:*", "db0=none:*"],
        check_key_groups=["^(user):", "^(session):"],
        max_distinct_key_groups=2,
        check_streams=["db0=s:*"],
        check_single_streams=["db0=s:solo"],
        check_keys_batch_size=3,
        export_client_list=True,
        export_client_port=True,
        lua_scripts=[str(scripts / "good.lua"), str(scripts / "failing.lua")],
        include_config_metrics=True,
        include_system_metrics=True,
    )
    total, stats = _errors(client)
    assert total - before[0] == 1
    assert {k: v - before[1].get(k, 0) for k, v in stats.items() if v != before[1].get(k)} == {
        "errorstat_SCRIPTFAIL": 1
    }
    found = once.exposition
    for family in (
        "redis_key_size",
        "redis_keys_count",
        "redis_key_group_count",
        "redis_stream_length",
        "redis_connected_client_info",
        "redis_script_values",
        "redis_config_key_value",
        "redis_total_system_memory_bytes",
    ):
        assert found.find(family) != [], family
    assert unaccepted_lints(once.path) == []


@pytest.mark.parametrize(
    ("options", "streams"),
    [
        pytest.param(
            {"check_streams": ["db0=k:*"]},
            {"k:stream": 2},
            id="pattern-matching-other-types",
        ),
        pytest.param(
            {"check_single_streams": ["db0=no-such-stream"]},
            {},
            id="single-stream-absent",
        ),
    ],
)
def test_stream_options_send_xinfo_only_to_streams(
    server_factory: Callable[..., RedisServer],
    tmp_path: Path,
    options: dict[str, object],
    streams: dict[str, int],
) -> None:
    """Stream inspection never makes the server count an error reply, whatever the keys hold."""
    server = server_factory()
    client = server.client()
    _write_keys(server)
    before = _errors(client)
    found = _once(tmp_path, server, **options).exposition
    assert found.by_label("redis_stream_length", "stream") == streams
    assert _errors(client) == before
