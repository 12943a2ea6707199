"""Translation of replies recorded from every tested server into redis_exporter's metrics."""

from __future__ import annotations

import fnmatch
import re
from typing import TYPE_CHECKING, Any

import pytest

from tests.support.recorded import ADDR, NOW, REPLIES, SERVERS, Translated, load
from textfile_redis import catalog
from textfile_redis.commands import TRANSLATED_SETTINGS
from textfile_redis.textfile import Marker, render
from textfile_redis.translate import Extras, Outcome, translate
from textfile_redis.translate.health import MAX_ENGINES, TLS_EXPIRY
from textfile_redis.translate.translation import parse_info

if TYPE_CHECKING:
    from textfile_redis.exposition import Family


class Scraped(Translated):
    """One recorded scrape, translated, with get_sample_value-style lookups."""

    def __init__(self, fixture: str, **changes: Any) -> None:
        self.document = load(fixture)
        outcome = Outcome(
            addr=ADDR,
            replies=changes.get("replies", self.document["replies"]),
            refused=changes.get("refused", self.document["refused"]),
            error=changes.get("error"),
            duration=0.002,
            now=NOW,
            labels=(("cluster", "payments"),),
        )
        super().__init__(outcome, {"addr": ADDR, "cluster": "payments"})

    def info(self, field: str) -> str:
        """A field of the recorded INFO reply, to compare a metric with its source."""
        match = re.search(
            rf"^{re.escape(field)}:(.*)\r$", self.document["replies"]["info"], re.MULTILINE
        )
        assert match, field
        return match[1]

    def family(self, name: str) -> Family | None:
        """The family named `name`."""
        return next((f for f in self.families if f.name == name), None)


@pytest.fixture(params=SERVERS)
def primary(request: pytest.FixtureRequest) -> Scraped:
    """A populated primary of each version, recorded by tests/fixtures/record_replies.py."""
    return Scraped(f"{request.param}-primary")


@pytest.fixture(params=SERVERS)
def replica(request: pytest.FixtureRequest) -> Scraped:
    """A replica of each version, linked to the populated primary."""
    return Scraped(f"{request.param}-replica")


def test_keyspace_reports_the_keys_the_test_wrote(primary: Scraped) -> None:
    """db0 holds the 31 populated keys (5 with a TTL), db1 the 4 moved ones, db2 is zero."""
    assert primary.value("redis_db_keys", db="db0") == 31
    assert primary.value("redis_db_keys_expiring", db="db0") == 5
    assert primary.value("redis_db_keys", db="db1") == 4
    assert primary.value("redis_db_keys_expiring", db="db1") == 3
    assert primary.value("redis_db_keys", db="db15") == 0
    assert primary.value("redis_db_keys", db="db16") is None
    avg_ttl = primary.value("redis_db_avg_ttl_seconds", db="db0")
    assert avg_ttl is not None
    assert 3500 < avg_ttl <= 3600


def test_up_and_instance_info_name_the_server(primary: Scraped) -> None:
    """redis_up is 1 and redis_instance_info carries role, versions and master_replid."""
    assert primary.value("redis_up") == 1
    labels = {
        "role": "master",
        "redis_version": primary.info("redis_version"),
        "redis_build_id": primary.info("redis_build_id"),
        "redis_mode": "standalone",
        "os": primary.info("os"),
        "maxmemory_policy": "noeviction",
        "tcp_port": primary.info("tcp_port"),
        "run_id": primary.info("run_id"),
        "process_id": primary.info("process_id"),
        "master_replid": primary.info("master_replid"),
    }
    if primary.document["server"].startswith("valkey"):
        labels["valkey_version"] = primary.info("valkey_version")
        labels["valkey_release_stage"] = primary.info("valkey_release_stage")
        labels["availability_zone"] = ""  # Valkey 8.1+ reports the field, empty when unset
    assert primary.value("redis_instance_info", **labels) == 1


