"""The catalogue of families: every family written is in it, as it says; docs are made from it."""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.fixtures.reference import NOT_RECORDED, since_by_family, since_text
from tests.support.recorded import ADDR, NOW, REPLIES, SERVERS, Translated, load, parsed
from textfile_redis import catalog
from textfile_redis.config import METRIC_LABELS
from textfile_redis.translate import Extras, Outcome

if TYPE_CHECKING:
    from textfile_redis.exposition import Family

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "metrics.md"
REGENERATE = ".venv/bin/python -m tests.fixtures.reference --write docs/metrics.md"
STATIC = {"cluster": "payments"}
ALL_ON = Extras(
    include_config_metrics=True,
    include_system_metrics=True,
    export_client_port=True,
    export_client_load=True,
)
# Replies no recording has (a sentinel's, a cluster node's), well formed, merged into each one.
SENTINEL_AND_CLUSTER = {
    "cluster_info": "cluster_state:ok\r\ncluster_slots_assigned:16384\r\ncluster_new_field:3\r\n",
    "sentinel_masters": [["name", "mymaster", "ip", "127.0.0.1", "port", "6379", "quorum", "2"]],
    "sentinel_sentinels:mymaster": [["name", "s1", "flags", "sentinel"]],
    "sentinel_replicas:mymaster": [["name", "r1", "flags", "slave"]],
    "sentinel_ckquorum:mymaster": "OK 3 usable Sentinels",
    "sentinel_config": ["resolve-hostnames", "no", "announce-port", "0"],
    "acl_log": [["count", 2, "reason", "auth", "username", "alice", "age-seconds", "1.5"]],
}
SENTINEL_INFO = (
    "# Sentinel\r\nsentinel_masters:1\r\nsentinel_tilt:0\r\nsentinel_running_scripts:0\r\n"
    "sentinel_scripts_queue_length:0\r\nsentinel_simulate_failure_flags:0\r\n"
    "master0:name=mymaster,status=ok,address=127.0.0.1:6379,slaves=1,sentinels=3\r\n"
)


@functools.cache  # pure: each recording is translated once for the module
def _translated(fixture: str, extras: Extras) -> tuple[Family, ...]:
    document = load(fixture)
    replies = {**document["replies"], **SENTINEL_AND_CLUSTER}
    replies["info"] += SENTINEL_INFO
    outcome = Outcome(
        addr=ADDR,
        replies=replies,
        refused=document["refused"],
        now=NOW,
        labels=tuple(STATIC.items()),
        extras=extras,
    )
    return tuple(Translated(outcome, {}).families)


FIXTURES = sorted(path.stem for path in REPLIES.glob("*.json"))
RUNS = [(fixture, extras) for fixture in FIXTURES for extras in (Extras(), ALL_ON)]


def _entry(family: Family) -> catalog.Metric | None:
    """The literal entry of a family's name, else the pattern entry its name matches."""
    if family.name in catalog.BY_NAME:
        return catalog.BY_NAME[family.name]
    matching = [p for p in catalog.PATTERNS if re.fullmatch(p.pattern, family.name)]
    return matching[0] if matching else None


def _problems(family: Family) -> list[str]:
    """How a written family differs from its catalogue entry: nothing, normally."""
    entry = _entry(family)
    if entry is None:
        return [f"{family.name} is in no catalogue entry"]
    help_line = f"# HELP {family.name} {entry.help}\n"
    problems = [] if entry.pattern or family.header.startswith(help_line) else ["HELP"]
    problems += [] if family.kind == entry.kind else [f"type {family.kind}, not {entry.kind}"]
    not_own = {*catalog.COMMON_LABELS, *STATIC, *catalog.SAMPLE_LABELS.get(entry.kind, ())}
    for sample in parsed(family):
        own = set(sample.labels) - not_own
        if not set(entry.labels) <= own <= {*entry.labels, *entry.optional}:
            problems.append(f"labels {sorted(own)}, not {entry.labels} + {entry.optional}")
    return [f"{family.name}: {problem}" for problem in problems]


@pytest.mark.parametrize(("fixture", "extras"), RUNS, ids=lambda value: str(value)[:30])
def test_every_family_written_is_in_the_catalogue_as_it_says(fixture: str, extras: Extras) -> None:
    """Each family's name, type, HELP and labels are its entry's, on every recording."""
    families = _translated(fixture, extras)
    assert len(families) > 150
    assert [problem for family in families for problem in _problems(family)] == []


def test_the_recordings_write_most_of_the_catalogue() -> None:
    """The test above is no formality: the recordings reach the families of every kind of reply."""
    written = {family.name for run in RUNS for family in _translated(*run)}
    assert len(written) > 250
    assert {catalog.SENTINEL_MASTER_OK_SLAVES.name, catalog.STREAM_GROUP_LAG.name} <= written
    assert any(
        re.fullmatch(catalog.INFO_FIELD_BY_NAME.pattern, name)
        for name in written - set(catalog.BY_NAME)
    )


