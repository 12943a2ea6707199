"""Biggest keys and busiest slots: the top-N sweep, its commands, options and translation."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.support.exposition import Exposition
from tests.support.hostile import Error, HostileServer, resp
from textfile_redis import catalog
from textfile_redis.commands import SLOT_STATS, ServerFeatures, cycle_commands
from textfile_redis.config import Options, Target
from textfile_redis.config.fields import Where
from textfile_redis.config.options import parse_options
from textfile_redis.keyscan import (
    MAX_SWEPT_DATABASES,
    KeyInspector,
    Refused,
    TopSweep,
    databases_with_keys,
)
from textfile_redis.scrape import Scraper, _tracks_slot_traffic
from textfile_redis.translate import Families
from textfile_redis.translate.bigkeys import (
    MAX_KEY_LABEL,
    biggest_keys_metrics,
    bounded_label,
    slot_stats_metrics,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from textfile_redis.keyscan import Command

INFO_TWO_DBS = "# Keyspace\r\ndb0:keys=5,expires=0\r\ndb3:keys=2,expires=0\r\n"


class Keyspace:
    """A scripted server for the sweep's commands: keys by database, SCAN in fixed pages.

    Only the commands a biggest-keys sweep sends are answered; it counts them, by name.
    """

    def __init__(self, dbs: dict[int, dict[str, tuple[str, int]]], page: int = 2) -> None:
        self.dbs = dbs
        self.page = page
        self.db = 0
        self.sent: list[Command] = []

    def __call__(self, commands: Sequence[Command]) -> list[Any]:
        """One round trip: each command's reply in order."""
        self.sent += commands
        return [self._reply(command) for command in commands]

    def _reply(self, command: Command) -> object:
        name, *args = command
        keys = self.dbs.get(self.db, {})
        if name == "SELECT":
            self.db = int(args[0])
            return "OK"
        if name == "SCAN":
            names, start = sorted(keys), int(args[0])
            end = start + self.page
            return [str(end if end < len(names) else 0), names[start:end]]
        if name == "MEMORY":
            found = keys.get(str(args[1]))
            return None if found is None else found[1]
        if name == "TYPE":
            return keys.get(str(args[0]), ("none", 0))[0]
        return Refused(f"unknown command {name}")

    def count(self, name: str) -> int:
        """How many commands of this name went."""
        return sum(1 for command in self.sent if command[0] == name)


class Clock:
    """A clock that advances a fixed step on every reading."""

    def __init__(self, step: float) -> None:
        self.now = 0.0
        self.step = step

    def __call__(self) -> float:
        """The next reading."""
        self.now += self.step
        return self.now


def _db0(count: int) -> dict[str, tuple[str, int]]:
    """Keys k00.. with sizes 100, 200, ... and alternating types."""
    return {f"k{n:02}": ("hash" if n % 2 else "string", 100 * (n + 1)) for n in range(count)}


def _inspector(top_n: int = 3, budget: float = 100.0, step: float = 0.001) -> KeyInspector:
    options = Options(export_biggest_keys=True, insight_top_n=top_n, scan_budget=budget)
    return KeyInspector(options, Clock(step))


def _keys(result: dict[str, Any], db: int = 0) -> list[tuple[str, str, int]]:
    database = next(d for d in result["biggest_keys"] if d["db"] == db)
    return [(e["key"], e["type"], e["memory"]) for e in database["keys"]]


def test_top_sweep_keeps_the_n_biggest_ties_by_name() -> None:
    """Across batches only N keys are held; of equal size the first by name wins, biggest first."""
    sweep = TopSweep(0, 2)
    assert sweep.take(5, {"b": 10, "a": 10, "c": 1}, 1.0) is None
    assert sweep.partial == {"a": 10, "b": 10}
    result = sweep.take(0, {"d": 50}, 3.0) or {}
    assert [e["key"] for e in result["keys"]] == ["d", "a"]
    assert (result["scanned"], result["memory"]) == (4, 71)


def test_a_complete_sweep_publishes_the_top_n_with_types_per_database() -> None:
    """Every database holding keys is swept; the N biggest come with TYPE, biggest first."""
    space = Keyspace({0: _db0(5), 3: {"x": ("zset", 7), "y": ("list", 9)}})
    result = _inspector().inspect(space, INFO_TWO_DBS)
    assert _keys(result) == [("k04", "string", 500), ("k03", "hash", 400), ("k02", "string", 300)]
    assert _keys(result, 3) == [("y", "list", 9), ("x", "zset", 7)]
    assert space.count("MEMORY") == 7
    assert space.count("TYPE") == 5  # the top keys only, not every key measured
    assert ("MEMORY", "USAGE", "k00", "SAMPLES", 5) in space.sent
    assert result["scans_in_progress"] == []