def test_info_fields_map_to_redis_exporter_names(primary: Scraped) -> None:
    """Gauges and counters from the INFO tables carry the INFO values under their new names."""
    assert primary.value("redis_connected_clients") == float(primary.info("connected_clients"))
    assert primary.value("redis_memory_used_bytes") == float(primary.info("used_memory"))
    assert primary.value("redis_commands_processed_total") == float(
        primary.info("total_commands_processed")
    )
    assert primary.value("redis_uptime_in_seconds") == float(primary.info("uptime_in_seconds"))
    assert primary.value("redis_start_time_seconds") == NOW - float(
        primary.info("uptime_in_seconds")
    )
    assert primary.value("redis_rdb_last_bgsave_status") == 1  # "ok" reads as 1
    assert primary.value("redis_connected_slaves") == 1
    assert (
        primary.value("redis_latest_fork_seconds") == float(primary.info("latest_fork_usec")) / 1e6
    )


def test_commandstats_become_per_command_counters(primary: Scraped) -> None:
    """SET's calls and time come from cmdstat_set, seconds from microseconds."""
    stats = dict(part.split("=") for part in primary.info("cmdstat_set").split(","))
    assert primary.value("redis_commands_total", cmd="set") == float(stats["calls"])
    assert primary.value("redis_commands_duration_seconds_total", cmd="set") == pytest.approx(
        float(stats["usec"]) / 1e6
    )
    assert primary.value("redis_commands_failed_calls_total", cmd="incr") == 1
    assert primary.value("redis_commands_rejected_calls_total", cmd="set") == 0


def test_errorstats_count_errors_by_prefix(primary: Scraped) -> None:
    """The populated errors show by prefix: two ERR replies and one WRONGTYPE."""
    assert primary.value("redis_errors_total", err="WRONGTYPE") == 1
    assert primary.value("redis_errors_total", err="ERR") == 2
    assert primary.value("redis_total_error_replies") == float(primary.info("total_error_replies"))


def test_slowlog_reports_the_newest_entry(primary: Scraped) -> None:
    """The newest slow entry is the 10 ms DEBUG SLEEP, reported in seconds with its id."""
    newest = primary.document["replies"]["slowlog_get"][0]
    assert primary.value("redis_slowlog_length") == primary.document["replies"]["slowlog_len"]
    assert primary.value("redis_slowlog_last_id") == newest[0]
    duration = primary.value("redis_last_slow_execution_duration_seconds")
    assert duration == newest[2] / 1e6
    assert duration is not None
    assert duration >= 0.01


def test_latency_latest_reports_the_debug_sleep_spike(primary: Scraped) -> None:
    """LATENCY LATEST's command event shows the 10 ms spike and when it happened."""
    event = primary.document["replies"]["latency_latest"][0]
    assert primary.value("redis_latency_spike_duration_seconds", event_name="command") == 0.01
    assert primary.value("redis_latency_spike_last", event_name="command") == event[1]


def test_config_values_and_output_buffer_limits(primary: Scraped) -> None:
    """CONFIG GET gives maxmemory, maxclients and the per-class output buffer limits."""
    assert primary.value("redis_config_maxmemory") == 0
    assert primary.value("redis_config_maxclients") == 10000
    assert primary.value("redis_config_io_threads") == 1
    config = primary.document["replies"]["config"]
    backlog = dict(zip(config[::2], config[1::2], strict=True))["repl-backlog-size"]
    assert primary.value("redis_config_repl_backlog_size") == float(backlog)
    hard = primary.value(
        "redis_config_client_output_buffer_limit_bytes", **{"class": "pubsub", "limit": "hard"}
    )
    assert hard == 33554432
    overcome = primary.value(
        "redis_config_client_output_buffer_limit_overcome_seconds",
        **{"class": "pubsub", "limit": "soft"},
    )
    assert overcome == 60


def test_primary_reports_its_connected_replica(primary: Scraped) -> None:
    """slave0 gives the replica's offset and lag, labelled with its address and state."""
    fields = dict(part.split("=") for part in primary.info("slave0").split(","))
    labels = {"slave_ip": "127.0.0.1", "slave_port": fields["port"], "slave_state": "online"}
    assert primary.value("redis_connected_slave_offset_bytes", **labels) == float(fields["offset"])
    assert primary.value("redis_connected_slave_lag_seconds", **labels) == float(fields["lag"])