def test_no_family_is_defined_twice() -> None:
    """A name, and an INFO field, each have one entry."""
    names = [entry.name for entry in catalog.FAMILIES]
    assert len(names) == len(set(names))
    tables = (
        catalog.INFO_GAUGES,
        catalog.CLUSTER_GAUGES,
        catalog.INFO_COUNTERS,
        catalog.SYSTEM_GAUGES,
    )
    fields = [field for table in tables for field in table]
    assert len(fields) == len(set(fields))
    assert len(catalog.PATTERNS) == 1  # INFO_FIELD_BY_NAME: see the catalogue


def test_help_names_an_info_field_only_for_info_fields() -> None:
    """The generic HELP is for families that are INFO fields; every other family says what it is."""
    for entry in catalog.FAMILIES:
        assert entry.help.endswith("."), entry.name
        if entry.help.startswith("Redis INFO field"):
            assert entry.source.startswith("INFO"), entry.name
            field = entry.help.removeprefix("Redis INFO field ").removesuffix(".")
            assert (
                field in catalog.INFO_FAMILIES or entry.source == "INFO Sentinel" or entry.pattern
            )


def test_entries_have_known_types_and_options() -> None:
    """Every entry has a type the families know and names real target options."""
    options = {"", "check_keys", "check_single_keys", "count_keys", "check_key_groups",
               "check_streams", "check_single_streams", "export_client_list", "lua_scripts",
               "include_config_metrics", "include_system_metrics",
               "export_client_load", "export_acl_log", "export_biggest_keys",
               "export_cluster_slot_stats"}  # fmt: skip
    for entry in catalog.FAMILIES:
        assert entry.kind in catalog.SAMPLE_SUFFIXES, entry.name
        assert set(entry.option.split(", ")) <= options, entry.name
        assert entry.opt_out in {"", catalog.LATENCY_OPT_OUT}, entry.name


def test_every_literal_entry_is_used_by_translation() -> None:
    """No entry is dead: translation or the budget names each one (INFO tables' indirectly)."""
    package = ROOT / "textfile_redis"
    paths = [*(package / "translate").glob("*.py"), package / "budget.py"]
    source = "".join(path.read_text() for path in paths)
    named = {
        value: name for name, value in vars(catalog).items() if isinstance(value, catalog.Metric)
    }
    unused = [
        name
        for entry, name in named.items()
        if not entry.pattern and f"catalog.{name}" not in source
    ]
    assert unused == []


def test_config_reserves_every_label_name_the_catalogue_uses() -> None:
    """A static label can never clash with a family's own label: config refuses those names."""
    for entry in catalog.FAMILIES:
        assert {*entry.labels, *entry.optional} <= METRIC_LABELS, entry.name
    assert {"addr", "le", "quantile"} <= METRIC_LABELS


def test_docs_reference_is_generated_from_the_catalogue() -> None:
    """docs/metrics.md's family table is the catalogue's; a new family needs the doc regenerated."""
    text = DOC.read_text()
    since = since_by_family()
    assert text == catalog.with_reference(text, since), (
        f"docs/metrics.md is stale: run {REGENERATE}"
    )
    assert all(f"`{entry.name}`" in text for entry in catalog.FAMILIES)


def test_since_names_the_first_version_of_each_line_that_writes_the_family() -> None:
    """The since cell comes from the recordings: all five, the first of each line, or none."""
    since = since_by_family()
    assert since[catalog.UP.name] == "all"
    assert since[catalog.LATENCY_PERCENTILES_USEC.name] == "Redis 7.0, Valkey 8.1"
    assert since[catalog.COMMANDLOG_SLOW_LENGTH.name] == "Valkey 8.1"
    assert since[catalog.INFO_FAMILIES["engines_count"].name] == "Valkey 9.1"
    assert since[catalog.INFO_FAMILIES["master_link_up_since_seconds"].name] == "Redis 8.2"
    assert since[catalog.KEY_SIZE.name] == "all"  # the opt-in recordings write the opt-ins
    assert since[catalog.SENTINEL_MASTERS.name] == NOT_RECORDED
    assert set(since) == {entry.name for entry in catalog.FAMILIES}


def test_since_text_orders_versions_within_each_line() -> None:
    """The first version is the oldest of its line, whatever order the set holds."""
    assert since_text(frozenset(SERVERS)) == "all"
    assert (
        since_text(frozenset({"valkey-9.1", "redis-8.2", "redis-7.0"})) == "Redis 7.0, Valkey 9.1"
    )
    assert since_text(frozenset()) == NOT_RECORDED