def test_a_sweep_in_progress_keeps_the_last_complete_result() -> None:
    """Cut short by its budget, a sweep publishes nothing new until its cursor comes back to 0."""
    space = Keyspace({0: _db0(6)}, page=2)
    inspector = _inspector(top_n=2, budget=0.0)  # no budget: the one batch that always goes
    results = [inspector.inspect(space, "db0:keys=6") for _ in range(3)]
    assert [r["biggest_keys"] == [] for r in results] == [True, True, False]
    assert results[0]["scans_in_progress"] == [
        {"kind": "export_biggest_keys", "db": 0, "pattern": ""}
    ]
    assert _keys(results[2]) == [("k05", "hash", 600), ("k04", "string", 500)]
    space.dbs[0]["k00"] = ("set", 10_000)  # seen once the next sweep completes, not before
    after = [_keys(inspector.inspect(space, "db0:keys=6")) for _ in range(3)]
    assert after[:2] == [_keys(results[2])] * 2
    assert after[2] == [("k00", "set", 10_000), ("k05", "hash", 600)]


def test_the_same_n_across_cycles_when_nothing_changes() -> None:
    """Two complete sweeps of an unchanged keyspace publish the same keys in the same order."""
    space = Keyspace({0: _db0(25)}, page=4)
    inspector = _inspector(top_n=10)
    first = _keys(inspector.inspect(space, "db0:keys=25"))
    second = _keys(inspector.inspect(space, "db0:keys=25"))
    assert first == second
    assert len(first) == 10


class Vanishing(Keyspace):
    """A keyspace where an ACL keeps `a` from the user and `b` is deleted before its TYPE."""

    def _reply(self, command: Command) -> object:
        if command[:3] == ("MEMORY", "USAGE", "a"):
            return Refused("No permissions to access a key")
        if command == ("TYPE", "b"):
            return "none"
        return super()._reply(command)


def test_keys_gone_or_kept_from_the_user_are_left_out() -> None:
    """A key deleted before TYPE, or one key's error reply, costs that key only, no refusal."""
    space = Vanishing({0: {"a": ("string", 5), "b": ("hash", 6), "c": ("set", 1)}})
    inspector = _inspector()
    result = inspector.inspect(space, "db0:keys=3")
    assert _keys(result) == [("c", "set", 1)]
    assert result["biggest_keys"][0]["scanned"] == 2
    assert inspector.refused == {}


def test_a_database_that_empties_loses_its_keys() -> None:
    """Only databases INFO lists with keys are swept and published."""
    space = Keyspace({0: _db0(2), 3: {"x": ("zset", 7)}})
    inspector = _inspector()
    inspector.inspect(space, INFO_TWO_DBS)
    later = inspector.inspect(space, "db0:keys=2")
    assert [d["db"] for d in later["biggest_keys"]] == [0]


def test_bounded_label_cuts_long_key_names_and_says_so() -> None:
    """A key name longer than the bound is cut and marked; shorter names stay whole."""
    assert bounded_label("short") == "short"
    cut = bounded_label("k" * (MAX_KEY_LABEL + 5))
    assert cut == "k" * MAX_KEY_LABEL + "...(5 more)"


def _render(families: Families) -> Exposition:
    text = "".join(family.header + "".join(family.lines) for family in families.collect())
    return Exposition.parse(text)


def test_biggest_keys_translate_to_labelled_gauges_and_the_rest() -> None:
    """Each top key is a gauge with db, key and type; the rest's memory, keys and time per db."""
    families = Families({"addr": "a"})
    database = {
        "db": 2,
        "keys": [{"key": 'q"\n', "type": "hash", "memory": 900}],
        "scanned": 3,
        "memory": 1000,
        "seconds": 0.25,
    }
    biggest_keys_metrics(families, [database])
    found = _render(families)
    memory = catalog.BIGGEST_KEY_MEMORY_BYTES.name
    assert found.value(memory, addr="a", db="db2", key='q"\n', type="hash") == 900
    assert found.value(catalog.BIGGEST_KEYS_OTHER_MEMORY_BYTES.name, addr="a", db="db2") == 100
    assert found.value(catalog.BIGGEST_KEYS_SCANNED_KEYS.name, addr="a", db="db2") == 3
    assert found.value(catalog.BIGGEST_KEYS_SWEEP_SECONDS.name, addr="a", db="db2") == 0.25