def test_replica_reports_its_link_to_the_primary(replica: Scraped) -> None:
    """A replica has master_link_up 1, its offsets and slave_info, labelled with its primary."""
    master = {"master_host": "127.0.0.1", "master_port": replica.info("master_port")}
    assert replica.value("redis_master_link_up", **master) == 1
    assert replica.value("redis_master_sync_in_progress", **master) == 0
    assert replica.value("redis_slave_repl_offset", **master) == float(
        replica.info("slave_repl_offset")
    )
    assert replica.value("redis_slave_info", **master, read_only="1") == 1
    assert replica.value("redis_db_keys", db="db0") == 31


@pytest.mark.parametrize("server", ["redis-7.0", "redis-8.2", "valkey-8.1", "valkey-9.1"])
def test_latency_percentiles_become_summaries(server: str) -> None:
    """Latencystats' p50/p99/p99.9 become quantiles "50", "99", "99.9" with calls and usec."""
    scraped = Scraped(f"{server}-primary")
    percentiles = dict(
        part.split("=") for part in scraped.info("latency_percentiles_usec_set").split(",")
    )
    stats = dict(part.split("=") for part in scraped.info("cmdstat_set").split(","))
    name = "redis_latency_percentiles_usec"
    assert scraped.value(name, cmd="set", quantile="99.9") == float(percentiles["p99.9"])
    assert scraped.value(name, cmd="set", quantile="50") == float(percentiles["p50"])
    assert scraped.value(f"{name}_count", cmd="set") == float(stats["calls"])
    assert scraped.value(f"{name}_sum", cmd="set") == float(stats["usec"])


@pytest.mark.parametrize("server", ["redis-7.0", "redis-8.2", "valkey-8.1", "valkey-9.1"])
def test_latency_histogram_becomes_a_histogram(server: str) -> None:
    """LATENCY HISTOGRAM's cumulative buckets and calls become redis_commands_latencies_usec."""
    scraped = Scraped(f"{server}-primary")
    reply = scraped.document["replies"]["latency_histogram"]
    details = dict(zip(reply[::2], reply[1::2], strict=True))["set"]
    calls, buckets = details[1], details[3]
    name = "redis_commands_latencies_usec"
    assert scraped.value(f"{name}_count", cmd="set") == calls
    assert scraped.value(f"{name}_bucket", cmd="set", le="+Inf") == calls
    first_bound, first_count = buckets[0], buckets[1]
    assert scraped.value(f"{name}_bucket", cmd="set", le=str(first_bound)) == first_count
    usec = dict(part.split("=") for part in scraped.info("cmdstat_set").split(","))["usec"]
    assert scraped.value(f"{name}_sum", cmd="set") == float(usec)


def test_redis_6_2_has_no_latency_families() -> None:
    """Redis 6.2 has neither LATENCY HISTOGRAM nor latencystats, and nothing is invented."""
    scraped = Scraped("redis-6.2-primary")
    assert scraped.family("redis_commands_latencies_usec") is None
    assert scraped.family("redis_latency_percentiles_usec") is None
    assert scraped.family("redis_commands_total") is not None


@pytest.mark.parametrize("server", ["valkey-8.1", "valkey-9.1"])
def test_valkey_commandlog_lengths_and_settings(server: str) -> None:
    """Valkey 8.1+ reports its command logs' lengths and thresholds."""
    scraped = Scraped(f"{server}-primary")
    replies = scraped.document["replies"]
    assert scraped.value("redis_commandlog_slow_length") == replies["commandlog_slow"]
    assert scraped.value("redis_commandlog_large_reply_length") == replies["commandlog_large_reply"]
    assert scraped.value("redis_commandlog_execution_slower_than") == 10000


def test_unreachable_target_has_up_zero_and_no_stale_values() -> None:
    """A failed scrape yields redis_up 0, scrape_error 1 and no Redis values at all."""
    scraped = Scraped("redis-7.0-primary", replies={}, refused={}, error="ConnectionError: x")
    assert scraped.value("redis_up") == 0
    assert scraped.value("textfile_redis_scrape_error") == 1
    redis_families = [f.name for f in scraped.families if f.name.startswith("redis_")]
    assert redis_families == ["redis_up"]


