"""Translation of replies a hostile or broken server sends: a bad reply costs only its families."""

from __future__ import annotations

import collections
import functools
import logging
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.recorded import ADDR, NOW, load
from textfile_redis import cycle
from textfile_redis.replies import MAX_HISTOGRAM_BUCKETS
from textfile_redis.textfile import Marker, render
from textfile_redis.translate import (
    DEFAULT_DATABASES,
    MAX_EMPTY_DATABASES,
    MAX_FIELDS_PER_LINE,
    MAX_INFO_LINES,
    SCRIPT_FAILED,
    Extras,
    Outcome,
    Translation,
    translate,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

    from prometheus_client.samples import Sample

ALL_ON = Extras(include_config_metrics=True, include_system_metrics=True)
MALFORMED = "textfile_redis_reply_malformed"
# Replies no recording has, well formed, so that every family is there to be lost.
SENTINEL_AND_CLUSTER = {
    "cluster_info": "cluster_state:ok\r\ncluster_slots_assigned:16384\r\n",
    "sentinel_masters": [["name", "mymaster", "ip", "127.0.0.1", "port", "6379", "quorum", "2"]],
    "sentinel_sentinels:mymaster": [["name", "s1", "flags", "sentinel"]],
    "sentinel_replicas:mymaster": [["name", "r1", "flags", "slave"]],
    "sentinel_config": ["resolve-hostnames", "no"],
    "scans_in_progress": [{"kind": "check_keys", "db": 0, "pattern": "session:*"}],
}
BASE = {**load("valkey-9.1-opt-ins")["replies"], **SENTINEL_AND_CLUSTER}
INFO = BASE["info"]


class File:
    """One translation rendered as the file would be, with its samples read back."""

    def __init__(self, **changes: Any) -> None:
        outcome = Outcome(
            addr=ADDR, replies={**BASE, **changes}, now=NOW, extras=ALL_ON, duration=0.001
        )
        self.translation: Translation = translate(outcome)
        self.text = render(self.translation.families, Marker("o", "t")).decode()

    @functools.cached_property
    def samples(self) -> list[Sample]:
        """Every sample in the file, read back by prometheus_client's parser."""
        return _parse(self.text)

    def names(self) -> set[str]:
        """Every family name in the file."""
        return {family.name for family in self.translation.families}

    def value(self, name: str, /, **labels: str) -> float | None:
        """The one sample of `name` with these labels (addr implied), or None."""
        # Only the families that can hold `name` are rendered and parsed: parsing is the cost.
        families = [
            family
            for family in self.translation.families
            if name == family.name or name.startswith(family.name + "_")
        ]
        wanted = {"addr": ADDR, **labels}
        text = render(families, Marker("o", "t")).decode()
        found = [s.value for s in _parse(text) if s.name == name and s.labels == wanted]
        assert len(found) <= 1
        return found[0] if found else None

    def duplicates(self) -> list[str]:
        """Series written more than once: node_exporter refuses a file with any."""
        lines = [line for line in self.text.split("\n") if line and not line.startswith("#")]
        counts = collections.Counter(line.rpartition(" ")[0] for line in lines)
        return [series for series, count in counts.items() if count > 1]


def _parse(text: str) -> list[Sample]:
    return [sample for family in text_string_to_metric_families(text) for sample in family.samples]


def _config_with(**settings: str) -> list[str]:
    """The recorded CONFIG GET reply with some settings changed."""
    config = dict(zip(BASE["config"][::2], BASE["config"][1::2], strict=True))
    config.update({name.replace("_", "-"): value for name, value in settings.items()})
    return [word for pair in config.items() for word in pair]


# Families each reply makes, all present on the base replies.
INFO_FAMILIES = {
    "redis_instance_info",
    "redis_memory_used_bytes",
    "redis_commands_total",
    "redis_db_keys",
    "redis_errors_total",
    "redis_commands_latencies_usec",  # its _sum comes from INFO's commandstats
}
FROM_REPLY: Mapping[str, set[str]] = {
    "info": INFO_FAMILIES,
    "config": {"redis_config_maxmemory", "redis_config_client_output_buffer_limit_bytes"},
    "latency_histogram": {"redis_commands_latencies_usec"},
    "latency_latest": {"redis_latency_spike_last", "redis_latency_spike_duration_seconds"},
    "slowlog_len": {"redis_slowlog_length"},
    "slowlog_get": {"redis_slowlog_last_id", "redis_last_slow_execution_duration_seconds"},
    "commandlog_slow": {"redis_commandlog_slow_length"},
    "client_list": {"redis_connected_client_info", "redis_connected_client_idle_since_timestamp"},
    "cluster_info": {"redis_cluster_state", "redis_cluster_slots_assigned"},
    "sentinel_masters": {"redis_sentinel_master_ok_sentinels", "redis_sentinel_master_ok_slaves"},
    "sentinel_config": {"redis_sentinel_config_key_value"},
    "keys": {"redis_key_size", "redis_key_memory_usage_bytes"},
    "key_counts": {"redis_keys_count"},
    "key_groups": {"redis_key_group_count", "redis_number_of_distinct_key_groups"},
    "streams": {"redis_stream_length", "redis_stream_group_lag"},
    "scans_in_progress": {"textfile_redis_scan_in_progress"},
}
HISTOGRAM_OF_GET = ["calls", 3, "histogram_usec", [1, 2, 4, 3]]
HOSTILE = [  # (reply name, what the server sent instead)
    ("info", 42),
    ("info", None),
    ("info", ["# Server", "redis_version:7.0.0"]),
    ("info", "# Commandstats\r\ncmdstat_get:" + ",".join(["calls=1"] * 200) + "\r\n"),
    ("config", 16),
    ("config", _config_with(client_output_buffer_limit="normal 0 0 0 " * 100)),
    ("latency_histogram", 7),
    ("latency_histogram", ["get"]),
    ("latency_histogram", ["get", {"calls": 3}]),
    ("latency_histogram", [b"get", HISTOGRAM_OF_GET]),
    ("latency_histogram", ["get", ["calls", 3, "histogram_usec", ["x", 2, 4, 3]]]),
    ("latency_histogram", ["get", ["calls", 3, [1], 2]]),
    ("latency_histogram", ["get", ["calls", 10**400, "histogram_usec", []]]),
    ("latency_histogram", ["get", ["calls", 3, "histogram_usec", [1, 1] * 65]]),
    ("latency_latest", "command"),
    ("latency_latest", [["command", 1795613233]]),
    ("latency_latest", [[1795613233, "command", 10, 10]]),
    ("slowlog_len", "3"),
    ("slowlog_len", None),
    ("slowlog_get", [["a", 1, "x"]]),
    ("slowlog_get", "3"),
    ("commandlog_slow", [1]),
    ("client_list", 42),
    ("client_list", "id=7 addr=127.0.0.1:1 name= age=1e400 idle=1 db=0\n"),
    ("client_list", "id=7 addr=127.0.0.1:1 age=1 idle=1 db=0\n" * (10_001)),
    ("cluster_info", ["cluster_state", "ok"]),
    ("cluster_info", "cluster_state:ok\r\n" * 1001),
    ("sentinel_masters", "mymaster"),
    ("sentinel_masters", [7]),
    ("sentinel_config", {"resolve-hostnames": "no"}),
    ("keys", 5),
    ("keys", [{"db": 0}]),
    ("key_counts", [{"db": 0, "count": "many"}]),
    ("key_groups", [{"db": 0, "groups": 5}]),
    ("streams", [{"db": 0, "key": "s", "info": {"length": 1}, "groups": 7}]),
    ("scans_in_progress", [1]),
]


def test_the_base_replies_are_well_formed_and_make_every_family() -> None:
    """Unchanged, the base replies give every family the table expects, nothing malformed."""
    file = File()
    assert file.translation.malformed == ()
    assert set().union(*FROM_REPLY.values()) <= file.names()
    assert file.duplicates() == []


@pytest.mark.parametrize(("reply", "sent"), HOSTILE, ids=lambda v: repr(v)[:40])
def test_a_malformed_reply_loses_only_its_own_families(reply: str, sent: object) -> None:
    """A reply of the wrong shape or out of range: its families gone and named, the rest kept."""
    file = File(**{reply: sent})
    assert file.translation.malformed == (reply,)
    assert file.value("redis_up") == 1
    assert file.value(MALFORMED, command=reply) == 1
    assert not FROM_REPLY[reply] & file.names()
    others = set().union(*(families for name, families in FROM_REPLY.items() if name != reply))
    assert others - FROM_REPLY[reply] <= file.names()
    assert file.duplicates() == []


def test_the_malformed_metric_has_help_and_type() -> None:
    """textfile_redis_reply_malformed is a documented gauge labelled by command."""
    file = File(info=42)
    assert f"# HELP {MALFORMED} Replies of a shape" in file.text
    assert f"# TYPE {MALFORMED} gauge\n" in file.text


@pytest.mark.parametrize("databases", ["inf", "nan", "1e300", "-5", "0", "sixteen", "9" * 5000])
def test_databases_that_is_not_a_count_falls_back_to_sixteen(databases: str) -> None:
    """CONFIG databases not a positive integer: 16 databases reported, config named malformed."""
    file = File(config=_config_with(databases=databases))
    assert file.translation.malformed == ("config",)
    assert file.value("redis_db_keys", db=f"db{DEFAULT_DATABASES - 1}") == 0
    assert file.value("redis_db_keys", db=f"db{DEFAULT_DATABASES}") is None
    assert file.value("redis_config_maxmemory") is not None  # the other settings still count


def test_a_huge_databases_setting_is_capped() -> None:
    """A databases setting of 100000000 writes zero series up to the cap, not 10^8 of them."""
    file = File(config=_config_with(databases="100000000"))
    assert file.translation.malformed == ()
    assert file.value("redis_db_keys", db=f"db{MAX_EMPTY_DATABASES - 1}") == 0
    assert file.value("redis_db_keys", db=f"db{MAX_EMPTY_DATABASES}") is None
    assert len([s for s in file.samples if s.name == "redis_db_keys"]) == MAX_EMPTY_DATABASES


def test_a_million_line_info_is_refused_whole_without_reading_it() -> None:
    """INFO past the line cap is malformed: none of its lines become samples."""
    lines = "".join(f"cluster_field_{n}:{n}\r\n" for n in range(1_000_000))
    file = File(info=INFO + lines)
    assert file.translation.malformed == ("info",)
    assert not any(s.name.startswith("redis_cluster_field_") for s in file.samples)
    assert len(file.samples) < len(File().samples)


def test_info_just_under_the_line_cap_is_read() -> None:
    """An INFO reply one line short of the cap is translated whole."""
    padding = MAX_INFO_LINES - INFO.count("\n") - 1
    file = File(info=INFO + "".join(f"cluster_field_{n}:{n}\r\n" for n in range(padding)))
    assert file.translation.malformed == ()
    assert file.value(f"redis_cluster_field_{padding - 1}") == padding - 1


def test_a_line_of_as_many_fields_as_the_cap_is_read() -> None:
    """A commandstats line with MAX_FIELDS_PER_LINE fields is still a command's statistics."""
    extra = ",".join(f"x{n}=0" for n in range(MAX_FIELDS_PER_LINE - 3))
    file = File(info=INFO + f"# Commandstats\r\ncmdstat_odd:calls=2,usec=9,{extra}\r\n")
    assert file.translation.malformed == ()
    assert file.value("redis_commands_total", cmd="odd") == 2


def test_a_histogram_of_as_many_buckets_as_the_cap_is_read() -> None:
    """MAX_HISTOGRAM_BUCKETS power-of-two buckets are a command's histogram."""
    flat = [value for power in range(MAX_HISTOGRAM_BUCKETS) for value in (2**power, power)]
    file = File(latency_histogram=["get", ["calls", 70, "histogram_usec", flat]])
    assert file.translation.malformed == ()
    assert file.value("redis_commands_latencies_usec_bucket", cmd="get", le="+Inf") == 70


def test_a_doubled_info_writes_each_series_once() -> None:
    """INFO with every section twice gives the file a single INFO gives."""
    assert File(info=INFO + INFO).text == File().text


def test_a_field_repeated_keeps_its_first_value() -> None:
    """The same field twice in INFO: one series, the first value."""
    file = File(info=INFO.replace("# Memory\r\n", "# Memory\r\nused_memory:1\r\nused_memory:2\r\n"))
    assert file.value("redis_memory_used_bytes") == 1
    assert file.duplicates() == []


@pytest.mark.parametrize(
    ("reply", "sent"),
    [
        ("latency_histogram", ["get", HISTOGRAM_OF_GET, "get", HISTOGRAM_OF_GET]),
        ("latency_histogram", ["get", ["calls", 3, "histogram_usec", [1, 2, 1, 3]]]),
        ("latency_latest", [["command", 1, 2, 3], ["command", 4, 5, 6]]),
        ("client_list", "id=7 addr=127.0.0.1:1 age=1 idle=1 db=0\n" * 2),
        ("cluster_info", "cluster_state:ok\r\ncluster_state:fail\r\n"),
        ("keys", BASE["keys"] * 2),
    ],
    ids=lambda v: repr(v)[:30],
)
def test_entries_repeated_in_a_reply_give_each_series_once(reply: str, sent: object) -> None:
    """A reply that repeats an entry still writes every series once, and is not malformed."""
    file = File(**{reply: sent})
    assert file.duplicates() == []
    assert file.translation.malformed == ()


def test_cluster_info_cannot_claim_a_name_translation_writes() -> None:
    """CLUSTER INFO's fields named up or instance_info do not become redis_up or its kin."""
    file = File(cluster_info="up:0\r\ninstance_info:5\r\ncommands_latencies_usec_sum:1\r\n")
    assert file.value("redis_up") == 1
    assert file.value("redis_commands_latencies_usec_sum", cmd="get") is not None
    assert file.duplicates() == []


@pytest.mark.parametrize(
    ("value", "written"),
    [("nan", "NaN"), ("inf", "+Inf"), ("-inf", "-Inf"), ("1e999", "+Inf"), ("9" * 5000, "+Inf")],
)
def test_nan_inf_and_huge_numbers_in_info_are_written_as_such(value: str, written: str) -> None:
    """INFO numbers beyond a float's range are written as Go writes them, not raised."""
    file = File(info=INFO.replace("# Memory\r\n", f"# Memory\r\nused_memory:{value}\r\n"))
    assert f'redis_memory_used_bytes{{addr="{ADDR}"}} {written}\n' in file.text
    assert file.translation.malformed == ()


def test_control_characters_and_long_names_are_escaped_not_raised() -> None:
    """Commands and error kinds with control characters or 10,000 characters are labels."""
    long_name = "x" * 10_000
    odd = 'a\tb\x00c\\d"e\rf'
    lines = [
        "# Commandstats",
        f"cmdstat_{long_name}:calls=1,usec=2,usec_per_call=2",
        f"cmdstat_{odd}:calls=3,usec=4,usec_per_call=1",
        "# Errorstats",
        f"errorstat_{odd}:count=5",
        f"cluster_{long_name}:1",  # a plain field past the name cap: no metric at all
    ]
    file = File(info=INFO + "\r\n".join(lines) + "\r\n")
    assert file.value("redis_commands_total", cmd=long_name) == 1
    assert file.value("redis_commands_total", cmd=odd) == 3
    assert file.value("redis_errors_total", err=odd) == 5
    assert not any(long_name in name for name in file.names())
    assert file.translation.malformed == ()
    assert file.duplicates() == []


def test_a_script_value_too_large_for_a_float_fails_the_script_only() -> None:
    """A Lua script returning 10^400 reports redis_script_result 0, nothing malformed."""
    file = File(**{"script:depth.lua": ["depth", 10**400]})
    assert file.value("redis_script_result", filename="depth.lua") == SCRIPT_FAILED
    assert file.translation.malformed == ()


def test_several_malformed_replies_are_named_sorted() -> None:
    """Every malformed reply is named once, in order, in the result and in the file."""
    file = File(latency_latest=1, info=None, client_list=2)
    assert file.translation.malformed == ("client_list", "info", "latency_latest")
    assert [s.labels["command"] for s in file.samples if s.name == MALFORMED] == [
        "client_list",
        "info",
        "latency_latest",
    ]


def test_malformed_replies_are_logged_once_per_change(caplog: pytest.LogCaptureFixture) -> None:
    """The collector logs a target's malformed replies when the set changes, not every cycle."""
    slot: Any = SimpleNamespace(
        malformed=(), scraper=SimpleNamespace(target=SimpleNamespace(name="c"))
    )
    caplog.set_level(logging.INFO, logger=cycle.__name__)
    for malformed in [(), ("info",), ("info",), ("config", "info"), ("config", "info"), ()]:
        cycle._note_malformed(slot, malformed)  # noqa: SLF001 - the collector's own bookkeeping
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("WARNING", "target c: malformed replies, their metrics left out: info"),
        ("WARNING", "target c: malformed replies, their metrics left out: config, info"),
        ("INFO", "target c: every reply well-formed again"),
    ]
