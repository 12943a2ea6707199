"""Pure translation: one scrape's plain replies to metric families with redis_exporter's names."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import __version__
from .families import PREFIX, SELF_PREFIX, Families
from .metric_names import INFO_COUNTERS, INFO_GAUGES, SYSTEM_GAUGES
from .replies import as_text_dict
from .translate_keys import key_group_metrics, key_metrics, scan_progress, stream_metrics
from .translate_optin import (
    client_list_metrics,
    cluster_info_metrics,
    config_metrics,
    script_metrics,
)
from .translate_sentinel import sentinel_info_field, sentinel_masters_metrics

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from .exposition import Family

DEFAULT_DATABASES = 16  # what Redis has when CONFIG GET cannot tell

_MASTER_HOST = re.compile(r"^master(_[0-9]+)?_host$")
_MASTER_PORT = re.compile(r"^master(_[0-9]+)?_port$")
_MASTER_LINK = re.compile(r"^master(_[0-9]+)?_link_status$")
_MASTER_DIRECT = re.compile(r"^master(_[0-9]+)?_(last_io_seconds_ago|sync_in_progress)$")
_SLAVE = re.compile(r"^slave\d+$")
_IO_THREAD = re.compile(r"^used_active_time_io_thread_([0-9]+)$")
_BOOLEAN_WORDS = {"ok": 1.0, "true": 1.0, "err": 0.0, "fail": 0.0, "false": 0.0}
_INSTANCE_INFO_FIELDS = (
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
_CONFIG_GAUGES = ("io-threads", "maxclients", "maxmemory", "repl-backlog-size")
_COMMANDLOG_CONFIG = (
    "commandlog-execution-slower-than",
    "commandlog-slow-execution-max-len",
    "commandlog-request-larger-than",
    "commandlog-large-request-max-len",
    "commandlog-reply-larger-than",
    "commandlog-large-reply-max-len",
)
_COMMANDLOG_LENGTHS = {
    "commandlog_slow": "commandlog_slow_length",
    "commandlog_large_request": "commandlog_large_request_length",
    "commandlog_large_reply": "commandlog_large_reply_length",
}


@dataclass(frozen=True, slots=True)
class Extras:
    """The opt-in switches translation itself needs, taken from the target's options."""

    include_config_metrics: bool = False
    include_system_metrics: bool = False
    export_client_port: bool = False
    max_distinct_key_groups: int = 100


@dataclass(frozen=True, slots=True)
class Outcome:
    """One target's scrape as plain data: everything translation needs, nothing it must fetch."""

    addr: str
    replies: Mapping[str, Any] = field(default_factory=dict)
    refused: Mapping[str, str] = field(default_factory=dict)
    error: str | None = None
    duration: float = 0.0
    now: float = 0.0  # wall-clock seconds, for redis_start_time_seconds
    labels: tuple[tuple[str, str], ...] = ()
    extras: Extras = Extras()


def translate(outcome: Outcome) -> list[Family]:
    """All families for one target: Redis metrics when it answered, self metrics always."""
    families = Families({"addr": outcome.addr, **dict(outcome.labels)})
    if outcome.error is None:
        _translate_replies(families, outcome)
    families.gauge(f"{PREFIX}up", 0.0 if outcome.error else 1.0)
    _self_metrics(families, outcome)
    return families.collect()


def _translate_replies(families: Families, outcome: Outcome) -> None:
    replies = outcome.replies
    config = as_text_dict(replies.get("config", []))
    info = parse_info(replies.get("info", ""))
    commands = _info_metrics(families, info, outcome, _databases(info, config))
    _config_metrics(families, config)
    _slowlog_metrics(families, replies)
    _latency_latest_metrics(families, replies.get("latency_latest"))
    _latency_histogram_metrics(families, replies.get("latency_histogram"), commands.usecs)
    _commandlog_metrics(families, replies)
    _opt_in_metrics(families, outcome, config)


def _opt_in_metrics(families: Families, outcome: Outcome, config: Mapping[str, str]) -> None:
    replies, refused, extras = outcome.replies, outcome.refused, outcome.extras
    cluster_info_metrics(families, replies.get("cluster_info"), _field_metric)
    sentinel_masters_metrics(families, replies, refused)
    key_metrics(families, replies)
    key_group_metrics(families, replies, extras.max_distinct_key_groups)
    stream_metrics(families, replies)
    scan_progress(families, replies)
    client_list_metrics(
        families, replies.get("client_list"), outcome.now, with_port=extras.export_client_port
    )
    script_metrics(families, replies, refused)
    if extras.include_config_metrics:
        config_metrics(families, config)
        config_metrics(
            families, as_text_dict(replies.get("sentinel_config", [])), "sentinel_config"
        )