def test_refused_config_loses_only_config_metrics(primary: Scraped) -> None:
    """With CONFIG refused, config families vanish, the refusal shows, everything else stays."""
    replies = {k: v for k, v in primary.document["replies"].items() if k != "config"}
    scraped = Scraped(
        f"{primary.document['server']}-primary",
        replies=replies,
        refused={"config": "ERR unknown command 'CONFIG'"},
    )
    assert scraped.family("redis_config_maxmemory") is None
    assert scraped.value("textfile_redis_command_refused", command="config") == 1
    assert scraped.value("redis_up") == 1
    assert scraped.value("redis_db_keys", db="db15") == 0  # 16 databases assumed, as Redis has


def test_every_sample_has_addr_and_static_labels(primary: Scraped) -> None:
    """Every series carries addr and the target's static labels, so servers never collide."""
    assert len(primary.all_samples) > 200
    for sample in primary.all_samples:
        assert sample.labels["addr"] == ADDR
        assert sample.labels["cluster"] == "payments"


def test_help_is_the_same_for_a_family_in_every_file() -> None:
    """node_exporter refuses a family whose HELP differs between files: ours never does."""
    helps: dict[str, set[str]] = {}
    for fixture in sorted(REPLIES.glob("*.json")):
        text = render(Scraped(fixture.stem).families, Marker("o", "t")).decode()
        for line in text.splitlines():
            if line.startswith("# HELP "):
                name, _, help_text = line[len("# HELP ") :].partition(" ")
                helps.setdefault(name, set()).add(help_text)
    assert {name: texts for name, texts in helps.items() if len(texts) > 1} == {}
    assert len(helps) > 100


def test_type_lines_match_sample_names(primary: Scraped) -> None:
    """Each TYPE line names the family its samples belong to, counters without _total too."""
    text = render(primary.families, Marker("o", "t")).decode()
    current = ""
    suffixes = ("", "_bucket", "_sum", "_count")
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            current = line.split(" ")[2]
        elif not line.startswith("#"):
            sample_name = line.split("{", 1)[0].split(" ", 1)[0]
            assert sample_name in {current + suffix for suffix in suffixes}, line


def test_the_settings_asked_for_are_all_translation_reads(primary: Scraped) -> None:
    """CONFIG GET of TRANSLATED_SETTINGS alone gives the very file that CONFIG GET * gives.

    CONFIG GET * comes from the opt-in recording: a primary recorded by today's scraper (Redis
    8.2's) already holds the narrow reply.
    """
    server = primary.document["server"]
    settings = load(f"{server}-opt-ins")["replies"]["config"]
    named = [
        part
        for name, value in zip(settings[::2], settings[1::2], strict=True)
        if any(fnmatch.fnmatchcase(name, pattern) for pattern in TRANSLATED_SETTINGS)
        for part in (name, value)
    ]
    assert 0 < len(named) < len(settings) / 10
    wide = Scraped(f"{server}-primary", replies={**primary.document["replies"], "config": settings})
    narrow = Scraped(f"{server}-primary", replies={**primary.document["replies"], "config": named})
    marker = Marker("o", "t")
    assert render(narrow.families, marker) == render(wide.families, marker)