def _slots(*entries: tuple[int, dict[str, int]]) -> list[Any]:
    return [[slot, [x for pair in fields.items() for x in pair]] for slot, fields in entries]


def test_slot_stats_translate_the_busiest_slots_by_each_order() -> None:
    """Keys as a gauge, CPU in seconds and bytes as counters; idle slots are left out."""
    traffic = {
        "key-count": 2,
        "cpu-usec": 1_500_000,
        "network-bytes-in": 40,
        "network-bytes-out": 9,
    }
    stats = {
        "limit": 2,
        "key-count": _slots((7, {"key-count": 5}), (9, {"key-count": 0})),
        "cpu-usec": _slots((9, traffic)),
        "network-bytes-in": _slots((9, traffic)),
        "network-bytes-out": _slots((9, traffic)),
    }
    families = Families({"addr": "a"})
    slot_stats_metrics(families, stats)
    found = _render(families)
    assert found.value(catalog.CLUSTER_SLOT_KEYS.name, addr="a", slot="7") == 5
    assert found.value(catalog.CLUSTER_SLOT_KEYS.name, addr="a", slot="9") is None
    assert found.value(catalog.CLUSTER_SLOT_CPU_SECONDS_TOTAL.name, addr="a", slot="9") == 1.5
    assert found.value(catalog.CLUSTER_SLOT_NETWORK_BYTES_IN_TOTAL.name, addr="a", slot="9") == 40
    assert found.value(catalog.CLUSTER_SLOT_NETWORK_BYTES_OUT_TOTAL.name, addr="a", slot="9") == 9
    assert f"# TYPE {catalog.CLUSTER_SLOT_CPU_SECONDS_TOTAL.name} counter" in found.text


def test_slot_stats_from_a_hostile_server_are_capped_and_checked() -> None:
    """More entries than asked, odd shapes and out-of-range slots: at most N well-formed slots."""
    entries: list[Any] = [[s, ["key-count", 1]] for s in range(10)]
    entries[1:3] = [["x", ["key-count", 1]], [99999, ["key-count", 1]]]
    entries.insert(0, "garbage")
    stats = {"limit": 4, "key-count": entries, "cpu-usec": Refused("ERR")}
    families = Families({"addr": "a"})
    slot_stats_metrics(families, stats)
    lines = [line for family in families.collect() for line in family.lines]
    assert [line.split('slot="')[1].split('"')[0] for line in lines] == ["0"]


def test_slot_traffic_is_asked_only_when_the_server_tracks_it() -> None:
    """cpu-usec in the key-count reply's entries means cluster-slot-stats-enabled is on."""
    assert _tracks_slot_traffic(_slots((1, {"key-count": 1, "cpu-usec": 0})))
    assert not _tracks_slot_traffic(_slots((1, {"key-count": 1})))
    assert not _tracks_slot_traffic([])
    assert not _tracks_slot_traffic(Refused("ERR"))


@pytest.mark.parametrize(
    ("info", "has"),
    [
        ("valkey_version:8.0.1\ncluster_enabled:1", True),
        ("redis_version:7.2.4\nvalkey_version:9.1.2\ncluster_enabled:1", True),
        ("redis_version:8.2.3\ncluster_enabled:1", True),
        ("redis_version:8.0.2\ncluster_enabled:1", False),
        ("redis_version:7.2.4\nvalkey_version:7.2.5\ncluster_enabled:1", False),
        ("valkey_version:9.1.2\ncluster_enabled:0", False),
    ],
)
def test_slot_stats_are_asked_of_cluster_nodes_that_have_them(info: str, has: bool) -> None:  # noqa: FBT001
    """Valkey 8+ and Redis 8.2+ in cluster mode, with the option on: nothing else is asked."""
    features = ServerFeatures.from_info(f"# Server\n{info}\n")
    target = Target("t", "redis://h:6379", 1.0, options=Options(export_cluster_slot_stats=True))
    commands = cycle_commands(target, features)
    assert (SLOT_STATS in commands) is has
    if has:
        assert commands[SLOT_STATS] == (
            "CLUSTER",
            "SLOT-STATS",
            "ORDERBY",
            "key-count",
            "LIMIT",
            10,
        )
    off = cycle_commands(Target("t", "redis://h:6379", 1.0), features)
    assert SLOT_STATS not in off