def parse_info(text: str) -> InfoReply:
    """Split an INFO reply into ordered (section, field, value) lines."""
    reply = InfoReply()
    section = ""
    for raw in text.split("\n"):
        line = raw.strip()
        if line.startswith("# "):
            section = line[2:]
        elif ":" in line and len(line) >= 2:  # noqa: PLR2004 - "k:" is the shortest field
            key, _, value = line.partition(":")
            reply.lines.append((section, key, value))
            reply.fields[key] = value
    return reply


@dataclass(slots=True)
class InfoReply:
    """An INFO reply: its lines in order, and the last value of each field."""

    lines: list[tuple[str, str, str]] = field(default_factory=list)
    fields: dict[str, str] = field(default_factory=dict)

    def get(self, key: str, default: str = "") -> str:
        """The field's value, or `default` when the server did not report it."""
        return self.fields.get(key, default)


def _info_metrics(
    families: Families, info: InfoReply, outcome: Outcome, databases: int
) -> _InfoState:
    """INFO's families; returns what it read of commandstats, which the histogram needs too."""
    state = _InfoState(outcome.now)
    system = outcome.extras.include_system_metrics
    for section, key, value in info.lines:
        in_section = _SECTION_FIELDS.get(section)
        if in_section is not None and in_section(families, state, key, value):
            continue
        plan = _exported_field_plan(key, system=system)
        if plan is not None:
            plan.add(families, value)
    _latency_summaries(families, state)
    _empty_databases(families, state.databases_seen, databases)
    _instance_info(families, info)
    return state


@dataclass(slots=True)
class _InfoState:
    """What earlier INFO lines said that later lines need: master address, command stats."""

    now: float  # wall-clock seconds, for redis_start_time_seconds
    master_host: str = ""
    master_port: str = ""
    calls: dict[str, float] = field(default_factory=dict)
    usecs: dict[str, float] = field(default_factory=dict)
    percentiles: dict[str, dict[float, float]] = field(default_factory=dict)
    databases_seen: set[str] = field(default_factory=set)

    def note_master(self, key: str, value: str) -> None:
        if _MASTER_HOST.match(key):
            self.master_host = value
        elif _MASTER_PORT.match(key):
            self.master_port = value


def _replication_field(families: Families, state: _InfoState, key: str, value: str) -> bool:
    state.note_master(key, value)
    master = {"master_host": state.master_host, "master_port": state.master_port}
    if _MASTER_LINK.match(key):
        families.gauge(f"{PREFIX}master_link_up", float(value == "up"), **master)
        return True
    direct = _MASTER_DIRECT.match(key)
    if direct or key == "slave_repl_offset":
        name = f"master_{direct[2]}" if direct else key
        families.gauge(f"{PREFIX}{name}", _int_or_zero(value), **master)
        return True
    if _SLAVE.match(key):
        return _connected_slave(families, value)
    return False


def _connected_slave(families: Families, value: str) -> bool:
    """slaveN:ip=...,port=...,state=online,offset=...,lag=... on a primary."""
    fields = _key_values(value)
    offset = _float_or_none(fields.get("offset", "")) if fields is not None else None
    if fields is None or offset is None:
        return False
    labels = {
        "slave_ip": fields.get("ip", ""),
        "slave_port": fields.get("port", ""),
        "slave_state": fields.get("state", ""),
    }
    families.gauge(f"{PREFIX}connected_slave_offset_bytes", offset, **labels)
    lag = _float_or_none(fields.get("lag", ""))
    if lag is not None:
        families.gauge(f"{PREFIX}connected_slave_lag_seconds", lag, **labels)
    return True


def _server_field(families: Families, state: _InfoState, key: str, value: str) -> bool:
    """uptime_in_seconds and hz; False, as these are plain INFO fields as well."""
    number = _float_or_none(value)
    if number is None:
        return False
    if key == "uptime_in_seconds":
        families.gauge(f"{PREFIX}start_time_seconds", float(int(state.now) - number))
    elif key in {"configured_hz", "hz"}:
        families.gauge(f"{PREFIX}{key}", number)
    return False