# INFO fields no family is written from, each with the reason. A field a server adds must land
# here or in a catalogue table: test_every_info_field_is_translated_or_ignored fails otherwise.
IGNORED_INFO_FIELDS: dict[str, str] = {
    # Build and process descriptions: text, or constant for the process's life.
    "arch_bits": "build constant",
    "atomicvar_api": "build constant (text)",
    "gcc_version": "build constant (text)",
    "mem_allocator": "build constant (text)",
    "monotonic_clock": "build constant (text)",
    "multiplexing_api": "build constant (text)",
    "redis_git_dirty": "build constant",
    "redis_git_sha1": "build constant (text)",
    "server_name": "text; redis_instance_info's version labels name the server",
    "executable": "a path (text)",
    "config_file": "a path (text)",
    "process_supervised": "text",
    # Clocks and renderings of fields that are exported.
    "server_time_usec": "the server's wall clock: the scrape's own time",
    "lru_clock": "an internal clock, not a measurement",
    "uptime_in_days": "uptime_in_seconds, rounded down to days",
    "maxmemory_human": "maxmemory in human units (text)",
    "total_system_memory_human": "total_system_memory in human units (text)",
    "used_memory_human": "used_memory in human units (text)",
    "used_memory_lua_human": "used_memory_lua in human units (text)",
    "used_memory_peak_human": "used_memory_peak in human units (text)",
    "used_memory_rss_human": "used_memory_rss in human units (text)",
    "used_memory_scripts_human": "used_memory_scripts in human units (text)",
    "used_memory_vm_total_human": "used_memory_vm_total in human units (text)",
    "used_memory_peak_perc": "used_memory / used_memory_peak, as text with %",
    "used_memory_dataset_perc": "a ratio of exported fields, as text with %",
    "rss_overhead_bytes": "redis_exporter v1.88 does not export it",
    "rss_overhead_ratio": "redis_exporter v1.88 does not export it",
    # Rates the server averages itself: Prometheus derives them from the exported counters.
    "instantaneous_ops_per_sec": "a rate of redis_commands_processed_total",
    "instantaneous_input_kbps": "a rate of redis_net_input_bytes_total",
    "instantaneous_output_kbps": "a rate of redis_net_output_bytes_total",
    "instantaneous_input_repl_kbps": "a rate of redis_net_repl_input_bytes_total",
    "instantaneous_output_repl_kbps": "a rate of redis_net_repl_output_bytes_total",
    # Fields redis_exporter v1.88 leaves out; the files stay as it writes them.
    "aof_rewrites": "redis_exporter v1.88 does not export it",
    "aof_rewrites_consecutive_failures": "redis_exporter v1.88 does not export it",
    "current_active_defrag_time": "redis_exporter v1.88 does not export it",
    "total_active_defrag_time": "redis_exporter v1.88 does not export it",
    "current_cow_peak": "redis_exporter v1.88 does not export it",
    "current_cow_size": "redis_exporter v1.88 does not export it",
    "current_cow_size_age": "redis_exporter v1.88 does not export it",
    "current_fork_perc": "redis_exporter v1.88 does not export it",
    "current_save_keys_processed": "redis_exporter v1.88 does not export it",
    "current_save_keys_total": "redis_exporter v1.88 does not export it",
    "total_forks": "redis_exporter v1.88 does not export it",
    "slave_read_repl_offset": "redis_exporter v1.88 does not export it",
    "master_failover_state": "text: redis_exporter v1.88 does not export it",
    "master_replid2": "an id (text); master_replid is redis_instance_info's label",
    "replica_announced": "redis_exporter v1.88 does not export it",
    "io_threaded_total_prefetch_batches": "redis_exporter v1.88 does not export it",
    "io_threaded_total_prefetch_entries": "redis_exporter v1.88 does not export it",
    # Valkey 8.1 and 9.1.
    "clients_hz": "redis_exporter v1.88 does not export it",
    "io_threaded_accept_processed": "redis_exporter v1.88 does not export it",
    "io_threaded_freed_objects": "redis_exporter v1.88 does not export it",
    "io_threaded_poll_processed": "redis_exporter v1.88 does not export it",
    "paused_actions": "text: redis_exporter v1.88 does not export it",
    "paused_reason": "text: redis_exporter v1.88 does not export it",
    "paused_timeout_milliseconds": "redis_exporter v1.88 does not export it",
    "slot_migration_fork_in_progress": "redis_exporter v1.88 does not export it",
    "mem_cluster_slot_export": "redis_exporter v1.88 does not export it",
    "mem_cluster_slot_import": "redis_exporter v1.88 does not export it",
    "total_net_cluster_slot_export_bytes": "redis_exporter v1.88 does not export it",
    "total_net_cluster_slot_import_bytes": "redis_exporter v1.88 does not export it",
}
# Fields named by pattern: one per thread, listener, module or database.
IGNORED_INFO_PATTERNS: dict[str, str] = {
    r"listener\d+": "a listener's name, address and port (text)",
    r"module": "a loaded module's name and options (text)",
    r"io_thread_\d+": (
        "Redis 8: one I/O thread's clients, reads and writes; their sums are exported"
        " (connected_clients, redis_total_reads_processed, redis_total_writes_processed)"
    ),
    r"db\d+_distrib_\w+": (
        "Redis 8 key-size histograms (power-of-two buckets as text); redis_exporter has no"
        " family for them"
    ),
}
# Fields translated only in some states, which the recordings (no TLS) do not reach: a
# certificate's expiry is written when the certificate is loaded (its serial is not "none").
# test_tls_certificates_are_written_only_when_loaded checks them.
STATE_DEPENDENT_INFO_FIELDS = {f"tls_{cert}_cert_expires_in_seconds" for cert in TLS_EXPIRY}
# Sections whose every line is a command's or an error's, translated line by line whatever
# its name: their names are the server's commands, not fields.
PER_COMMAND_SECTIONS = ("Commandstats", "Latencystats", "Errorstats")