def test_insight_options_parse_and_turn_inspection_on() -> None:
    """The two switches and the shared cap parse; biggest keys alone makes a cycle inspect keys."""
    table: dict[str, object] = {
        "export_biggest_keys": True,
        "export_cluster_slot_stats": True,
        "insight_top_n": 100,
    }
    options = parse_options(table, Where("f"), Path(), Options(), 15.0)
    assert (options.export_biggest_keys, options.export_cluster_slot_stats) == (True, True)
    assert options.insight_top_n == 100
    assert Options(export_biggest_keys=True).inspects_keys
    assert not Options(export_cluster_slot_stats=True).inspects_keys
    assert Options().insight_top_n == 10


class FailingTypes(Keyspace):
    """A keyspace whose TYPE round trip times out while `failing` is set."""

    failing = False

    def __call__(self, commands: Sequence[Command]) -> list[Any]:
        """One round trip, or a timeout when it asks TYPE while failing."""
        if self.failing and any(command[0] == "TYPE" for command in commands):
            msg = "Timeout reading from socket"
            raise TimeoutError(msg)
        return super().__call__(commands)


def test_a_type_failure_at_completion_keeps_the_previous_result() -> None:
    """A TYPE round trip failing as a sweep completes keeps the last result; translation works."""
    space = FailingTypes({0: _db0(6)}, page=2)
    inspector = _inspector(top_n=2)
    space.failing = True
    with pytest.raises(TimeoutError):
        inspector.inspect(space, "db0:keys=6")
    assert inspector.inspect(space, "db0:keys=6", seconds=0.0)["biggest_keys"] == []
    space.failing = False
    first = _keys(inspector.inspect(space, "db0:keys=6"))
    space.dbs[0]["k00"] = ("set", 10_000)
    space.failing = True
    with pytest.raises(TimeoutError):
        inspector.inspect(space, "db0:keys=6")
    space.failing = False
    later = inspector.inspect(space, "db0:keys=6", seconds=0.0)  # a sweep in progress
    assert _keys(later) == first
    families = Families({"addr": "a"})
    biggest_keys_metrics(families, later["biggest_keys"])
    assert _render(families).value(catalog.BIGGEST_KEYS_SCANNED_KEYS.name, addr="a", db="db0") == 6


class Repeating(Keyspace):
    """A keyspace whose SCAN returns its biggest key in both of its two batches, as SCAN may."""

    def _reply(self, command: Command) -> object:
        if command[0] == "SCAN":
            return ["5", ["big", "a"]] if command[1] == 0 else ["0", ["big", "b"]]
        return super()._reply(command)


def test_a_key_scan_returns_twice_is_counted_once() -> None:
    """A top key in two SCAN batches adds once to the memory and keys measured."""
    space = Repeating({0: {"big": ("hash", 100), "a": ("set", 1), "b": ("zset", 2)}})
    result = _inspector(top_n=1).inspect(space, "db0:keys=3")
    database = result["biggest_keys"][0]
    assert (database["scanned"], database["memory"]) == (3, 103)
    families = Families({"addr": "a"})
    biggest_keys_metrics(families, result["biggest_keys"])
    other = catalog.BIGGEST_KEYS_OTHER_MEMORY_BYTES.name
    assert _render(families).value(other, addr="a", db="db0") == 3


def test_databases_swept_are_capped() -> None:
    """Of a keyspace listing more databases than the cap, only the first MAX_SWEPT_DATABASES go."""
    info = "".join(f"db{n}:keys=1,expires=0\r\n" for n in range(MAX_SWEPT_DATABASES + 500))
    assert databases_with_keys(info) == list(range(MAX_SWEPT_DATABASES))
    assert databases_with_keys("db" + "9" * 5000 + ":keys=1\r\ndb2:keys=1") == [2]


def test_past_the_budget_one_database_batch_goes_each_in_turn() -> None:
    """With the budget spent, a cycle sends one database's batch; the databases take turns."""
    space = Keyspace({0: _db0(1), 1: _db0(1), 2: _db0(1)})
    inspector = _inspector()
    info = "db0:keys=1\r\ndb1:keys=1\r\ndb2:keys=1\r\n"
    published = []
    for _ in range(3):
        result = inspector.inspect(space, info, seconds=0.0)
        published.append(sorted(d["db"] for d in result["biggest_keys"]))
    assert published == [[0], [0, 1], [0, 1, 2]]
    assert space.count("SCAN") == 3