def _commandstats_field(families: Families, state: _InfoState, key: str, value: str) -> bool:
    """cmdstat_get:calls=21,usec=175,usec_per_call=8.33[,rejected_calls=0,failed_calls=0]."""
    cmd = key.removeprefix("cmdstat_")
    stats = _key_values(value)
    if cmd == key or stats is None or "calls" not in stats or "usec" not in stats:
        return True
    calls, usec = _float_or_none(stats["calls"]), _float_or_none(stats["usec"])
    if calls is None or usec is None:
        return True
    counters = {
        f"{PREFIX}commands_total": calls,
        f"{PREFIX}commands_duration_seconds_total": usec / 1e6,
    }
    state.calls[cmd], state.usecs[cmd] = calls, usec
    rejected = _float_or_none(stats.get("rejected_calls", ""))
    failed = _float_or_none(stats.get("failed_calls", ""))
    if rejected is not None and failed is not None:  # Redis 6.2 and newer
        counters[f"{PREFIX}commands_rejected_calls_total"] = rejected
        counters[f"{PREFIX}commands_failed_calls_total"] = failed
    families.counters(counters, cmd=cmd)
    return True


def _latencystats_field(_families: Families, state: _InfoState, key: str, value: str) -> bool:
    """latency_percentiles_usec_get:p50=1.003,p99=4.015,p99.9=9.023 (Redis 7 and newer)."""
    cmd = key.removeprefix("latency_percentiles_usec_")
    stats = _key_values(value)
    if cmd == key or stats is None:
        return True
    percentiles = {}
    for name, number in stats.items():
        percentile, latency = _float_or_none(name[1:]), _float_or_none(number)
        if percentile is None or latency is None:
            return True
        percentiles[percentile] = latency
    state.percentiles[cmd] = percentiles
    return True


def _errorstats_field(families: Families, _state: _InfoState, key: str, value: str) -> bool:
    """errorstat_ERR:count=4."""
    kind = key.removeprefix("errorstat_")
    stats = _key_values(value)
    count = _float_or_none(stats.get("count", "")) if stats else None
    if kind != key and count is not None:
        families.counter(f"{PREFIX}errors_total", count, err=kind)
    return True


def _keyspace_field(families: Families, state: _InfoState, key: str, value: str) -> bool:
    """db0:keys=1,expires=0,avg_ttl=0[,subexpiry=0] (cached_keys on KeyDB)."""
    stats = _key_values(value) if key.startswith("db") else None
    if stats is None:
        return False
    keys, expires = _float_or_none(stats.get("keys", "")), _float_or_none(stats.get("expires", ""))
    if keys is None or expires is None:
        return False
    families.gauge(f"{PREFIX}db_keys", keys, db=key)
    families.gauge(f"{PREFIX}db_keys_expiring", expires, db=key)
    cached = _float_or_none(stats.get("cached_keys", ""))
    if cached is not None:
        families.gauge(f"{PREFIX}db_keys_cached", cached, db=key)
    avg_ttl = _float_or_none(stats.get("avg_ttl", ""))
    if avg_ttl is not None:
        families.gauge(f"{PREFIX}db_avg_ttl_seconds", avg_ttl / 1000, db=key)
    state.databases_seen.add(key)
    return True


def _sentinel_field(families: Families, _state: _InfoState, key: str, value: str) -> bool:
    sentinel_info_field(families, key, value)
    return True


# Lines whose meaning depends on their section, by section: True when a line needs no more.
_SECTION_FIELDS: dict[str, Callable[[Families, _InfoState, str, str], bool]] = {
    "Server": _server_field,  # whose fields are plain INFO fields as well
    "Replication": _replication_field,
    "Keyspace": _keyspace_field,
    "Commandstats": _commandstats_field,  # these sections' lines are never plain fields
    "Latencystats": _latencystats_field,
    "Errorstats": _errorstats_field,
    "Sentinel": _sentinel_field,
}


@functools.lru_cache(maxsize=4096)  # field names are the server's own: a few hundred at most
def _exported_field_plan(key: str, *, system: bool) -> _FieldPlan | None:
    """The plan for a plain INFO field redis_exporter exports; None for the others."""
    exported = (
        key.startswith(("db", "cmdstat_", "cluster_"))
        or key in INFO_GAUGES
        or key in INFO_COUNTERS
        or _IO_THREAD.match(key) is not None
        or (system and key in SYSTEM_GAUGES)
    )
    return _field_plan(key) if exported else None


@functools.lru_cache(maxsize=4096)
def _field_plan(key: str) -> _FieldPlan:
    """How a plain INFO field is exported, worked out once per field name, not every cycle."""
    thread = _IO_THREAD.match(key)
    if thread:
        name = f"{PREFIX}active_time_io_thread_seconds_total"
        return _FieldPlan(name, counter=True, labels=(("thread", thread[1]),))
    if key in INFO_COUNTERS:
        return _FieldPlan(f"{PREFIX}{INFO_COUNTERS[key]}", counter=True)
    if key in SYSTEM_GAUGES:
        return _FieldPlan(f"{PREFIX}{SYSTEM_GAUGES[key]}")
    if key == "latest_fork_usec":
        return _FieldPlan(f"{PREFIX}latest_fork_seconds", divisor=1e6)
    return _FieldPlan(f"{PREFIX}{INFO_GAUGES.get(key) or re.sub(r'[^a-zA-Z0-9_]', '_', key)}")