def _ignored(key: str) -> bool:
    return key in IGNORED_INFO_FIELDS or any(
        re.fullmatch(pattern, key) for pattern in IGNORED_INFO_PATTERNS
    )


def _info_only(info: str) -> list[Family]:
    """INFO alone, translated with every INFO-fed option on."""
    extras = Extras(include_system_metrics=True)
    return translate(Outcome(addr=ADDR, replies={"info": info}, now=NOW, extras=extras)).families


def _without(info: str, keys: set[str]) -> str:
    """The INFO reply less the lines of these fields."""
    return "".join(
        line for line in info.splitlines(keepends=True) if line.split(":", 1)[0] not in keys
    )


def _info_lines(info: str) -> list[tuple[str, str, str]]:
    """Every (section, field, value) line of an INFO reply, in order."""
    return [(section, *pair) for section, pairs in parse_info(info).sections for pair in pairs]


@pytest.mark.parametrize("fixture", sorted(path.stem for path in REPLIES.glob("*.json")))
def test_every_info_field_is_translated_or_ignored(fixture: str) -> None:
    """Each INFO field of a recording is in a catalogue table, feeds a family, or is ignored."""
    info = load(fixture)["replies"]["info"]
    written = [(f.name, tuple(f.lines)) for f in _info_only(info)]
    tables = {**catalog.INFO_FAMILIES, **catalog.SYSTEM_GAUGES, **catalog.CLUSTER_GAUGES}
    tables |= dict.fromkeys(STATE_DEPENDENT_INFO_FIELDS, "")
    lines = [line for line in _info_lines(info) if line[0] not in PER_COMMAND_SECTIONS]
    ignored = {key for _, key, _ in lines if _ignored(key)}
    silent = [
        key
        for _, key, _ in lines
        if key not in tables
        and key not in ignored
        # Removing it must change what is written: it is a label, or feeds its own family.
        and [(f.name, tuple(f.lines)) for f in _info_only(_without(info, {key}))] == written
    ]
    assert silent == [], f"neither translated nor in IGNORED_INFO_FIELDS: {silent}"
    unchanged = [(f.name, tuple(f.lines)) for f in _info_only(_without(info, ignored))]
    assert unchanged == written, "an ignored field is translated: take it off the ignore list"


def test_every_ignored_info_field_is_in_a_recording() -> None:
    """No ignore entry outlives the fields it was made for."""
    keys = {
        key
        for path in REPLIES.glob("*.json")
        for _, key, _ in _info_lines(load(path.stem)["replies"]["info"])
    }
    stale = [name for name in IGNORED_INFO_FIELDS if name not in keys]
    stale += [p for p in IGNORED_INFO_PATTERNS if not any(re.fullmatch(p, k) for k in keys)]
    assert stale == []
    assert not set(IGNORED_INFO_FIELDS) & {*catalog.INFO_FAMILIES, *catalog.SYSTEM_GAUGES}


