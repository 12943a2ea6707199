"""Translation of the opt-in families, on replies recorded with every family switched on."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.recorded import ADDR, NOW, SERVERS, Translated, load
from textfile_redis import commands, translate
from textfile_redis.textfile import Marker, render
from textfile_redis.translate import Extras, Outcome

ALL_ON = Extras(include_config_metrics=True, include_system_metrics=True, max_distinct_key_groups=2)


class Optins(Translated):
    """A recorded opt-in scrape, translated; lookups with addr implied."""

    def __init__(self, server: str, extras: Extras = ALL_ON, **changes: Any) -> None:
        self.document = load(f"{server}-opt-ins")
        self.replies = {**self.document["replies"], **changes}
        outcome = Outcome(
            addr=ADDR,
            replies=self.replies,
            refused=self.document["refused"],
            now=NOW,
            extras=extras,
        )
        super().__init__(outcome, {"addr": ADDR})

    def text(self) -> str:
        """The rendered file."""
        return render(self.families, Marker("o", "t")).decode()


@pytest.fixture(scope="module", params=SERVERS)
def scraped(request: pytest.FixtureRequest) -> Optins:
    """Every version's recorded opt-in scrape, translated once for the module: tests only read."""
    return Optins(request.param)


def test_key_sizes_values_and_memory(scraped: Optins) -> None:
    """check_keys and check_single_keys report sizes by type, values, and memory usage."""
    assert scraped.value("redis_key_size", db="db0", key="queue:jobs") == 3
    assert scraped.value("redis_key_size", db="db0", key="greeting") == 5
    assert scraped.value("redis_key_value_as_string", db="db0", key="greeting", val="hello") == 1
    assert (
        scraped.value("redis_key_value_as_string", db="db1", key="archive:index", val="0,1,2") == 1
    )
    memory = scraped.value("redis_key_memory_usage_bytes", db="db0", key="queue:jobs")
    assert memory is not None
    assert memory > 0
    user_keys = {s["key"] for s in scraped.samples("redis_key_size") if s["key"].startswith("user")}
    assert user_keys == {"user:1", *(f"user:{n}" for n in range(10, 20))}


def test_hyperloglog_reports_its_cardinality_not_its_bytes(scraped: Optins) -> None:
    """A HyperLogLog of three elements has key_size 3 and no string value label."""
    assert scraped.value("redis_key_size", db="db0", key="visitors") == 3
    assert not [s for s in scraped.samples("redis_key_value_as_string") if s["key"] == "visitors"]


def test_count_keys_counts_every_match(scraped: Optins) -> None:
    """count_keys reports the 20 populated user:* keys under the pattern it was given."""
    assert scraped.value("redis_keys_count", db="db0", key="user:*") == 20


def test_key_groups_keep_the_biggest_and_sum_the_rest_as_overflow(scraped: Optins) -> None:
    """With max_distinct_key_groups = 2 the two biggest groups stay; the rest is "overflow"."""
    recorded = {g["db"]: g["groups"] for g in scraped.replies["key_groups"]}[0]
    biggest = sorted(recorded, key=lambda name: -recorded[name][1])
    kept, rest = biggest[:2], biggest[2:]
    for name in kept:
        count = scraped.value("redis_key_group_count", db="db0", key_group=name)
        assert count == recorded[name][0]
    overflow = scraped.value("redis_key_group_count", db="db0", key_group="overflow")
    assert overflow == sum(recorded[name][0] for name in rest)
    assert scraped.value("redis_number_of_distinct_key_groups", db="db0") == 3
    assert scraped.value("redis_key_group_count", db="db0", key_group="user") == 20