@dataclass(frozen=True, slots=True)
class _FieldPlan:
    """A plain INFO field's sample: its name, type, unit conversion and labels."""

    name: str
    counter: bool = False
    divisor: float = 1.0  # x / 1.0 is exactly x
    labels: tuple[tuple[str, str], ...] = ()

    def add(self, families: Families, value: str) -> None:
        """Add the field's sample: a number, or a word redis_exporter reads as 0 or 1."""
        number = _BOOLEAN_WORDS.get(value)
        if number is None:
            number = _float_or_none(value)
        if number is None:
            return
        add = families.counter if self.counter else families.gauge
        if self.labels:
            add(self.name, number / self.divisor, **dict(self.labels))
        else:
            add(self.name, number / self.divisor)


def _field_metric(families: Families, key: str, value: str) -> None:
    """A plain field of INFO or CLUSTER INFO, exported whatever its name."""
    _field_plan(key).add(families, value)


def _latency_summaries(families: Families, state: _InfoState) -> None:
    """Latencystats percentiles joined with commandstats' calls and usec into summaries."""
    for cmd, percentiles in state.percentiles.items():
        if cmd in state.calls:
            families.summary(
                f"{PREFIX}latency_percentiles_usec",
                state.calls[cmd],
                state.usecs[cmd],
                percentiles,
                cmd=cmd,
            )


def _empty_databases(families: Families, seen: set[str], databases: int) -> None:
    """Zero series for empty databases, as redis_exporter does by default."""
    for index in range(databases):
        db = f"db{index}"
        if db not in seen:
            families.gauge(f"{PREFIX}db_keys", 0.0, db=db)
            families.gauge(f"{PREFIX}db_keys_expiring", 0.0, db=db)


def _instance_info(families: Families, info: InfoReply) -> None:
    labels = {name: info.get(name) for name in _INSTANCE_INFO_FIELDS}
    # Valkey 8 renamed redis_mode to server_mode; redis_exporter then leaves the label empty.
    labels["redis_mode"] = labels["redis_mode"] or info.get("server_mode")
    for valkey_only in ("valkey_version", "valkey_release_stage"):
        if valkey_only in info.fields:
            labels[valkey_only] = info.get(valkey_only)
    families.gauge(f"{PREFIX}instance_info", 1.0, **labels)
    if labels["role"] == "slave":
        families.gauge(
            f"{PREFIX}slave_info",
            1.0,
            master_host=info.get("master_host"),
            master_port=info.get("master_port"),
            read_only=info.get("slave_read_only"),
        )


def _config_metrics(families: Families, config: Mapping[str, str]) -> None:
    for key in _CONFIG_GAUGES:
        value = _float_or_none(config.get(key, ""))
        if value is not None:
            families.gauge(f"{PREFIX}config_{key.replace('-', '_')}", value)
    _output_buffer_limits(families, config.get("client-output-buffer-limit", ""))
    for key in _COMMANDLOG_CONFIG:
        value = _float_or_none(config.get(key, ""))
        if value is not None:
            families.gauge(f"{PREFIX}{key.replace('-', '_')}", value)


def _output_buffer_limits(families: Families, setting: str) -> None:
    """'normal 0 0 0 replica 268435456 67108864 60 pubsub 33554432 8388608 60'."""
    words = setting.split()
    for start in range(0, len(words) - 3, 4):
        cls, hard, soft, seconds = words[start : start + 4]
        for limit, text in (("hard", hard), ("soft", soft)):
            value = _float_or_none(text)
            if value is not None:
                families.gauge(
                    f"{PREFIX}config_client_output_buffer_limit_bytes",
                    value,
                    **{"class": cls, "limit": limit},
                )
        overcome = _float_or_none(seconds)
        if overcome is not None:
            families.gauge(
                f"{PREFIX}config_client_output_buffer_limit_overcome_seconds",
                overcome,
                **{"class": cls, "limit": "soft"},
            )


def _slowlog_metrics(families: Families, replies: Mapping[str, Any]) -> None:
    length = replies.get("slowlog_len")
    if isinstance(length, int):
        families.gauge(f"{PREFIX}slowlog_length", float(length))
    entries = replies.get("slowlog_get")
    if not isinstance(entries, list):
        return
    newest = entries[0] if entries and isinstance(entries[0], list) else []
    last_id = newest[0] if newest and isinstance(newest[0], int) else 0
    duration = newest[2] if len(newest) > 2 and isinstance(newest[2], int) else 0  # noqa: PLR2004
    families.gauge(f"{PREFIX}slowlog_last_id", float(last_id))
    families.gauge(f"{PREFIX}last_slow_execution_duration_seconds", duration / 1e6)