def test_a_long_key_name_is_kept_cut_and_its_type_not_asked() -> None:
    """A name past the label cap is held cut, published as its label, type unknown, no TYPE."""
    long = "L" * (MAX_KEY_LABEL + 3000)
    space = Keyspace({0: {long: ("string", 999), "s": ("hash", 1)}})
    result = _inspector().inspect(space, "db0:keys=2")
    assert _keys(result) == [(bounded_label(long), "unknown", 999), ("s", "hash", 1)]
    assert space.sent.count(("TYPE", "s")) == 1
    assert space.count("TYPE") == 1
    families = Families({"addr": "a"})
    biggest_keys_metrics(families, result["biggest_keys"])
    name = catalog.BIGGEST_KEY_MEMORY_BYTES.name
    key = bounded_label(long)
    assert _render(families).value(name, addr="a", db="db0", key=key, type="unknown") == 999


class Refusing(Keyspace):
    """A keyspace whose server refuses one command name, as an ACL without it does."""

    def __init__(self, dbs: dict[int, dict[str, tuple[str, int]]], refuses: str) -> None:
        super().__init__(dbs)
        self.refuses = refuses

    def _reply(self, command: Command) -> object:
        if command[0] == self.refuses:
            return Refused(f"NOPERM this user has no permissions to run the '{self.refuses}'")
        return super()._reply(command)


@pytest.mark.parametrize("refuses", ["MEMORY", "TYPE"])
def test_a_refused_lookup_is_reported_and_not_sent_again(refuses: str) -> None:
    """A refused MEMORY USAGE or TYPE publishes no keys, is named a refusal, stops the sweeps."""
    space = Refusing({0: _db0(3)}, refuses)
    inspector = _inspector()
    assert inspector.inspect(space, "db0:keys=3")["biggest_keys"] == []
    assert set(inspector.refused) == {"biggest_keys"}
    assert inspector.refused["biggest_keys"].startswith(("MEMORY USAGE: NOPERM", "TYPE: NOPERM"))
    sent = len(space.sent)
    again = inspector.inspect(space, "db0:keys=3")
    assert (again["biggest_keys"], again["scans_in_progress"], len(space.sent)) == ([], [], sent)


class Switching:
    """Two servers behind one address: SCAN lists the keys of whichever answers now."""

    def __init__(self) -> None:
        self.keys: list[str] = ["old_server_key"]
        self.cursor = "0"  # 0: one batch completes the sweep

    def script(self) -> dict[str, Any]:
        """The hostile server's script for the biggest-keys commands."""
        return {
            "SELECT": resp("OK"),
            "SCAN": lambda _: resp([self.cursor, self.keys]),
            "MEMORY USAGE": resp(1000),
            "TYPE": resp("string"),
            "MEMORY": lambda words: resp(Error(f"ERR unknown subcommand '{words[1]}'")),
        }


def _scraper(addr: str, budget: float = 0.05) -> Scraper:
    options = Options(export_biggest_keys=True, scan_budget=budget, check_keys_batch_size=10)
    return Scraper(Target("t", addr, 5.0, options=options))


def test_a_reconnect_starts_every_sweep_afresh() -> None:
    """After close(), nothing of the old server's sweeps is published or carried on."""
    switching = Switching()
    with HostileServer(switching.script()) as server:
        scraper = _scraper(server.addr)
        before = scraper.scrape().replies["biggest_keys"]
        assert [e["key"] for e in before[0]["keys"]] == ["old_server_key"]
        scraper.close()
        switching.keys, switching.cursor = ["new_server_key"], "7"  # a sweep that goes on
        after = scraper.scrape().replies
        assert after["biggest_keys"] == []
        assert {"kind": "export_biggest_keys", "db": 0, "pattern": ""} in after["scans_in_progress"]


def test_a_refusal_reaches_the_scrapes_refused_commands() -> None:
    """A NOPERM to MEMORY USAGE shows as the biggest_keys refusal, on every cycle."""
    script = {
        "SELECT": resp("OK"),
        "SCAN": resp(["0", ["k"]]),
        "MEMORY USAGE": resp(Error("NOPERM this user has no permissions to run the 'memory'")),
    }
    with HostileServer(script) as server:
        scraper = _scraper(server.addr)
        for _ in range(2):
            result = scraper.scrape()
            assert result.error is None
            assert result.refused["biggest_keys"].startswith("MEMORY USAGE: ")
            assert result.replies["biggest_keys"] == []