def test_redis_8_replica_fields_become_their_families() -> None:
    """Redis 8's replica link, full-sync buffer and memory peak fields become their families."""
    replica = Scraped("redis-8.2-replica")
    fields = {
        "redis_master_link_up_since_seconds": "master_link_up_since_seconds",
        "redis_master_current_sync_attempts": "master_current_sync_attempts",
        "redis_master_sync_attempts_total": "master_total_sync_attempts",
        "redis_disconnect_time_seconds_total": "total_disconnect_time_sec",
        "redis_replica_full_sync_buffer_size_bytes": "replica_full_sync_buffer_size",
        "redis_replica_full_sync_buffer_peak_bytes": "replica_full_sync_buffer_peak",
        "redis_mem_replica_full_sync_buffer_bytes": "mem_replica_full_sync_buffer",
        "redis_memory_used_peak_timestamp_seconds": "used_memory_peak_time",
    }
    for name, field in fields.items():
        assert replica.value(name) == float(replica.info(field)), name
    assert replica.value("redis_master_sync_attempts_total") == 1.0
    peak_time = replica.value("redis_memory_used_peak_timestamp_seconds")
    assert peak_time is not None
    assert peak_time > 1.7e9
    kinds = {family.name: family.kind for family in replica.families}
    assert kinds["redis_disconnect_time_seconds_total"] == "counter"
    assert kinds["redis_master_link_up_since_seconds"] == "gauge"


def _with_info(fixture: str, replace: dict[str, str], add: str = "") -> Scraped:
    """A recording whose INFO has these fields' values replaced (each field must be in it).

    `add`, lines to append: translation reads these fields by name, whatever their section.
    """
    document = load(fixture)
    info = document["replies"]["info"]
    for field, value in replace.items():
        line = f"{field}:{value}\r"
        info, count = re.subn(rf"^{re.escape(field)}:.*\r$", line, info, flags=re.MULTILINE)
        assert count == 1, field
    return Scraped(fixture, replies={**document["replies"], "info": info + add})


def test_valkey_9_fields_newer_exporters_read_become_their_families() -> None:
    """Valkey 9.1's replica buffers, expired fields, ACL denials and engine totals are exported."""
    replica = Scraped("valkey-9.1-replica")
    gauges = {
        "redis_replicas_waiting_psync": "replicas_waiting_psync",
        "redis_replicas_repl_buffer_size_bytes": "replicas_repl_buffer_size",
        "redis_replicas_repl_buffer_peak_bytes": "replicas_repl_buffer_peak",
        "redis_mem_replicas_repl_buffer_bytes": "mem_replicas_repl_buffer",
        "redis_expired_keys_with_volatile_items_stale_percentage": (
            "expired_keys_with_volatile_items_stale_perc"
        ),
        "redis_scripting_engines": "engines_count",
        "redis_scripting_engines_memory_used_bytes": "engines_total_used_memory",
        "redis_scripting_engines_memory_overhead_bytes": "engines_total_memory_overhead",
        "redis_expired_fields_total": "expired_fields",
        "redis_acl_access_denied_db_total": "acl_access_denied_db",
        "redis_acl_access_denied_tls_cert_total": "acl_access_denied_tls_cert",
    }
    for name, field in gauges.items():
        assert replica.value(name) == float(replica.info(field)), name
    assert replica.value("redis_scripting_engines") == 1
    assert replica.value("redis_scripting_engines_memory_used_bytes") == 69632
    kinds = {family.name: family.kind for family in replica.families}
    assert kinds["redis_acl_access_denied_db_total"] == "counter"
    assert kinds["redis_expired_fields_total"] == "counter"


def test_scripting_engines_have_a_series_each() -> None:
    """engine_0 (Valkey 9.1's LUA) gives its memory and overhead labelled with its name."""
    primary = Scraped("valkey-9.1-primary")
    assert primary.value("redis_scripting_engine_memory_used_bytes", engine="LUA") == 69632
    assert primary.value("redis_scripting_engine_memory_overhead_bytes", engine="LUA") == 56
    assert Scraped("valkey-8.1-primary").family("redis_scripting_engine_memory_used_bytes") is None


def test_availability_zone_is_an_instance_info_label_where_reported() -> None:
    """Valkey's availability_zone labels redis_instance_info; Redis has no such label."""
    zoned = _with_info("valkey-9.1-primary", {"availability_zone": "eu-west-1a"})
    (labels,) = zoned.samples("redis_instance_info")
    assert labels["availability_zone"] == "eu-west-1a"
    (redis_labels,) = Scraped("redis-8.2-primary").samples("redis_instance_info")
    assert "availability_zone" not in redis_labels