def _latency_latest_metrics(families: Families, events: object) -> None:
    """LATENCY LATEST: [event, last-spike unix time, latest ms, max ms] per event."""
    for event in events if isinstance(events, list) else []:
        if not (isinstance(event, list) and len(event) >= 3):  # noqa: PLR2004
            continue
        name, last, latest = event[0], event[1], event[2]
        if isinstance(name, str) and isinstance(last, int) and isinstance(latest, int):
            families.gauge(f"{PREFIX}latency_spike_last", float(last), event_name=name)
            families.gauge(f"{PREFIX}latency_spike_duration_seconds", latest / 1e3, event_name=name)


def _latency_histogram_metrics(
    families: Families, reply: object, usec_by_command: Mapping[str, float]
) -> None:
    """LATENCY HISTOGRAM: per command, calls and cumulative power-of-two usec buckets."""
    if not isinstance(reply, list):
        return
    usec_with_subcommands = _usec_including_subcommands(usec_by_command)
    for cmd, details in zip(reply[::2], reply[1::2], strict=False):
        parsed = _histogram_details(details)
        if isinstance(cmd, str) and parsed is not None:
            calls, buckets = parsed
            total = usec_with_subcommands.get(cmd, 0.0)
            families.histogram(f"{PREFIX}commands_latencies_usec", calls, total, buckets, cmd=cmd)


def _histogram_details(details: object) -> tuple[float, list[tuple[int, int]]] | None:
    """["calls", 3, "histogram_usec", [1, 2, 4, 3]] -> (3, [(1, 2), (4, 3)])."""
    if not isinstance(details, list):
        return None
    fields = dict(zip(details[::2], details[1::2], strict=False))
    calls, flat = fields.get("calls"), fields.get("histogram_usec")
    if not isinstance(calls, int) or not isinstance(flat, list):
        return None
    return float(calls), list(zip(flat[::2], flat[1::2], strict=False))


def _usec_including_subcommands(usec_by_command: Mapping[str, float]) -> dict[str, float]:
    """A container command's time is its own plus its subcommands' (config|get, ...)."""
    totals: dict[str, float] = {}
    for name, usec in usec_by_command.items():
        container = name.partition("|")[0]  # Redis nests subcommands one level deep
        totals[name] = totals.get(name, 0.0) + usec
        if container != name:
            totals[container] = totals.get(container, 0.0) + usec
    return totals


def _commandlog_metrics(families: Families, replies: Mapping[str, Any]) -> None:
    for reply_name, metric in _COMMANDLOG_LENGTHS.items():
        length = replies.get(reply_name)
        if isinstance(length, int):
            families.gauge(f"{PREFIX}{metric}", float(length))


def _self_metrics(families: Families, outcome: Outcome) -> None:
    families.gauge(f"{SELF_PREFIX}scrape_duration_seconds", outcome.duration)
    families.gauge(f"{SELF_PREFIX}scrape_error", 1.0 if outcome.error else 0.0)
    for name in sorted(outcome.refused):
        # A script's failure or a sentinel's quorum check has a metric of its own.
        if name != "info" and ":" not in name:
            families.gauge(f"{SELF_PREFIX}command_refused", 1.0, command=name)
    families.gauge(f"{SELF_PREFIX}build_info", 1.0, version=__version__)


def _databases(info: InfoReply, config: Mapping[str, str]) -> int:
    """How many databases to report, empty ones included: one in a cluster, none on a sentinel."""
    if info.get("cluster_enabled") == "1":
        return 1
    if "sentinel" in {info.get("redis_mode"), info.get("server_mode")}:
        return 0
    count = _float_or_none(config.get("databases", ""))
    return int(count) if count is not None and count > 0 else DEFAULT_DATABASES


def _key_values(text: str) -> dict[str, str] | None:
    """'a=1,b=2' -> {'a': '1', 'b': '2'}; None when a part is not key=value."""
    result = {}
    for part in text.split(","):
        key, sep, value = part.partition("=")
        if not sep or "=" in value:
            return None
        result[key] = value
    return result


def _float_or_none(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _int_or_zero(text: str) -> float:
    """Go's Atoi as redis_exporter uses it for master fields: 0 when not an integer."""
    try:
        return float(int(text))
    except ValueError:
        return 0.0