def test_streams_report_groups_and_consumers(scraped: Optins) -> None:
    """The stream's length, its group's pending count and its consumer's pending count."""
    (stream,) = scraped.replies["streams"]
    labels = {"db": "db0", "stream": "events"}
    assert scraped.value("redis_stream_length", **labels) == stream["info"]["length"] == 1
    assert scraped.value("redis_stream_groups", **labels) == 1
    group = {**labels, "group": "workers"}
    assert scraped.value("redis_stream_group_messages_pending", **group) == 1
    assert scraped.value("redis_stream_group_consumers", **group) == 1
    consumer = {**group, "consumer": "worker-1"}
    assert scraped.value("redis_stream_group_consumer_messages_pending", **consumer) == 1
    last_id = stream["info"]["last-generated-id"]
    assert scraped.value("redis_stream_last_generated_id", **labels) == float(last_id.split("-")[0])


def test_client_list_reports_each_connection(scraped: Optins) -> None:
    """Each CLIENT LIST line gives redis_connected_client_info and per-client gauges."""
    lines = scraped.replies["client_list"].splitlines()
    infos = scraped.samples("redis_connected_client_info")
    assert len(infos) == len(lines)
    assert all("port" not in labels for labels in infos)
    first = infos[0]
    created = scraped.value(
        "redis_connected_client_created_at_timestamp", id=first["id"], name=first["name"]
    )
    age = int(dict(p.split("=", 1) for p in lines[0].split(" "))["age"])
    assert created == NOW - age


def test_client_port_only_when_asked(scraped: Optins) -> None:
    """export_client_port adds the port label, which multiplies series, only when set."""
    with_port = Optins(scraped.document["server"], Extras(export_client_port=True))
    assert all("port" in s for s in with_port.samples("redis_connected_client_info"))


def test_scripts_report_values_and_failures(scraped: Optins) -> None:
    """A working script's pairs become script_values (result 1); a failing one gives result 0."""
    assert scraped.value("redis_script_values", key="depth", filename="depth.lua") == 3
    assert scraped.value("redis_script_result", filename="depth.lua") == 1
    assert scraped.value("redis_script_result", filename="broken.lua") == 0
    assert scraped.value("textfile_redis_command_refused", command="script:broken.lua") is None


def test_config_metrics_never_show_a_secret(scraped: Optins) -> None:
    """include_config_metrics exports settings, numeric ones as values, never a password."""
    assert scraped.value("redis_config_key_value", key="maxmemory", value="0") == 1
    assert scraped.value("redis_config_value", key="maxclients") == 10000
    keys = {s["key"] for s in scraped.samples("redis_config_key_value")}
    assert "requirepass" not in keys
    assert "masterauth" not in keys
    assert not [key for key in keys if "pass" in key]


def test_system_memory_only_when_asked(scraped: Optins) -> None:
    """redis_total_system_memory_bytes comes with include_system_metrics only."""
    total = scraped.value("redis_total_system_memory_bytes")
    assert total is not None
    assert total > 0
    without = Optins(scraped.document["server"], Extras())
    assert without.value("redis_total_system_memory_bytes") is None
    assert without.value("redis_config_value", key="maxclients") is None


def test_unfinished_sweeps_are_reported(scraped: Optins) -> None:
    """A sweep cut short by the time budget shows as textfile_redis_scan_in_progress."""
    progress = [{"kind": "count_keys", "db": 0, "pattern": "user:*"}]
    cut = Optins(scraped.document["server"], scans_in_progress=progress)
    assert (
        cut.value("textfile_redis_scan_in_progress", kind="count_keys", db="db0", pattern="user:*")
        == 1
    )
    assert scraped.samples("textfile_redis_scan_in_progress") == []


def test_every_opt_in_file_is_consistent(scraped: Optins) -> None:
    """TYPE lines name the samples that follow, and each family has exactly one HELP."""
    text = scraped.text()
    helps = [line.split(" ")[2] for line in text.splitlines() if line.startswith("# HELP ")]
    assert len(helps) == len(set(helps))


def test_script_reply_names_agree() -> None:
    """Scrape and translation name script replies alike."""
    assert commands.SCRIPT_PREFIX == translate.SCRIPT_PREFIX