@pytest.mark.parametrize(
    ("fixture", "field"),
    [("redis-8.2-primary", "subexpiry"), ("valkey-9.1-primary", "keys_with_volatile_items")],
)
def test_keys_with_expiring_items_come_from_either_keyspace_field(fixture: str, field: str) -> None:
    """Redis's subexpiry and Valkey's keys_with_volatile_items both feed one keyspace family."""
    scraped = _with_info(fixture, {"db1": f"keys=4,expires=3,avg_ttl=7199796,{field}=2"})
    assert scraped.value("redis_db_keys_with_expiring_items", db="db1") == 2
    assert scraped.value("redis_db_keys_with_expiring_items", db="db0") == 0
    assert scraped.value("redis_db_keys_cached", db="db1") is None
    assert Scraped("redis-7.0-primary").family("redis_db_keys_with_expiring_items") is None


def test_tls_certificates_are_written_only_when_loaded() -> None:
    """A loaded certificate's expiry and serial are written; Valkey's 0 for "none" is not."""
    without = Scraped("valkey-9.1-primary")
    assert without.family("redis_tls_server_cert_expires_in_seconds") is None
    assert without.family("redis_tls_certificate_info") is None
    loaded = _with_info(
        "valkey-9.1-primary",
        {"tls_server_cert_serial": "4A1F", "tls_server_cert_expires_in_seconds": "172795"},
    )
    assert loaded.value("redis_tls_server_cert_expires_in_seconds") == 172795
    assert loaded.value("redis_tls_certificate_info", cert="server", serial="4A1F") == 1
    assert loaded.family("redis_tls_ca_cert_expires_in_seconds") is None  # still "none"


def test_last_save_age_is_the_scrape_clock_less_the_last_save() -> None:
    """redis_rdb_last_save_age_seconds is now - rdb_last_save_time on every recording."""
    for server in SERVERS:
        primary = Scraped(f"{server}-primary")
        age = NOW - float(primary.info("rdb_last_save_time"))
        assert primary.value("redis_rdb_last_save_age_seconds") == age, server


def test_link_down_since_is_written_only_while_the_link_is_down() -> None:
    """A replica whose link is down reports for how long, labelled with its primary."""
    assert Scraped("redis-8.2-replica").family("redis_master_link_down_since_seconds") is None
    down = _with_info(
        "redis-7.0-replica",
        {"master_link_status": "down"},
        add="master_link_down_since_seconds:42\r\n",
    )
    master = {"master_host": "127.0.0.1", "master_port": down.info("master_port")}
    assert down.value("redis_master_link_down_since_seconds", **master) == 42
    assert down.value("redis_master_link_up", **master) == 0


def test_health_fields_a_server_garbles_write_nothing_wrong() -> None:
    """Unreadable expiries, save times and engine lines lose their own series, never INFO's."""
    flood = "".join(f"engine_{n}:name=E{n},used_memory={n}\r\n" for n in range(1, 100))
    scraped = _with_info(
        "valkey-9.1-primary",
        {
            "tls_server_cert_serial": "AB",
            "tls_server_cert_expires_in_seconds": "soon",
            "rdb_last_save_time": "nan",
        },
        add=flood,
    )
    engines = scraped.samples("redis_scripting_engine_memory_used_bytes")
    assert len(engines) == MAX_ENGINES  # the first 64 engine lines, LUA's included
    assert scraped.family("redis_tls_server_cert_expires_in_seconds") is None
    assert scraped.value("redis_tls_certificate_info", cert="server", serial="AB") == 1
    assert scraped.family("redis_rdb_last_save_age_seconds") is None
    assert scraped.value("redis_connected_clients") == float(scraped.info("connected_clients"))
    assert scraped.malformed == ()
    nameless = _with_info("valkey-9.1-primary", {"engine_0": "module=lua,used_memory=1"})
    assert nameless.family("redis_scripting_engine_memory_used_bytes") is None
