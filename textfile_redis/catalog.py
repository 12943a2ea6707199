"""Every metric family textfile-redis writes, defined once: name, type, HELP, labels, source.

Translation refers to these entries, never to names of its own making; docs/metrics.md's
reference is generated from them (`python -m tests.fixtures.reference --write docs/metrics.md`,
which adds the first server version each family is written for, from the recordings);
tests/test_catalog.py holds every family written on every recording to them. Names follow
redis_exporter v1.88; HELP is the same in every file (node_exporter refuses a family whose HELP
differs between files). Only INFO_FIELD_BY_NAME stands for names no table can list.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping

GAUGE, COUNTER, SUMMARY, HISTOGRAM = "gauge", "counter", "summary", "histogram"
COMMON_LABELS = ("addr",)  # on every series, with the target's static labels
SAMPLE_LABELS = {SUMMARY: ("quantile",), HISTOGRAM: ("le",)}  # on some of a family's samples
SAMPLE_SUFFIXES = {GAUGE: ("",), COUNTER: ("",), SUMMARY: ("", "_sum", "_count")}
SAMPLE_SUFFIXES[HISTOGRAM] = ("_bucket", "_sum", "_count")
LATENCY_OPT_OUT = "exclude_latency_histogram_metrics"


@dataclass(frozen=True, slots=True, eq=False)
class Metric:
    """One family: what it is called, its type and HELP, its labels, where it comes from.

    `option` names the target option that turns an opt-in family on ("" when on by default),
    `opt_out` the one that turns a default family off. `optional` labels are on some series
    only (a newer server's field, an option). Compared by identity: entries are made once.
    """

    name: str
    kind: str
    help: str
    labels: tuple[str, ...] = ()
    source: str = "INFO"
    option: str = ""
    optional: tuple[str, ...] = ()
    opt_out: str = ""
    pattern: str = ""  # a regular expression for the names an entry stands for, when many


MASTER = ("master_host", "master_port")
SLAVE = ("slave_ip", "slave_port", "slave_state")
CMD = ("cmd",)
DB = ("db",)
KEY = ("db", "key")
KEY_GROUP = ("db", "key_group")
STREAM = ("db", "stream")
GROUP = ("db", "stream", "group")
CONSUMER = ("db", "stream", "group", "consumer")
CLIENT = ("id", "name")
SENTINEL_MASTER = ("master_name", "master_address")
BUFFER_LIMIT = ("class", "limit")
SETTING = ("key",)
KEYS_OPTION = "check_keys, check_single_keys"
STREAMS_OPTION = "check_streams, check_single_streams"
CLIENTS_OPTION = "export_client_list"
CLIENT_LOAD_OPTION = "export_client_load"
ACL_LOG_OPTION = "export_acl_log"
CONFIG_OPTION = "include_config_metrics"
INSTANCE_LABELS = (
    "role",
    "redis_version",
    "redis_build_id",
    "redis_mode",
    "os",
    "maxmemory_policy",
    "tcp_port",
    "run_id",
    "process_id",
    "master_replid",
)

# The server as a whole.
UP = Metric(
    "redis_up",
    GAUGE,
    "Whether the last scrape of the Redis server succeeded (1) or not (0).",
    source="the scrape",
)
INSTANCE_INFO = Metric(
    "redis_instance_info",
    GAUGE,
    "Identity of the Redis server; the value is always 1.",
    INSTANCE_LABELS,
    "INFO",
    optional=("valkey_version", "valkey_release_stage", "availability_zone"),
)
START_TIME_SECONDS = Metric(
    "redis_start_time_seconds",
    GAUGE,
    "Start time of the Redis server, seconds since the Unix epoch.",
    source="INFO uptime_in_seconds",
)
CONFIGURED_HZ = Metric(
    "redis_configured_hz",
    GAUGE,
    "Configured frequency of the server's background tasks, in Hz.",
    source="INFO configured_hz",
)
HZ = Metric(
    "redis_hz",
    GAUGE,
    "Current frequency of the server's background tasks, in Hz.",
    source="INFO hz",
)
LATEST_FORK_SECONDS = Metric(
    "redis_latest_fork_seconds",
    GAUGE,
    "Duration of the latest fork, in seconds.",
    source="INFO latest_fork_usec",
)
RDB_LAST_SAVE_AGE_SECONDS = Metric(
    "redis_rdb_last_save_age_seconds",
    GAUGE,
    "Seconds since the last successful RDB save, by the scrape's clock; the server's start counts"
    " as a save.",
    source="INFO rdb_last_save_time, the scrape's clock",
)
ACTIVE_TIME_IO_THREAD_SECONDS_TOTAL = Metric(
    "redis_active_time_io_thread_seconds_total",
    COUNTER,
    "Time an I/O thread was active, in seconds.",
    ("thread",),
    "INFO used_active_time_io_thread_<n>",
)

# Keyspace.
DB_KEYS = Metric(
    "redis_db_keys", GAUGE, "Number of keys in the database.", DB, "INFO Keyspace, CONFIG databases"
)
DB_KEYS_EXPIRING = Metric(
    "redis_db_keys_expiring",
    GAUGE,
    "Number of keys with an expiry in the database.",
    DB,
    "INFO Keyspace, CONFIG databases",
)
DB_KEYS_CACHED = Metric(
    "redis_db_keys_cached",
    GAUGE,
    "Number of cached keys in the database (KeyDB).",
    DB,
    "INFO Keyspace",
)
DB_KEYS_WITH_EXPIRING_ITEMS = Metric(
    "redis_db_keys_with_expiring_items",
    GAUGE,
    "Number of keys in the database holding items (hash fields) with an expiry.",
    DB,
    "INFO Keyspace subexpiry (Redis 7.4+), keys_with_volatile_items (Valkey 9+)",
)
DB_AVG_TTL_SECONDS = Metric(
    "redis_db_avg_ttl_seconds",
    GAUGE,
    "Average time to live of the database's expiring keys.",
    DB,
    "INFO Keyspace",
)

# Commands, errors and latency.
COMMANDS_TOTAL = Metric(
    "redis_commands_total",
    COUNTER,
    "Calls per command since the statistics were reset.",
    CMD,
    "INFO Commandstats",
)
COMMANDS_DURATION_SECONDS_TOTAL = Metric(
    "redis_commands_duration_seconds_total",
    COUNTER,
    "Time spent per command, in seconds.",
    CMD,
    "INFO Commandstats",
)
COMMANDS_REJECTED_CALLS_TOTAL = Metric(
    "redis_commands_rejected_calls_total",
    COUNTER,
    "Calls per command rejected before execution.",
    CMD,
    "INFO Commandstats (Redis 6.2+)",
)
COMMANDS_FAILED_CALLS_TOTAL = Metric(
    "redis_commands_failed_calls_total",
    COUNTER,
    "Calls per command that failed during execution.",
    CMD,
    "INFO Commandstats (Redis 6.2+)",
)
LATENCY_PERCENTILES_USEC = Metric(
    "redis_latency_percentiles_usec",
    SUMMARY,
    "Latency percentiles per command, in microseconds.",
    CMD,
    "INFO Latencystats and Commandstats (Redis 7+)",
)
COMMANDS_LATENCIES_USEC = Metric(
    "redis_commands_latencies_usec",
    HISTOGRAM,
    "Latency distribution per command, in microseconds.",
    CMD,
    "LATENCY HISTOGRAM (Redis 7+), INFO Commandstats",
    opt_out=LATENCY_OPT_OUT,
)
ERRORS_TOTAL = Metric(
    "redis_errors_total", COUNTER, "Error replies per error prefix.", ("err",), "INFO Errorstats"
)
SLOWLOG_LENGTH = Metric(
    "redis_slowlog_length", GAUGE, "Entries in the slow log.", source="SLOWLOG LEN"
)
SLOWLOG_LAST_ID = Metric(
    "redis_slowlog_last_id", GAUGE, "Id of the newest slow log entry.", source="SLOWLOG GET 1"
)
LAST_SLOW_EXECUTION_DURATION_SECONDS = Metric(
    "redis_last_slow_execution_duration_seconds",
    GAUGE,
    "Duration of the newest slow log entry.",
    source="SLOWLOG GET 1",
)
LATENCY_SPIKE_LAST = Metric(
    "redis_latency_spike_last",
    GAUGE,
    "When the event's latest latency spike happened, Unix time.",
    ("event_name",),
    "LATENCY LATEST",
    opt_out=LATENCY_OPT_OUT,
)
LATENCY_SPIKE_DURATION_SECONDS = Metric(
    "redis_latency_spike_duration_seconds",
    GAUGE,
    "Latency of the event's latest spike, in seconds.",
    ("event_name",),
    "LATENCY LATEST",
    opt_out=LATENCY_OPT_OUT,
)

# Replication.
MASTER_LINK_UP = Metric(
    "redis_master_link_up",
    GAUGE,
    "Whether the replica's link to its primary is up (1) or not (0).",
    MASTER,
    "INFO Replication",
)
MASTER_LINK_DOWN_SINCE_SECONDS = Metric(
    "redis_master_link_down_since_seconds",
    GAUGE,
    "Seconds the replica's link to its primary has been down; -1 if it was never up.",
    MASTER,
    "INFO Replication master_link_down_since_seconds",
)
MASTER_LAST_IO_SECONDS_AGO = Metric(
    "redis_master_last_io_seconds_ago",
    GAUGE,
    "Seconds since the replica last heard from its primary.",
    MASTER,
    "INFO Replication",
)
MASTER_SYNC_IN_PROGRESS = Metric(
    "redis_master_sync_in_progress",
    GAUGE,
    "Whether the replica is synchronising with its primary.",
    MASTER,
    "INFO Replication",
)
SLAVE_REPL_OFFSET = Metric(
    "redis_slave_repl_offset",
    GAUGE,
    "Replication offset of the replica.",
    MASTER,
    "INFO Replication",
)
SLAVE_INFO = Metric(
    "redis_slave_info",
    GAUGE,
    "Replication settings of a replica; the value is always 1.",
    (*MASTER, "read_only"),
    "INFO Replication",
)
CONNECTED_SLAVE_OFFSET_BYTES = Metric(
    "redis_connected_slave_offset_bytes",
    GAUGE,
    "Replication offset a connected replica acknowledged.",
    SLAVE,
    "INFO Replication",
)
CONNECTED_SLAVE_LAG_SECONDS = Metric(
    "redis_connected_slave_lag_seconds",
    GAUGE,
    "Seconds since a connected replica last acknowledged.",
    SLAVE,
    "INFO Replication",
)

# TLS certificates (Valkey 9.1+), written only for a certificate the server has loaded.
TLS_SERVER_CERT_EXPIRES_IN_SECONDS = Metric(
    "redis_tls_server_cert_expires_in_seconds",
    GAUGE,
    "Seconds until the server's TLS certificate expires; negative once it has.",
    source="INFO TLS tls_server_cert_expires_in_seconds",
)
TLS_CLIENT_CERT_EXPIRES_IN_SECONDS = Metric(
    "redis_tls_client_cert_expires_in_seconds",
    GAUGE,
    "Seconds until the TLS client certificate (for replication, cluster bus) expires.",
    source="INFO TLS tls_client_cert_expires_in_seconds",
)
TLS_CA_CERT_EXPIRES_IN_SECONDS = Metric(
    "redis_tls_ca_cert_expires_in_seconds",
    GAUGE,
    "Seconds until the TLS CA certificate expires; negative once it has.",
    source="INFO TLS tls_ca_cert_expires_in_seconds",
)
TLS_CERTIFICATE_INFO = Metric(
    "redis_tls_certificate_info",
    GAUGE,
    "A TLS certificate the server has loaded, by kind and serial; the value is always 1.",
    ("cert", "serial"),
    "INFO TLS tls_<cert>_cert_serial",
)

# Scripting engines (Valkey 9.1+), one series per engine.
SCRIPTING_ENGINE_MEMORY_USED_BYTES = Metric(
    "redis_scripting_engine_memory_used_bytes",
    GAUGE,
    "Memory the scripting engine uses, in bytes.",
    ("engine",),
    "INFO Scripting Engines engine_<n>",
)
SCRIPTING_ENGINE_MEMORY_OVERHEAD_BYTES = Metric(
    "redis_scripting_engine_memory_overhead_bytes",
    GAUGE,
    "Memory overhead of the scripting engine, in bytes.",
    ("engine",),
    "INFO Scripting Engines engine_<n>",
)

# Settings.
CONFIG_IO_THREADS = Metric(
    "redis_config_io_threads", GAUGE, "The io-threads setting.", source="CONFIG GET io-threads"
)
CONFIG_MAXCLIENTS = Metric(
    "redis_config_maxclients", GAUGE, "The maxclients setting.", source="CONFIG GET maxclients"
)
CONFIG_MAXMEMORY = Metric(
    "redis_config_maxmemory",
    GAUGE,
    "The maxmemory setting, in bytes.",
    source="CONFIG GET maxmemory",
)
CONFIG_REPL_BACKLOG_SIZE = Metric(
    "redis_config_repl_backlog_size",
    GAUGE,
    "The repl-backlog-size setting, in bytes.",
    source="CONFIG GET repl-backlog-size",
)
CONFIG_CLIENT_OUTPUT_BUFFER_LIMIT_BYTES = Metric(
    "redis_config_client_output_buffer_limit_bytes",
    GAUGE,
    "Output buffer limit per client class.",
    BUFFER_LIMIT,
    "CONFIG GET client-output-buffer-limit",
)
CONFIG_CLIENT_OUTPUT_BUFFER_LIMIT_OVERCOME_SECONDS = Metric(
    "redis_config_client_output_buffer_limit_overcome_seconds",
    GAUGE,
    "Seconds a client class may stay over its soft output buffer limit.",
    BUFFER_LIMIT,
    "CONFIG GET client-output-buffer-limit",
)

# Valkey's COMMANDLOG (8.1+): its settings and lengths.
COMMANDLOG_EXECUTION_SLOWER_THAN = Metric(
    "redis_commandlog_execution_slower_than",
    GAUGE,
    "Slow command log threshold, in microseconds.",
    source="CONFIG GET commandlog-execution-slower-than",
)
COMMANDLOG_SLOW_EXECUTION_MAX_LEN = Metric(
    "redis_commandlog_slow_execution_max_len",
    GAUGE,
    "Entries the slow command log keeps at most.",
    source="CONFIG GET commandlog-slow-execution-max-len",
)
COMMANDLOG_REQUEST_LARGER_THAN = Metric(
    "redis_commandlog_request_larger_than",
    GAUGE,
    "Large-request command log threshold, in bytes.",
    source="CONFIG GET commandlog-request-larger-than",
)
COMMANDLOG_LARGE_REQUEST_MAX_LEN = Metric(
    "redis_commandlog_large_request_max_len",
    GAUGE,
    "Entries the large-request log keeps at most.",
    source="CONFIG GET commandlog-large-request-max-len",
)
COMMANDLOG_REPLY_LARGER_THAN = Metric(
    "redis_commandlog_reply_larger_than",
    GAUGE,
    "Large-reply command log threshold, in bytes.",
    source="CONFIG GET commandlog-reply-larger-than",
)
COMMANDLOG_LARGE_REPLY_MAX_LEN = Metric(
    "redis_commandlog_large_reply_max_len",
    GAUGE,
    "Entries the large-reply log keeps at most.",
    source="CONFIG GET commandlog-large-reply-max-len",
)
COMMANDLOG_SLOW_LENGTH = Metric(
    "redis_commandlog_slow_length",
    GAUGE,
    "Entries in the slow command log.",
    source="COMMANDLOG LEN slow",
)
COMMANDLOG_LARGE_REQUEST_LENGTH = Metric(
    "redis_commandlog_large_request_length",
    GAUGE,
    "Entries in the large-request command log.",
    source="COMMANDLOG LEN large-request",
)
COMMANDLOG_LARGE_REPLY_LENGTH = Metric(
    "redis_commandlog_large_reply_length",
    GAUGE,
    "Entries in the large-reply command log.",
    source="COMMANDLOG LEN large-reply",
)

# A sentinel (redis_mode:sentinel): its INFO section, then per master.
SENTINEL_MASTERS = Metric(
    "redis_sentinel_masters", GAUGE, "Redis INFO field sentinel_masters.", source="INFO Sentinel"
)
SENTINEL_TILT = Metric(
    "redis_sentinel_tilt", GAUGE, "Redis INFO field sentinel_tilt.", source="INFO Sentinel"
)
SENTINEL_RUNNING_SCRIPTS = Metric(
    "redis_sentinel_running_scripts",
    GAUGE,
    "Redis INFO field sentinel_running_scripts.",
    source="INFO Sentinel",
)
SENTINEL_SCRIPTS_QUEUE_LENGTH = Metric(
    "redis_sentinel_scripts_queue_length",
    GAUGE,
    "Redis INFO field sentinel_scripts_queue_length.",
    source="INFO Sentinel",
)
SENTINEL_SIMULATE_FAILURE_FLAGS = Metric(
    "redis_sentinel_simulate_failure_flags",
    GAUGE,
    "Redis INFO field sentinel_simulate_failure_flags.",
    source="INFO Sentinel",
)
SENTINEL_MASTER_STATUS = Metric(
    "redis_sentinel_master_status",
    GAUGE,
    "Whether the sentinel sees the master's status as ok (1) or not (0).",
    (*SENTINEL_MASTER, "master_status"),
    "INFO Sentinel masterN",
)
SENTINEL_MASTER_SLAVES = Metric(
    "redis_sentinel_master_slaves",
    GAUGE,
    "Replicas the sentinel knows for the master.",
    SENTINEL_MASTER,
    "INFO Sentinel masterN",
)
SENTINEL_MASTER_SENTINELS = Metric(
    "redis_sentinel_master_sentinels",
    GAUGE,
    "Sentinels monitoring the master, this one included.",
    SENTINEL_MASTER,
    "INFO Sentinel masterN",
)
SENTINEL_MASTER_SETTING_CKQUORUM = Metric(
    "redis_sentinel_master_setting_ckquorum",
    GAUGE,
    "The master's quorum setting: sentinels that must agree it is down.",
    SENTINEL_MASTER,
    "SENTINEL MASTERS quorum",
)
SENTINEL_MASTER_SETTING_FAILOVER_TIMEOUT = Metric(
    "redis_sentinel_master_setting_failover_timeout",
    GAUGE,
    "The master's failover-timeout setting, in milliseconds.",
    SENTINEL_MASTER,
    "SENTINEL MASTERS failover-timeout",
)
SENTINEL_MASTER_SETTING_PARALLEL_SYNCS = Metric(
    "redis_sentinel_master_setting_parallel_syncs",
    GAUGE,
    "The master's parallel-syncs setting: replicas resynchronised at once after a failover.",
    SENTINEL_MASTER,
    "SENTINEL MASTERS parallel-syncs",
)
SENTINEL_MASTER_SETTING_DOWN_AFTER_MILLISECONDS = Metric(
    "redis_sentinel_master_setting_down_after_milliseconds",
    GAUGE,
    "The master's down-after-milliseconds setting.",
    SENTINEL_MASTER,
    "SENTINEL MASTERS down-after-milliseconds",
)
SENTINEL_MASTER_CONFIG_EPOCH = Metric(
    "redis_sentinel_master_config_epoch",
    GAUGE,
    "The master's configuration epoch, raised by each failover.",
    SENTINEL_MASTER,
    "SENTINEL MASTERS config-epoch",
)
SENTINEL_MASTER_LAST_OK_PING_REPLY_SECONDS = Metric(
    "redis_sentinel_master_last_ok_ping_reply_seconds",
    GAUGE,
    "Seconds since the master last answered a ping correctly.",
    SENTINEL_MASTER,
    "SENTINEL MASTERS last-ok-ping-reply",
)
SENTINEL_MASTER_CKQUORUM_STATUS = Metric(
    "redis_sentinel_master_ckquorum_status",
    GAUGE,
    "Whether the sentinels can reach the quorum to fail the master over (1) or not (0).",
    ("master_name", "message"),
    "SENTINEL CKQUORUM",
)
SENTINEL_MASTER_OK_SENTINELS = Metric(
    "redis_sentinel_master_ok_sentinels",
    GAUGE,
    "Sentinels monitoring the master that are not down, this one included.",
    SENTINEL_MASTER,
    "SENTINEL SENTINELS",
)
SENTINEL_MASTER_OK_SLAVES = Metric(
    "redis_sentinel_master_ok_slaves",
    GAUGE,
    "Replicas of the master that are not down.",
    SENTINEL_MASTER,
    "SENTINEL REPLICAS",
)

# Opt-in: every setting.
CONFIG_KEY_VALUE = Metric(
    "redis_config_key_value",
    GAUGE,
    "A setting and its value as labels; the value is always 1. Secrets are left out.",
    ("key", "value"),
    "CONFIG GET *",
    CONFIG_OPTION,
)
CONFIG_VALUE = Metric(
    "redis_config_value",
    GAUGE,
    "A numeric setting's value. Secrets are left out.",
    SETTING,
    "CONFIG GET *",
    CONFIG_OPTION,
)
SENTINEL_CONFIG_KEY_VALUE = Metric(
    "redis_sentinel_config_key_value",
    GAUGE,
    "A sentinel setting and its value as labels; the value is always 1. Secrets are left out.",
    ("key", "value"),
    "SENTINEL CONFIG GET *",
    CONFIG_OPTION,
)
SENTINEL_CONFIG_VALUE = Metric(
    "redis_sentinel_config_value",
    GAUGE,
    "A numeric sentinel setting's value. Secrets are left out.",
    SETTING,
    "SENTINEL CONFIG GET *",
    CONFIG_OPTION,
)

# Opt-in: keys inspected by SCAN patterns or by name.
KEY_SIZE = Metric(
    "redis_key_size",
    GAUGE,
    "Size of the key: a string's length, a collection's elements, a HyperLogLog's cardinality.",
    KEY,
    "STRLEN, LLEN, SCARD, ZCARD, HLEN, XLEN, PFCOUNT",
    KEYS_OPTION,
)
KEY_VALUE = Metric(
    "redis_key_value",
    GAUGE,
    "Value of a string key that holds a number.",
    KEY,
    "GETRANGE",
    KEYS_OPTION,
)
KEY_VALUE_AS_STRING = Metric(
    "redis_key_value_as_string",
    GAUGE,
    "Value of a string key that holds no number, as the val label; the value is always 1.",
    (*KEY, "val"),
    "GETRANGE",
    KEYS_OPTION,
)
KEY_MEMORY_USAGE_BYTES = Metric(
    "redis_key_memory_usage_bytes",
    GAUGE,
    "Memory the key and its value take, in bytes.",
    KEY,
    "MEMORY USAGE",
    KEYS_OPTION,
)
KEYS_COUNT = Metric(
    "redis_keys_count",
    GAUGE,
    "Keys matching the pattern (the key label) in the database.",
    KEY,
    "SCAN",
    "count_keys",
)
KEY_GROUP_COUNT = Metric(
    "redis_key_group_count",
    GAUGE,
    "Keys in the key group; the groups past max_distinct_key_groups are summed as overflow.",
    KEY_GROUP,
    "SCAN, MEMORY USAGE",
    "check_key_groups",
)
KEY_GROUP_MEMORY_USAGE_BYTES = Metric(
    "redis_key_group_memory_usage_bytes",
    GAUGE,
    "Memory the key group's keys take, in bytes.",
    KEY_GROUP,
    "SCAN, MEMORY USAGE",
    "check_key_groups",
)
NUMBER_OF_DISTINCT_KEY_GROUPS = Metric(
    "redis_number_of_distinct_key_groups",
    GAUGE,
    "Distinct key groups in the database, before any are summed as overflow.",
    DB,
    "SCAN",
    "check_key_groups",
)
LAST_KEY_GROUPS_SCRAPE_DURATION_MILLISECONDS = Metric(
    "redis_last_key_groups_scrape_duration_milliseconds",
    GAUGE,
    "Time the last key group sweep took, in milliseconds.",
    source="SCAN, MEMORY USAGE",
    option="check_key_groups",
)

# Opt-in, bounded insight: the biggest keys of each database (the last complete SCAN sweep's
# top insight_top_n by sampled MEMORY USAGE) and a cluster node's busiest slots.
BIGGEST_KEYS_OPTION = "export_biggest_keys"
SLOT_STATS_OPTION = "export_cluster_slot_stats"
BIGGEST_KEY = ("db", "key", "type")
SLOT = ("slot",)
BIGGEST_KEY_MEMORY_BYTES = Metric(
    "redis_biggest_key_memory_bytes",
    GAUGE,
    "Memory one of the database's insight_top_n biggest keys takes, sampled, in bytes.",
    BIGGEST_KEY,
    "SCAN, MEMORY USAGE SAMPLES 5, TYPE",
    BIGGEST_KEYS_OPTION,
)
BIGGEST_KEYS_OTHER_MEMORY_BYTES = Metric(
    "redis_biggest_keys_other_memory_bytes",
    GAUGE,
    "Memory the database's keys outside its biggest take together, sampled, in bytes.",
    DB,
    "SCAN, MEMORY USAGE SAMPLES 5",
    BIGGEST_KEYS_OPTION,
)
BIGGEST_KEYS_SCANNED_KEYS = Metric(
    "redis_biggest_keys_scanned_keys",
    GAUGE,
    "Keys the last complete biggest-keys sweep of the database measured.",
    DB,
    "SCAN, MEMORY USAGE SAMPLES 5",
    BIGGEST_KEYS_OPTION,
)
BIGGEST_KEYS_SWEEP_SECONDS = Metric(
    "redis_biggest_keys_sweep_seconds",
    GAUGE,
    "Time the last complete biggest-keys sweep of the database took, over its cycles, in seconds.",
    DB,
    "SCAN, MEMORY USAGE SAMPLES 5",
    BIGGEST_KEYS_OPTION,
)
CLUSTER_SLOT_KEYS = Metric(
    "redis_cluster_slot_keys",
    GAUGE,
    "Keys in the slot, for the node's insight_top_n slots holding the most.",
    SLOT,
    "CLUSTER SLOT-STATS ORDERBY key-count",
    SLOT_STATS_OPTION,
)
CLUSTER_SLOT_CPU_SECONDS_TOTAL = Metric(
    "redis_cluster_slot_cpu_seconds_total",
    COUNTER,
    "CPU time the slot's commands took, for the node's insight_top_n busiest slots, in seconds.",
    SLOT,
    "CLUSTER SLOT-STATS ORDERBY cpu-usec",
    SLOT_STATS_OPTION,
)
CLUSTER_SLOT_NETWORK_BYTES_IN_TOTAL = Metric(
    "redis_cluster_slot_network_bytes_in_total",
    COUNTER,
    "Bytes the slot's commands received, for the node's insight_top_n slots receiving the most.",
    SLOT,
    "CLUSTER SLOT-STATS ORDERBY network-bytes-in",
    SLOT_STATS_OPTION,
)
CLUSTER_SLOT_NETWORK_BYTES_OUT_TOTAL = Metric(
    "redis_cluster_slot_network_bytes_out_total",
    COUNTER,
    "Bytes the slot's commands sent, for the node's insight_top_n slots sending the most.",
    SLOT,
    "CLUSTER SLOT-STATS ORDERBY network-bytes-out",
    SLOT_STATS_OPTION,
)

# Opt-in: streams.
STREAM_LENGTH = Metric(
    "redis_stream_length", GAUGE, "Entries in the stream.", STREAM, "XINFO STREAM", STREAMS_OPTION
)
STREAM_RADIX_TREE_KEYS = Metric(
    "redis_stream_radix_tree_keys",
    GAUGE,
    "Keys of the stream's radix tree.",
    STREAM,
    "XINFO STREAM",
    STREAMS_OPTION,
)
STREAM_RADIX_TREE_NODES = Metric(
    "redis_stream_radix_tree_nodes",
    GAUGE,
    "Nodes of the stream's radix tree.",
    STREAM,
    "XINFO STREAM",
    STREAMS_OPTION,
)
STREAM_GROUPS = Metric(
    "redis_stream_groups",
    GAUGE,
    "Consumer groups of the stream.",
    STREAM,
    "XINFO STREAM",
    STREAMS_OPTION,
)
STREAM_LAST_GENERATED_ID = Metric(
    "redis_stream_last_generated_id",
    GAUGE,
    "Time part of the stream's last generated id, Unix time in milliseconds.",
    STREAM,
    "XINFO STREAM",
    STREAMS_OPTION,
)
STREAM_MAX_DELETED_ENTRY_ID = Metric(
    "redis_stream_max_deleted_entry_id",
    GAUGE,
    "Time part of the newest id deleted from the stream, Unix time in milliseconds.",
    STREAM,
    "XINFO STREAM (Redis 7+)",
    STREAMS_OPTION,
)
STREAM_FIRST_ENTRY_ID = Metric(
    "redis_stream_first_entry_id",
    GAUGE,
    "Time part of the stream's first entry id, Unix time in milliseconds; 0 when empty.",
    STREAM,
    "XINFO STREAM",
    STREAMS_OPTION,
)
STREAM_LAST_ENTRY_ID = Metric(
    "redis_stream_last_entry_id",
    GAUGE,
    "Time part of the stream's last entry id, Unix time in milliseconds; 0 when empty.",
    STREAM,
    "XINFO STREAM",
    STREAMS_OPTION,
)
STREAM_ENTRIES_ADDED_TOTAL = Metric(
    "redis_stream_entries_added_total",
    COUNTER,
    "Entries ever added to the stream, deleted ones included.",
    STREAM,
    "XINFO STREAM (Redis 7+)",
    STREAMS_OPTION,
)
STREAM_GROUP_CONSUMERS = Metric(
    "redis_stream_group_consumers",
    GAUGE,
    "Consumers in the consumer group.",
    GROUP,
    "XINFO GROUPS",
    STREAMS_OPTION,
)
STREAM_GROUP_MESSAGES_PENDING = Metric(
    "redis_stream_group_messages_pending",
    GAUGE,
    "Entries delivered to the group's consumers and not yet acknowledged.",
    GROUP,
    "XINFO GROUPS",
    STREAMS_OPTION,
)
STREAM_GROUP_LAST_DELIVERED_ID = Metric(
    "redis_stream_group_last_delivered_id",
    GAUGE,
    "Time part of the group's last delivered id, Unix time in milliseconds.",
    GROUP,
    "XINFO GROUPS",
    STREAMS_OPTION,
)
STREAM_GROUP_ENTRIES_READ = Metric(
    "redis_stream_group_entries_read",
    GAUGE,
    "Entries the consumer group has read.",
    GROUP,
    "XINFO GROUPS (Redis 7+)",
    STREAMS_OPTION,
)
STREAM_GROUP_LAG = Metric(
    "redis_stream_group_lag",
    GAUGE,
    "Entries not yet delivered to the group's consumers; 0 while the server cannot tell.",
    GROUP,
    "XINFO GROUPS (Redis 7+)",
    STREAMS_OPTION,
)
STREAM_GROUP_CONSUMER_MESSAGES_PENDING = Metric(
    "redis_stream_group_consumer_messages_pending",
    GAUGE,
    "Entries delivered to the consumer and not yet acknowledged.",
    CONSUMER,
    "XINFO CONSUMERS",
    STREAMS_OPTION,
)
STREAM_GROUP_CONSUMER_IDLE_SECONDS = Metric(
    "redis_stream_group_consumer_idle_seconds",
    GAUGE,
    "Seconds since the consumer last interacted with the server.",
    CONSUMER,
    "XINFO CONSUMERS",
    STREAMS_OPTION,
)

# Opt-in: each client connection.
CONNECTED_CLIENT_INFO = Metric(
    "redis_connected_client_info",
    GAUGE,
    "A client connection, its details as labels; the value is always 1.",
    ("id", "name", "flags", "db", "host"),
    "CLIENT LIST",
    CLIENTS_OPTION,
    optional=("port", "user", "resp"),
)
CONNECTED_CLIENT_OUTPUT_BUFFER_MEMORY_USAGE_BYTES = Metric(
    "redis_connected_client_output_buffer_memory_usage_bytes",
    GAUGE,
    "Memory the client's output buffer takes, in bytes (omem).",
    CLIENT,
    "CLIENT LIST",
    CLIENTS_OPTION,
)
CONNECTED_CLIENT_TOTAL_MEMORY_CONSUMED_BYTES = Metric(
    "redis_connected_client_total_memory_consumed_bytes",
    GAUGE,
    "Memory the client takes in all its buffers, in bytes (tot-mem).",
    CLIENT,
    "CLIENT LIST",
    CLIENTS_OPTION,
)
CONNECTED_CLIENT_CHANNEL_SUBSCRIPTIONS_COUNT = Metric(
    "redis_connected_client_channel_subscriptions_count",
    GAUGE,
    "Channels the client is subscribed to (sub).",
    CLIENT,
    "CLIENT LIST",
    CLIENTS_OPTION,
)
CONNECTED_CLIENT_PATTERN_MATCHING_SUBSCRIPTIONS_COUNT = Metric(
    "redis_connected_client_pattern_matching_subscriptions_count",
    GAUGE,
    "Patterns the client is subscribed to (psub).",
    CLIENT,
    "CLIENT LIST",
    CLIENTS_OPTION,
)
CONNECTED_CLIENT_QUERY_BUFFER_LENGTH_BYTES = Metric(
    "redis_connected_client_query_buffer_length_bytes",
    GAUGE,
    "Length of the client's query buffer, in bytes (qbuf).",
    CLIENT,
    "CLIENT LIST",
    CLIENTS_OPTION,
)
CONNECTED_CLIENT_QUERY_BUFFER_FREE_SPACE_BYTES = Metric(
    "redis_connected_client_query_buffer_free_space_bytes",
    GAUGE,
    "Free space in the client's query buffer, in bytes (qbuf-free).",
    CLIENT,
    "CLIENT LIST",
    CLIENTS_OPTION,
)
CONNECTED_CLIENT_OUTPUT_BUFFER_LENGTH_BYTES = Metric(
    "redis_connected_client_output_buffer_length_bytes",
    GAUGE,
    "Length of the client's fixed output buffer, in bytes (obl).",
    CLIENT,
    "CLIENT LIST",
    CLIENTS_OPTION,
)
CONNECTED_CLIENT_OUTPUT_LIST_LENGTH = Metric(
    "redis_connected_client_output_list_length",
    GAUGE,
    "Replies queued in the client's output list (oll).",
    CLIENT,
    "CLIENT LIST",
    CLIENTS_OPTION,
)
CONNECTED_CLIENT_SHARD_CHANNEL_SUBSCRIPTIONS_COUNT = Metric(
    "redis_connected_client_shard_channel_subscriptions_count",
    GAUGE,
    "Shard channels the client is subscribed to (ssub, Redis 7.0.3+).",
    CLIENT,
    "CLIENT LIST",
    CLIENTS_OPTION,
)
CONNECTED_CLIENT_SHARD_CHANNEL_WATCHED_KEYS = Metric(
    "redis_connected_client_shard_channel_watched_keys",
    GAUGE,
    "Keys the client watches (watch, Redis 7.4+).",
    CLIENT,
    "CLIENT LIST",
    CLIENTS_OPTION,
)
CONNECTED_CLIENT_CREATED_AT_TIMESTAMP = Metric(
    "redis_connected_client_created_at_timestamp",
    GAUGE,
    "When the client connected, Unix time in seconds (now less age).",
    CLIENT,
    "CLIENT LIST",
    CLIENTS_OPTION,
)
CONNECTED_CLIENT_IDLE_SINCE_TIMESTAMP = Metric(
    "redis_connected_client_idle_since_timestamp",
    GAUGE,
    "When the client last sent a command, Unix time in seconds (now less idle).",
    CLIENT,
    "CLIENT LIST",
    CLIENTS_OPTION,
)

# Opt-in: load per ACL user and per client name, summed over CLIENT LIST; our own families (no
# exporter has them). The top insight_top_n by connections keep their label, the rest is `other`.
# Commands and bytes are sums over the connections open now: they drop when a client leaves, so
# they are gauges, not counters.
_OURS = "textfile-redis's own family"
CONNECTED_CLIENTS_BY_USER = Metric(
    "redis_connected_clients_by_user",
    GAUGE,
    f"Connections open per ACL user; the top N users, the rest as other ({_OURS}).",
    ("user",),
    "CLIENT LIST",
    CLIENT_LOAD_OPTION,
)
CLIENT_COMMANDS_PROCESSED_BY_USER = Metric(
    "redis_client_commands_processed_by_user",
    GAUGE,
    "Commands run by the user's open connections (tot-cmds, where reported); "
    f"drops when one closes ({_OURS}).",
    ("user",),
    "CLIENT LIST",
    CLIENT_LOAD_OPTION,
)
CLIENT_NET_INPUT_BYTES_BY_USER = Metric(
    "redis_client_net_input_bytes_by_user",
    GAUGE,
    "Bytes read from the user's open connections (tot-net-in, where reported); "
    f"drops when one closes ({_OURS}).",
    ("user",),
    "CLIENT LIST",
    CLIENT_LOAD_OPTION,
)
CLIENT_NET_OUTPUT_BYTES_BY_USER = Metric(
    "redis_client_net_output_bytes_by_user",
    GAUGE,
    "Bytes sent to the user's open connections (tot-net-out, where reported); "
    f"drops when one closes ({_OURS}).",
    ("user",),
    "CLIENT LIST",
    CLIENT_LOAD_OPTION,
)
CONNECTED_CLIENTS_BY_NAME = Metric(
    "redis_connected_clients_by_name",
    GAUGE,
    f"Connections open per client name; the top N names, the rest as other ({_OURS}).",
    ("name",),
    "CLIENT LIST",
    CLIENT_LOAD_OPTION,
)
CLIENT_COMMANDS_PROCESSED_BY_NAME = Metric(
    "redis_client_commands_processed_by_name",
    GAUGE,
    "Commands run by the open connections of this name (tot-cmds, where reported); "
    f"drops when one closes ({_OURS}).",
    ("name",),
    "CLIENT LIST",
    CLIENT_LOAD_OPTION,
)
CLIENT_NET_INPUT_BYTES_BY_NAME = Metric(
    "redis_client_net_input_bytes_by_name",
    GAUGE,
    "Bytes read from the open connections of this name (tot-net-in, where reported); "
    f"drops when one closes ({_OURS}).",
    ("name",),
    "CLIENT LIST",
    CLIENT_LOAD_OPTION,
)
CLIENT_NET_OUTPUT_BYTES_BY_NAME = Metric(
    "redis_client_net_output_bytes_by_name",
    GAUGE,
    "Bytes sent to the open connections of this name (tot-net-out, where reported); "
    f"drops when one closes ({_OURS}).",
    ("name",),
    "CLIENT LIST",
    CLIENT_LOAD_OPTION,
)

# Opt-in: ACL LOG, our own families. Entries age out and ACL LOG RESET empties the log: gauges.
ACL_LOG_ENTRIES = Metric(
    "redis_acl_log_entries",
    GAUGE,
    f"Entries in the ACL log, of the newest 128 read ({_OURS}).",
    source="ACL LOG 128",
    option=ACL_LOG_OPTION,
)
ACL_LOG_DENIALS = Metric(
    "redis_acl_log_denials",
    GAUGE,
    "Denials the ACL log holds (its entries' count), per reason and user (unknown: a failed "
    "AUTH's name that is no user); the top N pairs, the rest as other; drops when entries "
    f"leave the log ({_OURS}).",
    ("reason", "user"),
    "ACL LOG 128, ACL USERS",
    ACL_LOG_OPTION,
)

# Opt-in: Lua scripts.
SCRIPT_RESULT = Metric(
    "redis_script_result",
    GAUGE,
    "Whether the script ran: 1 with values, 2 without values, 0 failed.",
    ("filename",),
    "EVAL",
    "lua_scripts",
)
SCRIPT_VALUES = Metric(
    "redis_script_values",
    GAUGE,
    "A value the script returned, under the name it returned with it.",
    ("key", "filename"),
    "EVAL",
    "lua_scripts",
)

# textfile-redis's own families.
SCRAPE_DURATION_SECONDS = Metric(
    "textfile_redis_scrape_duration_seconds",
    GAUGE,
    "Time the last scrape of this target took.",
    source="textfile-redis",
)
SCRAPE_ERROR = Metric(
    "textfile_redis_scrape_error",
    GAUGE,
    "Whether the last scrape of this target failed (1) or not (0).",
    source="textfile-redis",
)
COMMAND_REFUSED = Metric(
    "textfile_redis_command_refused",
    GAUGE,
    "Commands the server refused; their metrics are missing from this file.",
    ("command",),
    "textfile-redis",
)
REPLY_MALFORMED = Metric(
    "textfile_redis_reply_malformed",
    GAUGE,
    "Replies of a shape or value translation cannot use; their metrics are missing.",
    ("command",),
    "textfile-redis",
)
SCAN_IN_PROGRESS = Metric(
    "textfile_redis_scan_in_progress",
    GAUGE,
    "A key sweep a time budget left unfinished; its families are older or missing.",
    ("kind", "db", "pattern"),
    "textfile-redis",
    "check_keys, count_keys, check_key_groups, check_streams",
)
BUILD_INFO = Metric(
    "textfile_redis_build_info",
    GAUGE,
    "Version of textfile-redis; the value is always 1.",
    ("version",),
    "textfile-redis",
)
SERIES = Metric(
    "textfile_redis_series",
    GAUGE,
    "Series in this file, these self-metrics included.",
    source="textfile-redis: the series budget",
)
SERIES_LIMIT = Metric(
    "textfile_redis_series_limit",
    GAUGE,
    "Series this file may hold: max_series, or its share of max_series_total if less.",
    source="textfile-redis: the series budget",
)
SERIES_DROPPED = Metric(
    "textfile_redis_series_dropped",
    GAUGE,
    "Series of an opt-in family left out of this file, whole, to keep within the series budget.",
    ("family",),
    "textfile-redis: the series budget",
)


# INFO field -> family, as redis_exporter v1.88 maps them: each becomes an entry of INFO_FAMILIES.
# Fields in no table are not exported, but for those INFO_FIELD_BY_NAME stands for.
INFO_GAUGES: dict[str, str] = {
    "uptime_in_seconds": "redis_uptime_in_seconds",
    "process_id": "redis_process_id",
    "io_threads_active": "redis_io_threads_active",
    "connected_clients": "redis_connected_clients",
    "blocked_clients": "redis_blocked_clients",
    "maxclients": "redis_max_clients",
    "tracking_clients": "redis_tracking_clients",
    "clients_in_timeout_table": "redis_clients_in_timeout_table",
    "pubsub_clients": "redis_pubsub_clients",
    "watching_clients": "redis_watching_clients",
    "total_watched_keys": "redis_total_watched_keys",
    "total_blocking_keys": "redis_total_blocking_keys",
    "total_blocking_keys_on_nokey": "redis_total_blocking_keys_on_nokey",
    "client_longest_output_list": "redis_client_longest_output_list",
    "client_biggest_input_buf": "redis_client_biggest_input_buf",
    "client_recent_max_output_buffer": "redis_client_recent_max_output_buffer_bytes",
    "client_recent_max_input_buffer": "redis_client_recent_max_input_buffer_bytes",
    "allocator_active": "redis_allocator_active_bytes",
    "allocator_allocated": "redis_allocator_allocated_bytes",
    "allocator_resident": "redis_allocator_resident_bytes",
    "allocator_frag_ratio": "redis_allocator_frag_ratio",
    "allocator_frag_bytes": "redis_allocator_frag_bytes",
    "allocator_muzzy": "redis_allocator_muzzy_bytes",
    "allocator_rss_ratio": "redis_allocator_rss_ratio",
    "allocator_rss_bytes": "redis_allocator_rss_bytes",
    "used_memory": "redis_memory_used_bytes",
    "used_memory_rss": "redis_memory_used_rss_bytes",
    "used_memory_peak": "redis_memory_used_peak_bytes",
    "used_memory_peak_time": "redis_memory_used_peak_timestamp_seconds",  # Redis 8; by the rules
    "used_memory_lua": "redis_memory_used_lua_bytes",
    "used_memory_vm_eval": "redis_memory_used_vm_eval_bytes",
    "used_memory_scripts_eval": "redis_memory_used_scripts_eval_bytes",
    "used_memory_overhead": "redis_memory_used_overhead_bytes",
    "used_memory_startup": "redis_memory_used_startup_bytes",
    "used_memory_dataset": "redis_memory_used_dataset_bytes",
    "number_of_cached_scripts": "redis_number_of_cached_scripts",
    "number_of_functions": "redis_number_of_functions",
    "number_of_libraries": "redis_number_of_libraries",
    # Valkey 9.1's scripting engines in total (by the rules; per engine: SCRIPTING_ENGINE_*).
    "engines_count": "redis_scripting_engines",
    "engines_total_used_memory": "redis_scripting_engines_memory_used_bytes",
    "engines_total_memory_overhead": "redis_scripting_engines_memory_overhead_bytes",
    "used_memory_vm_functions": "redis_memory_used_vm_functions_bytes",
    "used_memory_scripts": "redis_memory_used_scripts_bytes",
    "used_memory_functions": "redis_memory_used_functions_bytes",
    "used_memory_vm_total": "redis_memory_used_vm_total",
    "maxmemory": "redis_memory_max_bytes",
    "maxmemory_reservation": "redis_memory_max_reservation_bytes",
    "maxmemory_desired_reservation": "redis_memory_max_reservation_desired_bytes",
    "maxfragmentationmemory_reservation": "redis_memory_max_fragmentation_reservation_bytes",
    "maxfragmentationmemory_desired_reservation": "redis_memory_max_fragmentation_reservation_desired_bytes",
    "mem_fragmentation_ratio": "redis_mem_fragmentation_ratio",
    "mem_fragmentation_bytes": "redis_mem_fragmentation_bytes",
    "mem_clients_slaves": "redis_mem_clients_slaves",
    "mem_clients_normal": "redis_mem_clients_normal",
    "mem_cluster_links": "redis_mem_cluster_links_bytes",
    "mem_aof_buffer": "redis_mem_aof_buffer_bytes",
    "mem_replication_backlog": "redis_mem_replication_backlog_bytes",
    "expired_stale_perc": "redis_expired_stale_percentage",
    # Valkey 9.1's; redis_exporter v1.90+ exports these, names by its rules (docs/metrics.md).
    "expired_keys_with_volatile_items_stale_perc": (
        "redis_expired_keys_with_volatile_items_stale_percentage"
    ),
    "mem_not_counted_for_evict": "redis_mem_not_counted_for_eviction_bytes",
    "mem_total_replication_buffers": "redis_mem_total_replication_buffers_bytes",
    "mem_replica_full_sync_buffer": "redis_mem_replica_full_sync_buffer_bytes",  # Redis 8
    "mem_replicas_repl_buffer": "redis_mem_replicas_repl_buffer_bytes",  # Valkey 9.1; by the rules
    "mem_overhead_db_hashtable_rehashing": "redis_mem_overhead_db_hashtable_rehashing_bytes",
    "lazyfree_pending_objects": "redis_lazyfree_pending_objects",
    "lazyfreed_objects": "redis_lazyfreed_objects",
    "active_defrag_running": "redis_active_defrag_running",
    "migrate_cached_sockets": "redis_migrate_cached_sockets_total",
    "active_defrag_hits": "redis_defrag_hits",
    "active_defrag_misses": "redis_defrag_misses",
    "active_defrag_key_hits": "redis_defrag_key_hits",
    "active_defrag_key_misses": "redis_defrag_key_misses",
    "loading": "redis_loading_dump_file",
    "async_loading": "redis_async_loading",
    "rdb_changes_since_last_save": "redis_rdb_changes_since_last_save",
    "rdb_bgsave_in_progress": "redis_rdb_bgsave_in_progress",
    "rdb_last_save_time": "redis_rdb_last_save_timestamp_seconds",
    "rdb_last_bgsave_status": "redis_rdb_last_bgsave_status",
    "rdb_last_bgsave_time_sec": "redis_rdb_last_bgsave_duration_sec",
    "rdb_current_bgsave_time_sec": "redis_rdb_current_bgsave_duration_sec",
    "rdb_saves": "redis_rdb_saves_total",
    "rdb_last_cow_size": "redis_rdb_last_cow_size_bytes",
    "rdb_last_load_keys_expired": "redis_rdb_last_load_expired_keys",
    "rdb_last_load_keys_loaded": "redis_rdb_last_load_loaded_keys",
    "aof_enabled": "redis_aof_enabled",
    "aof_rewrite_in_progress": "redis_aof_rewrite_in_progress",
    "aof_rewrite_scheduled": "redis_aof_rewrite_scheduled",
    "aof_last_rewrite_time_sec": "redis_aof_last_rewrite_duration_sec",
    "aof_current_rewrite_time_sec": "redis_aof_current_rewrite_duration_sec",
    "aof_last_cow_size": "redis_aof_last_cow_size_bytes",
    "aof_current_size": "redis_aof_current_size_bytes",
    "aof_base_size": "redis_aof_base_size_bytes",
    "aof_pending_rewrite": "redis_aof_pending_rewrite",
    "aof_buffer_length": "redis_aof_buffer_length",
    "aof_rewrite_buffer_length": "redis_aof_rewrite_buffer_length",
    "aof_pending_bio_fsync": "redis_aof_pending_bio_fsync",
    "aof_delayed_fsync": "redis_aof_delayed_fsync",
    "aof_last_bgrewrite_status": "redis_aof_last_bgrewrite_status",
    "aof_last_write_status": "redis_aof_last_write_status",
    "module_fork_in_progress": "redis_module_fork_in_progress",
    "module_fork_last_cow_size": "redis_module_fork_last_cow_size",
    "current_eviction_exceeded_time": "redis_current_eviction_exceeded_time_ms",
    "pubsub_channels": "redis_pubsub_channels",
    "pubsub_patterns": "redis_pubsub_patterns",
    "pubsubshard_channels": "redis_pubsubshard_channels",
    "tracking_total_keys": "redis_tracking_total_keys",
    "tracking_total_items": "redis_tracking_total_items",
    "tracking_total_prefixes": "redis_tracking_total_prefixes",
    "instantaneous_eventloop_cycles_per_sec": "redis_instantaneous_eventloop_cycles_per_sec",
    "instantaneous_eventloop_duration_usec": "redis_instantaneous_eventloop_duration_usec",
    "connected_slaves": "redis_connected_slaves",
    "repl_backlog_size": "redis_replication_backlog_bytes",
    "repl_backlog_active": "redis_repl_backlog_is_active",
    "repl_backlog_first_byte_offset": "redis_repl_backlog_first_byte_offset",
    "repl_backlog_histlen": "redis_repl_backlog_history_bytes",
    "master_repl_offset": "redis_master_repl_offset",
    "second_repl_offset": "redis_second_repl_offset",
    "slave_expires_tracked_keys": "redis_slave_expires_tracked_keys",
    "slave_priority": "redis_slave_priority",
    "sync_full": "redis_replica_resyncs_full",
    "sync_partial_ok": "redis_replica_partial_resync_accepted",
    "sync_partial_err": "redis_replica_partial_resync_denied",
    # Valkey 8.1+: replicas waiting for a partial resync, a replica's own buffer (by the rules).
    "replicas_waiting_psync": "redis_replicas_waiting_psync",
    "replicas_repl_buffer_size": "redis_replicas_repl_buffer_size_bytes",
    "replicas_repl_buffer_peak": "redis_replicas_repl_buffer_peak_bytes",
    # A Redis 8 replica's link and full-sync buffer; redis_exporter names none of them yet, so
    # these follow its rules (docs/metrics.md lists them).
    "master_link_up_since_seconds": "redis_master_link_up_since_seconds",
    "master_current_sync_attempts": "redis_master_current_sync_attempts",
    "replica_full_sync_buffer_size": "redis_replica_full_sync_buffer_size_bytes",
    "replica_full_sync_buffer_peak": "redis_replica_full_sync_buffer_peak_bytes",
    "cluster_stats_messages_sent": "redis_cluster_messages_sent_total",
    "cluster_stats_messages_received": "redis_cluster_messages_received_total",
    "server_threads": "redis_server_threads_total",
    "long_lock_waits": "redis_long_lock_waits_total",
    "current_client_thread": "redis_current_client_thread",
    "search_number_of_indexes": "redis_search_number_of_indexes",
    "search_used_memory_indexes": "redis_search_used_memory_indexes_bytes",
    "search_dialect_1": "redis_search_dialect_1",
    "search_dialect_2": "redis_search_dialect_2",
    "search_dialect_3": "redis_search_dialect_3",
    "search_dialect_4": "redis_search_dialect_4",
    "search_global_idle": "redis_search_global_idle",
    "search_global_total": "redis_search_global_total",
    "search_bytes_collected": "redis_search_collected_bytes",
    "search_number_of_active_indexes": "redis_search_number_of_active_indexes",
    "search_number_of_active_indexes_running_queries": "redis_search_number_of_active_indexes_running_queries",
    "search_number_of_active_indexes_indexing": "redis_search_number_of_active_indexes_indexing",
    "search_total_active_write_threads": "redis_search_total_active_write_threads",
    "search_total_num_docs_in_indexes": "redis_search_total_num_docs_in_indexes",
    "search_smallest_memory_index": "redis_search_smallest_memory_index_bytes",
    "search_largest_memory_index": "redis_search_largest_memory_index_bytes",
    "search_used_memory_vector_index": "redis_search_used_memory_vector_index_bytes",
    "search_global_idle_user": "redis_search_global_idle_user",
    "search_global_idle_internal": "redis_search_global_idle_internal",
    "search_global_total_user": "redis_search_global_total_user",
    "search_global_total_internal": "redis_search_global_total_internal",
    "search_gc_bytes_collected": "redis_search_gc_collected_bytes",
    "search_gc_total_docs_not_collected": "redis_search_gc_total_docs_not_collected",
    "search_gc_marked_deleted_vectors": "redis_search_gc_marked_deleted_vectors",
    "search_errors_indexing_failures": "redis_search_errors_indexing_failures",
    "bf_bloom_total_memory_bytes": "redis_bf_bloom_total_memory_bytes",
    "bf_bloom_num_objects": "redis_bf_bloom_num_objects",
    "bf_bloom_num_filters_across_objects": "redis_bf_bloom_num_filters_across_objects",
    "bf_bloom_num_items_across_objects": "redis_bf_bloom_num_items_across_objects",
    "bf_bloom_capacity_across_objects": "redis_bf_bloom_capacity_across_objects",
    "json_total_memory_bytes": "redis_json_total_memory_bytes",
    "json_num_documents": "redis_json_num_documents",
    "search_used_memory_bytes": "redis_search_used_memory_bytes",
    "search_number_of_attributes": "redis_search_number_of_attributes",
    "search_total_indexed_documents": "redis_search_total_indexed_documents",
    "search_query_queue_size": "redis_search_query_queue_size",
    "search_writer_queue_size": "redis_search_writer_queue_size",
    "search_string_interning_store_size": "redis_search_string_interning_store_size",
    "search_vector_externing_hash_extern_errors": "redis_search_vector_externing_hash_extern_errors",
    "search_vector_externing_num_lru_entries": "redis_search_vector_externing_num_lru_entries",
}

INFO_COUNTERS: dict[str, str] = {
    "total_connections_received": "redis_connections_received_total",
    "total_commands_processed": "redis_commands_processed_total",
    "rejected_connections": "redis_rejected_connections_total",
    "total_net_input_bytes": "redis_net_input_bytes_total",
    "total_net_output_bytes": "redis_net_output_bytes_total",
    "total_net_repl_input_bytes": "redis_net_repl_input_bytes_total",
    "total_net_repl_output_bytes": "redis_net_repl_output_bytes_total",
    "expired_subkeys": "redis_expired_subkeys_total",
    "expired_keys": "redis_expired_keys_total",
    "expired_fields": "redis_expired_fields_total",  # Valkey 9.1; by the rules
    "expired_time_cap_reached_count": "redis_expired_time_cap_reached_total",
    "expire_cycle_cpu_milliseconds": "redis_expire_cycle_cpu_time_ms_total",
    "evicted_keys": "redis_evicted_keys_total",
    "evicted_clients": "redis_evicted_clients_total",
    "evicted_scripts": "redis_evicted_scripts_total",
    "total_eviction_exceeded_time": "redis_eviction_exceeded_time_ms_total",
    "keyspace_hits": "redis_keyspace_hits_total",
    "keyspace_misses": "redis_keyspace_misses_total",
    "eventloop_cycles": "redis_eventloop_cycles_total",
    "eventloop_duration_sum": "redis_eventloop_duration_sum_usec_total",
    "eventloop_duration_cmd_sum": "redis_eventloop_duration_cmd_sum_usec_total",
    "used_cpu_sys": "redis_cpu_sys_seconds_total",
    "used_cpu_user": "redis_cpu_user_seconds_total",
    "used_cpu_sys_children": "redis_cpu_sys_children_seconds_total",
    "used_cpu_user_children": "redis_cpu_user_children_seconds_total",
    "used_cpu_sys_main_thread": "redis_cpu_sys_main_thread_seconds_total",
    "used_cpu_user_main_thread": "redis_cpu_user_main_thread_seconds_total",
    "unexpected_error_replies": "redis_unexpected_error_replies",
    "total_error_replies": "redis_total_error_replies",
    "dump_payload_sanitizations": "redis_dump_payload_sanitizations",
    "total_reads_processed": "redis_total_reads_processed",
    "total_writes_processed": "redis_total_writes_processed",
    "io_threaded_reads_processed": "redis_io_threaded_reads_processed",
    "io_threaded_writes_processed": "redis_io_threaded_writes_processed",
    "client_query_buffer_limit_disconnections": "redis_client_query_buffer_limit_disconnections_total",
    "client_output_buffer_limit_disconnections": "redis_client_output_buffer_limit_disconnections_total",
    "reply_buffer_shrinks": "redis_reply_buffer_shrinks_total",
    "reply_buffer_expands": "redis_reply_buffer_expands_total",
    "acl_access_denied_auth": "redis_acl_access_denied_auth_total",
    "acl_access_denied_cmd": "redis_acl_access_denied_cmd_total",
    "acl_access_denied_key": "redis_acl_access_denied_key_total",
    "acl_access_denied_channel": "redis_acl_access_denied_channel_total",
    "acl_access_denied_db": "redis_acl_access_denied_db_total",  # Valkey 9.1; by the rules
    "acl_access_denied_tls_cert": "redis_acl_access_denied_tls_cert_total",  # Valkey 9.1
    "cached_keys": "redis_cached_keys_total",
    "storage_provider_read_hits": "redis_storage_provider_read_hits",
    "storage_provider_read_misses": "redis_storage_provider_read_misses",
    "search_total_indexing_time": "redis_search_indexing_time_ms_total",
    "search_total_cycles": "redis_search_cycles_total",
    "search_total_ms_run": "redis_search_run_ms_total",
    "search_gc_total_cycles": "redis_search_gc_cycles_total",
    "search_gc_total_ms_run": "redis_search_gc_run_ms_total",
    "search_total_queries_processed": "redis_search_queries_processed_total",
    "search_total_query_commands": "redis_search_query_commands_total",
    "search_total_query_execution_time_ms": "redis_search_query_execution_time_ms_total",
    "search_total_active_queries": "redis_search_active_queries_total",
    "bf_bloom_defrag_hits": "redis_bf_bloom_defrag_hits_total",
    "bf_bloom_defrag_misses": "redis_bf_bloom_defrag_misses_total",
    "search_worker_pool_suspend_cnt": "redis_search_worker_pool_suspend_count",
    "search_writer_resumed_cnt": "redis_search_writer_resumed_count",
    "search_reader_resumed_cnt": "redis_search_reader_resumed_count",
    "search_writer_suspension_expired_cnt": "redis_search_writer_suspension_expired_count",
    "search_rdb_load_success_cnt": "redis_search_rdb_load_success_count",
    "search_rdb_load_failure_cnt": "redis_search_rdb_load_failure_count",
    "search_rdb_save_success_cnt": "redis_search_rdb_save_success_count",
    "search_rdb_save_failure_cnt": "redis_search_rdb_save_failure_count",
    "search_successful_requests_count": "redis_search_successful_requests_count",
    "search_failure_requests_count": "redis_search_failure_requests_count",
    "search_hybrid_requests_count": "redis_search_hybrid_requests_count",
    "search_inline_filtering_requests_count": "redis_search_inline_filtering_requests_count",
    "search_hnsw_add_exceptions_count": "redis_search_hnsw_add_exceptions_count",
    "search_hnsw_remove_exceptions_count": "redis_search_hnsw_remove_exceptions_count",
    "search_hnsw_modify_exceptions_count": "redis_search_hnsw_modify_exceptions_count",
    "search_hnsw_search_exceptions_count": "redis_search_hnsw_search_exceptions_count",
    "search_hnsw_create_exceptions_count": "redis_search_hnsw_create_exceptions_count",
    "search_vector_externing_entry_count": "redis_search_vector_externing_entry_count",
    "search_vector_externing_generated_value_cnt": "redis_search_vector_externing_generated_value_count",
    "search_vector_externing_lru_promote_cnt": "redis_search_vector_externing_lru_promote_count",
    "search_vector_externing_deferred_entry_cnt": "redis_search_vector_externing_deferred_entry_count",
    "used_active_time_main_thread": "redis_active_time_main_thread_seconds_total",
    # A Redis 8 replica's, by redis_exporter's rules (docs/metrics.md lists them).
    "master_total_sync_attempts": "redis_master_sync_attempts_total",
    "total_disconnect_time_sec": "redis_disconnect_time_seconds_total",
}

# INFO fields exported only with include_system_metrics, as redis_exporter does.
SYSTEM_GAUGES: dict[str, str] = {"total_system_memory": "redis_total_system_memory_bytes"}


# INFO fields redis_exporter exports by their own names (db*, cmdstat_*, cluster_*) when no table
# maps them: CLUSTER INFO's and INFO Cluster's fields, ones a newer server adds. The only entry
# whose name is not literal: `info_field_family` makes the family of one such field.
INFO_FIELD_BY_NAME = Metric(
    "redis_<field>",
    GAUGE,
    "Redis INFO field <field>.",
    source="INFO, CLUSTER INFO: fields `db*`, `cmdstat_*`, `cluster_*` in no table",
    pattern=r"redis_(db|cmdstat_|cluster_)\w*",
)

# Known fields of that kind, listed so that they have entries of their own.
CLUSTER_GAUGES: dict[str, str] = {
    "cluster_enabled": "redis_cluster_enabled",
    "cluster_connections": "redis_cluster_connections",
    "cluster_state": "redis_cluster_state",
    "cluster_slots_assigned": "redis_cluster_slots_assigned",
    "cluster_slots_ok": "redis_cluster_slots_ok",
    "cluster_slots_pfail": "redis_cluster_slots_pfail",
    "cluster_slots_fail": "redis_cluster_slots_fail",
    "cluster_known_nodes": "redis_cluster_known_nodes",
    "cluster_size": "redis_cluster_size",
    "cluster_current_epoch": "redis_cluster_current_epoch",
    "cluster_my_epoch": "redis_cluster_my_epoch",
}


def _info_families() -> dict[str, Metric]:
    """An entry per INFO field of the tables, by field, its HELP naming the field."""
    tables = (
        (INFO_GAUGES, GAUGE, "INFO", ""),
        (CLUSTER_GAUGES, GAUGE, "INFO Cluster, CLUSTER INFO", ""),
        (INFO_COUNTERS, COUNTER, "INFO", ""),
        (SYSTEM_GAUGES, GAUGE, "INFO", "include_system_metrics"),
    )
    return {
        field: Metric(name, kind, f"Redis INFO field {field}.", (), source, option)
        for table, kind, source, option in tables
        for field, name in table.items()
    }


INFO_FAMILIES = _info_families()
FAMILIES: tuple[Metric, ...] = (
    *(entry for entry in tuple(globals().values()) if isinstance(entry, Metric)),
    *INFO_FAMILIES.values(),
)
BY_NAME = {entry.name: entry for entry in FAMILIES if not entry.pattern}
PATTERNS = tuple(entry for entry in FAMILIES if entry.pattern)
# Label names the families use: a target's static labels may not take one of them.
LABEL_NAMES = frozenset(
    {
        *COMMON_LABELS,
        *(label for entry in FAMILIES for label in (*entry.labels, *entry.optional)),
        *(label for labels in SAMPLE_LABELS.values() for label in labels),
    }
)


def info_field_family(field: str) -> Metric:
    """The family of a field INFO_FIELD_BY_NAME covers: its name sanitised, as redis_exporter's."""
    name = f"redis_{re.sub(r'[^a-zA-Z0-9_]', '_', field)}"
    pattern = INFO_FIELD_BY_NAME
    help_text = f"Redis INFO field {name.removeprefix('redis_')}."
    return Metric(name, pattern.kind, help_text, (), pattern.source, pattern=pattern.pattern)


def written_by_name(sample_name: str) -> Metric | None:
    """The literal entry a sample of this name belongs to (a family's or its _sum, _bucket...)."""
    for suffix in ("", "_bucket", "_sum", "_count"):
        entry = (
            BY_NAME.get(sample_name.removesuffix(suffix)) if sample_name.endswith(suffix) else None
        )
        if entry is not None and suffix in SAMPLE_SUFFIXES[entry.kind]:
            return entry
    return None


# docs/metrics.md's reference: the text between these markers is generated.
DOC_BEGIN = "<!-- catalog:begin (python -m tests.fixtures.reference --write docs/metrics.md) -->"
DOC_END = "<!-- catalog:end -->"


def markdown(since: Mapping[str, str]) -> str:
    """The reference table of every family, as docs/metrics.md holds it.

    `since` gives each family's first server version, by name: the recordings tell it, which
    this module does not read (tests/fixtures/reference.py does).
    """
    rows = [
        "| family | type | labels | source | enabled by | since | HELP |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    rows += [_row(entry, since.get(entry.name, "")) for entry in FAMILIES]
    return "\n".join(rows) + "\n"


def _row(entry: Metric, since: str) -> str:
    labels = [f"`{label}`" for label in entry.labels]
    labels += [f"`{label}` (some)" for label in entry.optional]
    enabled = (
        ", ".join(f"`{option}`" for option in entry.option.split(", "))
        if entry.option
        else "default"
    )
    if entry.opt_out:
        enabled += f"; off with `{entry.opt_out}`"
    cells = (
        f"`{entry.name}`",
        entry.kind,
        ", ".join(labels),
        entry.source,
        enabled,
        since,
        entry.help,
    )
    name, *rest = (cell.replace("|", "\\|") for cell in cells)
    return "| " + " | ".join([name, *(cell.replace("<", "&lt;") for cell in rest)]) + " |"


def with_reference(document: str, since: Mapping[str, str]) -> str:
    """A document with the text between the markers replaced by the generated reference."""
    head, begin, rest = document.partition(DOC_BEGIN)
    _, end, tail = rest.partition(DOC_END)
    if not begin or not end:
        msg = f"the document lacks the markers {DOC_BEGIN!r} and {DOC_END!r}"
        raise ValueError(msg)
    return f"{head}{DOC_BEGIN}\n\n{markdown(since)}\n{DOC_END}{tail}"
