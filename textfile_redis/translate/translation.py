"""Pure translation: one scrape's plain replies to metric families with redis_exporter's names."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from textfile_redis import __version__, catalog
from textfile_redis.exposition import format_value, integer_value, number_value
from textfile_redis.replies import (
    MAX_HISTOGRAM_BUCKETS,
    MAX_HISTOGRAM_COMMANDS,
    as_text_dict,
    int_or_zero,
)

from .bigkeys import biggest_keys_metrics, slot_stats_metrics
from .families import CACHED_TEXT_MAX, Families, SeriesCache
from .health import health_metrics
from .insight import insight_steps
from .keys import (
    key_count_metrics,
    key_group_metrics,
    key_metrics,
    scan_progress,
    stream_metrics,
)
from .optin import (
    client_list_metrics,
    cluster_info_metrics,
    config_metrics,
    script_metrics,
)
from .sentinel import sentinel_info_field, sentinel_masters_metrics

if TYPE_CHECKING:
    from collections.abc import Mapping

    from textfile_redis.catalog import Metric
    from textfile_redis.exposition import Family

DEFAULT_DATABASES = 16  # what Redis has when CONFIG GET cannot tell
# Empty databases get zero series (two each) only up to here; databases holding keys are in
# INFO's Keyspace whatever their number. 16 is Redis's default and a cluster has 1; 1,024 costs
# at most 2,048 zero series (~95 KB, a few ms), where `databases 100000000` cost minutes and GBs.
MAX_EMPTY_DATABASES = 1024
# A real INFO ALL has ~150 fields, plus one line per command called (in Commandstats and again
# in Latencystats, ~500 each on Redis 8 with subcommands), per error kind (Redis keeps 128 at
# most) and per database holding keys: ~1,300 on a busy 16-database server. A reply longer than
# this is not a server's INFO: it is refused whole, not cut, so no family is left half written.
MAX_INFO_LINES = 10_000
# Field names are a few dozen characters; a longer one is exported under no metric name.
MAX_FIELD_NAME = 200
# A plain field's value is kept with its line up to this long: 2^64 has 20 digits, a float's
# text 24 characters at most; anything longer is made anew each cycle.
MAX_KEPT_VALUE = 32
MAX_FIELDS_PER_LINE = 64  # cmdstat has 5, keyspace 4, latencystats one per configured percentile
MAX_LATENCY_EVENTS = 256  # LATENCY LATEST: Redis has some twenty event kinds
MAX_OUTPUT_BUFFER_CLASSES = 16  # client-output-buffer-limit: normal, replica (slave), pubsub

_T = TypeVar("_T")

_MASTER_HOST = re.compile(r"^master(_[0-9]+)?_host$")
_MASTER_PORT = re.compile(r"^master(_[0-9]+)?_port$")
_MASTER_LINK = re.compile(r"^master(_[0-9]+)?_link_status$")
_MASTER_DIRECT = re.compile(r"^master(_[0-9]+)?_(last_io_seconds_ago|sync_in_progress)$")
_SLAVE = re.compile(r"^slave\d+$")
_IO_THREAD = re.compile(r"^used_active_time_io_thread_([0-9]+)$")
_BOOLEAN_TEXTS = {"ok": "1.0", "true": "1.0", "err": "0.0", "fail": "0.0", "false": "0.0"}
_MASTER_FIELDS = {
    "last_io_seconds_ago": catalog.MASTER_LAST_IO_SECONDS_AGO,
    "sync_in_progress": catalog.MASTER_SYNC_IN_PROGRESS,
}
_HZ = {"configured_hz": catalog.CONFIGURED_HZ, "hz": catalog.HZ}
_SETTINGS = {  # CONFIG GET's numeric settings, in the order their families go in the file
    "io-threads": catalog.CONFIG_IO_THREADS,
    "maxclients": catalog.CONFIG_MAXCLIENTS,
    "maxmemory": catalog.CONFIG_MAXMEMORY,
    "repl-backlog-size": catalog.CONFIG_REPL_BACKLOG_SIZE,
}
_COMMANDLOG_SETTINGS = {
    "commandlog-execution-slower-than": catalog.COMMANDLOG_EXECUTION_SLOWER_THAN,
    "commandlog-slow-execution-max-len": catalog.COMMANDLOG_SLOW_EXECUTION_MAX_LEN,
    "commandlog-request-larger-than": catalog.COMMANDLOG_REQUEST_LARGER_THAN,
    "commandlog-large-request-max-len": catalog.COMMANDLOG_LARGE_REQUEST_MAX_LEN,
    "commandlog-reply-larger-than": catalog.COMMANDLOG_REPLY_LARGER_THAN,
    "commandlog-large-reply-max-len": catalog.COMMANDLOG_LARGE_REPLY_MAX_LEN,
}
_COMMANDLOG_LENGTHS = {  # reply name -> family
    "commandlog_slow": catalog.COMMANDLOG_SLOW_LENGTH,
    "commandlog_large_request": catalog.COMMANDLOG_LARGE_REQUEST_LENGTH,
    "commandlog_large_reply": catalog.COMMANDLOG_LARGE_REPLY_LENGTH,
}


@dataclass(frozen=True, slots=True)
class Extras:
    """The opt-in switches translation itself needs, taken from the target's options."""

    include_config_metrics: bool = False
    include_system_metrics: bool = False
    export_client_port: bool = False
    max_distinct_key_groups: int = 100
    # CLIENT LIST's per-client families; False when it was asked for export_client_load alone.
    export_client_list: bool = True
    export_client_load: bool = False
    insight_top_n: int = 10


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


@dataclass(frozen=True, slots=True)
class Translation:
    """One target's families, and the replies that lost theirs for being malformed."""

    families: list[Family]
    malformed: tuple[str, ...] = ()  # reply names, sorted: "info", "latency_histogram", ...


def translate(outcome: Outcome, cache: SeriesCache | None = None) -> Translation:
    """All families for one target: Redis metrics when it answered, self metrics always.

    cache: the target's series texts from earlier cycles (its collector keeps one per target).
    """
    families = Families({"addr": outcome.addr, **dict(outcome.labels)}, cache)
    steps = _Steps(families)
    if outcome.error is None:
        _translate_replies(steps, outcome)
    families.gauge(catalog.UP, 0.0 if outcome.error else 1.0)
    malformed = tuple(sorted(steps.malformed))
    _self_metrics(families, outcome, malformed)
    return Translation(families.collect(), malformed)


class _Steps:
    """Runs each reply's translation; one that raises loses what it added, never the file.

    Replies are the server's to shape: rather than foresee every wrong shape or value, a
    step that fails on one is undone whole, so no family is left half written.
    """

    def __init__(self, families: Families) -> None:
        self.families = families
        self.malformed: set[str] = set()

    def run(self, reply: str, step: Callable[..., _T], *args: object) -> _T | None:
        """step(*args); None when it raised, its samples then dropped and `reply` noted."""
        mark = self.families.mark()
        try:
            return step(*args)
        except Exception:  # noqa: BLE001 - any exception here is a reply translation cannot use
            self.families.rollback(mark)
            self.malformed.add(reply)
            return None

    def each(self, replies: Mapping[str, Any], steps: Mapping[str, _ReplyStep]) -> None:
        """Each step on its reply, in the table's order, for the replies the server sent."""
        for name, step in steps.items():
            if name in replies:
                self.run(name, step, self.families, replies[name])


_ReplyStep = Callable[[Families, Any], object]  # one reply's families from that reply alone


def _translate_replies(steps: _Steps, outcome: Outcome) -> None:
    families, replies = steps.families, outcome.replies
    config = steps.run("config", _settings, replies.get("config", [])) or {}
    databases = _configured_databases(config, steps)
    info = replies.get("info", "")
    usecs = steps.run("info", _info_metrics, families, info, outcome, databases)
    steps.run("config", _config_metrics, families, config)
    steps.each(replies, _SERVER_STEPS)
    if "latency_histogram" in replies and usecs is not None:  # its _sum comes from INFO
        histogram = replies["latency_histogram"]
        steps.run("latency_histogram", _latency_histogram_metrics, families, histogram, usecs)
    steps.each(replies, _COMMANDLOG_STEPS)
    _opt_in_metrics(steps, outcome, config)


def _opt_in_metrics(steps: _Steps, outcome: Outcome, config: Mapping[str, str]) -> None:
    families, replies, refused, extras = (
        steps.families,
        outcome.replies,
        outcome.refused,
        outcome.extras,
    )
    at_most = extras.max_distinct_key_groups
    with_port = extras.export_client_port
    one_reply: dict[str, _ReplyStep] = {  # in the order their families go in the file
        "cluster_info": functools.partial(cluster_info_metrics, field_metric=_field_metric),
        "slot_stats": slot_stats_metrics,
        "sentinel_masters": lambda f, _: sentinel_masters_metrics(f, replies, refused),
        "keys": key_metrics,
        "key_counts": key_count_metrics,
        "key_groups": lambda f, _: key_group_metrics(f, replies, at_most),
        "biggest_keys": biggest_keys_metrics,
        "streams": stream_metrics,
        "scans_in_progress": scan_progress,
        "client_list": functools.partial(client_list_metrics, now=outcome.now, with_port=with_port),
    }
    if not extras.export_client_list:
        del one_reply["client_list"]
    steps.each(replies, one_reply)
    top_n, client_load = extras.insight_top_n, extras.export_client_load
    steps.each(replies, insight_steps(replies, top_n, client_load=client_load))
    steps.run("script", script_metrics, families, replies, refused)
    if extras.include_config_metrics:
        steps.run("config", config_metrics, families, config)
        steps.each(replies, {"sentinel_config": _sentinel_config_metrics})


def _sentinel_config_metrics(families: Families, reply: object) -> None:
    config_metrics(families, _settings(reply), "sentinel_config")


def _settings(reply: object) -> dict[str, str]:
    """CONFIG GET's [name, value, ...] as a dict; a reply of another shape is malformed."""
    if not isinstance(reply, list):
        msg = f"settings as {type(reply).__name__}, not a list"
        raise TypeError(msg)
    return as_text_dict(reply)


def parse_info(text: object) -> InfoReply:
    """Split an INFO reply into its sections, each a list of (field, value) lines in order."""
    if not isinstance(text, str):
        msg = f"INFO as {type(text).__name__}, not text"
        raise TypeError(msg)
    raw_lines = text.split("\n", MAX_INFO_LINES)  # never more strings than the cap
    if len(raw_lines) > MAX_INFO_LINES:
        msg = f"INFO has more than {MAX_INFO_LINES} lines"
        raise ValueError(msg)
    reply = InfoReply()
    pairs: list[tuple[str, str]] = []
    reply.sections.append(("", pairs))
    for raw in raw_lines:
        line = raw.strip()
        if line.startswith("# "):
            reply.fields.update(pairs)  # the last value of a field wins, as in a dict
            pairs = []
            reply.sections.append((line[2:], pairs))
        elif ":" in line and len(line) >= 2:  # noqa: PLR2004 - "k:" is the shortest field
            key, _, value = line.partition(":")
            pairs.append((key, value))
    reply.fields.update(pairs)
    return reply


@dataclass(slots=True)
class InfoReply:
    """An INFO reply: its sections in order, each with its lines, and each field's last value."""

    sections: list[tuple[str, list[tuple[str, str]]]] = field(default_factory=list)
    fields: dict[str, str] = field(default_factory=dict)

    def get(self, key: str, default: str = "") -> str:
        """The field's value, or `default` when the server did not report it."""
        return self.fields.get(key, default)


def _info_metrics(
    families: Families, reply: object, outcome: Outcome, databases: int
) -> dict[str, float]:
    """INFO's families; returns commandstats' usec per command, which the histogram needs too."""
    info = parse_info(reply)
    state = _InfoState(outcome.now)
    plain = _plain_fields(families, outcome.extras.include_system_metrics)
    for section, pairs in info.sections:
        in_section = _SECTION_FIELDS.get(section)
        if in_section is None:
            plain.emit(pairs)
            continue
        for key, value in pairs:
            if not in_section(families, state, key, value):
                plain.emit(((key, value),))
    _latency_summaries(families, state)
    _empty_databases(families, state.databases_seen, _databases(info, databases))
    _instance_info(families, info)
    health_metrics(families, info.fields, outcome.now)
    return state.usecs


class _PlainField:
    """How a plain INFO field is exported, and its line for the value it had last."""

    __slots__ = ("line", "plan", "series", "value")

    def __init__(self, plan: _FieldPlan, series: str) -> None:
        self.plan, self.series = plan, series
        self.value: str | None = None  # the value `line` was made from
        self.line: str | None = None  # None when that value was no number

    def remake(self, value: str) -> None:
        """The line for a new value."""
        text = self.plan.text(value)
        self.line = None if text is None else f"{self.series} {text}\n"
        # A longer value is no number a server writes: remade each cycle, never kept.
        self.value = value if len(value) <= MAX_KEPT_VALUE else None


class _PlainFields(dict[str, "_PlainField | None"]):
    """A target's plain INFO fields by name: how each is exported, None when it is not.

    Kept from cycle to cycle in the target's cache, since a server's fields are the same every
    cycle, and many of their values too: a value seen last cycle gives last cycle's line.
    Emptied when a server has named more fields than an INFO reply can hold.
    """

    def __init__(self, families: Families, *, system: bool) -> None:
        super().__init__()
        self.families, self.system = families, system

    def emit(self, pairs: Iterable[tuple[str, str]]) -> None:
        """Add each field's sample: a number, or a word redis_exporter reads as 0 or 1."""
        emit_line = self.families.emit_line
        for key, value in pairs:
            try:
                field = self[key]
            except KeyError:
                field = self.add(key)
            if field is None:
                continue
            if value != field.value:
                field.remake(value)
            if field.line is not None:
                emit_line(field.plan.metric, field.plan.kind, field.series, field.line)

    def add(self, key: str) -> _PlainField | None:
        """Work out and keep how the field `key` is exported (a name too long, never)."""
        if len(key) > MAX_FIELD_NAME:  # plans are cached by name: never for the server's essays
            return None
        if len(self) > MAX_INFO_LINES:
            self.clear()
        plan = _exported_field_plan(key, system=self.system)
        field = None if plan is None else _PlainField(plan, plan.series(self.families))
        self[key] = field
        return field


def _plain_fields(families: Families, system: bool) -> _PlainFields:  # noqa: FBT001
    fields = families.remember(
        ("plain fields", system), lambda: _PlainFields(families, system=system)
    )
    fields.families = families  # this cycle's: series texts are made with its labels
    return fields


def _number_text(value: str, divisor: float) -> str | None:
    """A field's value text: an integer's own text, else the number over `divisor`."""
    if divisor == 1.0:
        return number_value(value)
    number = _float_or_none(value)
    return None if number is None else format_value(number / divisor)


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

    def master(self) -> dict[str, str]:
        """The labels naming the primary, as far as INFO has told."""
        return {"master_host": self.master_host, "master_port": self.master_port}

    def note_master(self, key: str, value: str) -> None:
        if _MASTER_HOST.match(key):
            self.master_host = value
        elif _MASTER_PORT.match(key):
            self.master_port = value


def _replication_field(families: Families, state: _InfoState, key: str, value: str) -> bool:
    if not key.startswith(("master", "slave")):  # role, repl_backlog_*, ...: plain fields
        return False
    state.note_master(key, value)
    if _MASTER_LINK.match(key):
        families.gauge(catalog.MASTER_LINK_UP, float(value == "up"), **state.master())
        return True
    direct = _MASTER_DIRECT.match(key)
    if direct or key == "slave_repl_offset":
        metric = _MASTER_FIELDS[direct[2]] if direct else catalog.SLAVE_REPL_OFFSET
        families.gauge(metric, int_or_zero(value), **state.master())
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
    families.gauge(catalog.CONNECTED_SLAVE_OFFSET_BYTES, offset, **labels)
    lag = _float_or_none(fields.get("lag", ""))
    if lag is not None:
        families.gauge(catalog.CONNECTED_SLAVE_LAG_SECONDS, lag, **labels)
    return True


def _server_field(families: Families, state: _InfoState, key: str, value: str) -> bool:
    """uptime_in_seconds and hz; False, as these are plain INFO fields as well."""
    number = _float_or_none(value) if key == "uptime_in_seconds" or key in _HZ else None
    if number is None:
        return False
    if key == "uptime_in_seconds":
        families.gauge(catalog.START_TIME_SECONDS, float(int(state.now) - number))
    elif key in _HZ:
        families.gauge(_HZ[key], number)
    return False


def _commandstats_field(families: Families, state: _InfoState, key: str, value: str) -> bool:
    """cmdstat_get:calls=21,usec=175,usec_per_call=8.33[,rejected_calls=0,failed_calls=0]."""
    seen = families.remember(("cmdstat", key), _Remembered, len(key))
    if seen.text != value:  # most commands are called less often than every cycle
        seen.made, seen.text = _command_samples(families, key, value), _kept(value)
    if seen.made is None:
        return True
    cmd, calls, usec, samples = seen.made
    state.calls[cmd], state.usecs[cmd] = calls, usec
    families.emit_lines(samples, "counter")
    return True


@dataclass(slots=True)
class _Remembered:
    """An INFO line's value when last seen, and what it made: the same text, the same samples."""

    text: object = None
    made: Any = None


def _kept(text: str) -> str | None:
    """The text to compare the next cycle's with: None for one too long to keep."""
    return text if len(text) <= CACHED_TEXT_MAX else None


# command, calls, usec, and (family, series, line) per sample
_CommandSamples = tuple[str, float, float, list[tuple["Metric", str, str]]]


def _command_samples(families: Families, key: str, value: str) -> _CommandSamples | None:
    """A commandstats line's command, calls, usec and samples; None when it has none."""
    cmd = key.removeprefix("cmdstat_")
    stats = _key_values(value)
    if cmd == key or stats is None or "calls" not in stats or "usec" not in stats:
        return None
    calls_text, usec_text = stats["calls"], stats["usec"]
    calls, usec = _float_or_none(calls_text), _float_or_none(usec_text)
    if calls is None or usec is None:
        return None
    series = families.series_texts(_COMMAND_COUNTERS, "cmd", cmd)
    values = [_value(calls_text, calls), format_value(usec / 1e6)]
    rejected_text, failed_text = stats.get("rejected_calls", ""), stats.get("failed_calls", "")
    rejected, failed = _float_or_none(rejected_text), _float_or_none(failed_text)
    if rejected is not None and failed is not None:  # Redis 6.2 and newer
        values += [_value(rejected_text, rejected), _value(failed_text, failed)]
    samples = [
        (metric, text, f"{text} {value}\n")
        for metric, text, value in zip(_COMMAND_COUNTERS, series, values, strict=False)
    ]
    return cmd, calls, usec, samples


_COMMAND_COUNTERS = (
    catalog.COMMANDS_TOTAL,
    catalog.COMMANDS_DURATION_SECONDS_TOTAL,
    catalog.COMMANDS_REJECTED_CALLS_TOTAL,
    catalog.COMMANDS_FAILED_CALLS_TOTAL,
)


def _latencystats_field(families: Families, state: _InfoState, key: str, value: str) -> bool:
    """latency_percentiles_usec_get:p50=1.003,p99=4.015,p99.9=9.023 (Redis 7 and newer)."""
    seen = families.remember(("latencystats", key), _Remembered, len(key))
    if seen.text != value:
        seen.made, seen.text = _percentiles(key, value), _kept(value)
    if seen.made is not None:
        cmd, percentiles = seen.made
        state.percentiles[cmd] = percentiles
    return True


def _percentiles(key: str, value: str) -> tuple[str, dict[float, float]] | None:
    cmd = key.removeprefix("latency_percentiles_usec_")
    stats = _key_values(value)
    if cmd == key or stats is None:
        return None
    percentiles = {}
    for name, number in stats.items():
        percentile, latency = _float_or_none(name[1:]), _float_or_none(number)
        if percentile is None or latency is None:
            return None
        percentiles[percentile] = latency
    return cmd, percentiles


def _errorstats_field(families: Families, _state: _InfoState, key: str, value: str) -> bool:
    """errorstat_ERR:count=4."""
    kind = key.removeprefix("errorstat_")
    stats = _key_values(value)
    count = _float_or_none(stats.get("count", "")) if stats else None
    if kind != key and count is not None:
        families.counter(catalog.ERRORS_TOTAL, count, err=kind)
    return True


def _keyspace_field(families: Families, state: _InfoState, key: str, value: str) -> bool:
    """db0:keys=1,expires=0,avg_ttl=0[,subexpiry=0|keys_with_volatile_items=0|cached_keys=0]."""
    stats = _key_values(value) if key.startswith("db") else None
    if stats is None:
        return False
    keys_text, expires_text = stats.get("keys", ""), stats.get("expires", "")
    keys, expires = _float_or_none(keys_text), _float_or_none(expires_text)
    if keys is None or expires is None:
        return False
    series = families.series_texts(_DB_GAUGES, "db", key)
    families.emit(catalog.DB_KEYS, "gauge", series[0], _value(keys_text, keys))
    families.emit(catalog.DB_KEYS_EXPIRING, "gauge", series[1], _value(expires_text, expires))
    cached = _float_or_none(stats.get("cached_keys", ""))
    if cached is not None:
        families.emit(catalog.DB_KEYS_CACHED, "gauge", series[2], format_value(cached))
    items = stats.get("subexpiry", stats.get("keys_with_volatile_items", ""))  # Redis, Valkey
    with_items = _float_or_none(items)
    if with_items is not None:
        families.gauge(catalog.DB_KEYS_WITH_EXPIRING_ITEMS, with_items, db=key)
    avg_ttl = _float_or_none(stats.get("avg_ttl", ""))
    if avg_ttl is not None:
        families.emit(catalog.DB_AVG_TTL_SECONDS, "gauge", series[3], format_value(avg_ttl / 1000))
    state.databases_seen.add(key)
    return True


_DB_GAUGES = (
    catalog.DB_KEYS,
    catalog.DB_KEYS_EXPIRING,
    catalog.DB_KEYS_CACHED,
    catalog.DB_AVG_TTL_SECONDS,
)


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
        or (key in catalog.INFO_FAMILIES and (system or key not in catalog.SYSTEM_GAUGES))
        or key == "latest_fork_usec"
        or _IO_THREAD.match(key) is not None
    )
    return _field_plan(key) if exported else None


@functools.lru_cache(maxsize=4096)
def _field_plan(key: str) -> _FieldPlan | None:
    """How a plain INFO field is exported, worked out once per field name, not every cycle.

    None for a field named like a family translation writes itself: the first sample of a
    series wins, so CLUSTER INFO's `up:0` must not become redis_up.
    """
    thread = _IO_THREAD.match(key)
    if thread:
        metric = catalog.ACTIVE_TIME_IO_THREAD_SECONDS_TOTAL
        return _FieldPlan(metric, kind="counter", labels=(("thread", thread[1]),))
    if key == "latest_fork_usec":
        return _FieldPlan(catalog.LATEST_FORK_SECONDS, divisor=1e6)
    listed = catalog.INFO_FAMILIES.get(key)
    if listed is not None:
        return _FieldPlan(listed, kind="counter" if listed.kind == catalog.COUNTER else "gauge")
    metric = catalog.info_field_family(key)  # one INFO_FIELD_BY_NAME stands for
    return None if catalog.written_by_name(metric.name) else _FieldPlan(metric)


@dataclass(frozen=True, slots=True)
class _FieldPlan:
    """A plain INFO field's sample: its name, type, unit conversion and labels."""

    metric: Metric
    kind: str = "gauge"  # or "counter": the family's TYPE
    divisor: float = 1.0  # x / 1.0 is exactly x
    labels: tuple[tuple[str, str], ...] = ()

    def text(self, value: str) -> str | None:
        """The sample's value: a number, or a word redis_exporter reads as 0 or 1; else None."""
        return _BOOLEAN_TEXTS.get(value) or _number_text(value, self.divisor)

    def series(self, families: Families) -> str:
        """The sample's series text, with these families' common labels."""
        return families.series(self.metric, **dict(self.labels))

    def add(self, families: Families, value: str) -> None:
        """Add the field's sample, when its value is one."""
        text = self.text(value)
        if text is not None:
            families.emit(self.metric, self.kind, self.series(families), text)


def _field_metric(families: Families, key: str, value: str) -> None:
    """A plain field of INFO or CLUSTER INFO, exported whatever its name."""
    plan = _field_plan(key) if len(key) <= MAX_FIELD_NAME else None
    if plan is not None:
        plan.add(families, value)


def _latency_summaries(families: Families, state: _InfoState) -> None:
    """Latencystats percentiles joined with commandstats' calls and usec into summaries."""
    metric = catalog.LATENCY_PERCENTILES_USEC
    for cmd, percentiles in state.percentiles.items():
        if cmd in state.calls:
            made_from = (state.calls[cmd], state.usecs[cmd], percentiles)
            seen = families.remember(("summary", cmd), _Remembered, len(cmd))
            if seen.text != made_from:  # an idle command's summary is last cycle's
                lines = families.summary(metric, *made_from, cmd=cmd)
                seen.made, seen.text = lines, made_from
            else:
                families.replay(metric, "summary", seen.made)


def _empty_databases(families: Families, seen: set[str], databases: int) -> None:
    """Zero series for empty databases, as redis_exporter does by default, up to the cap."""
    for index in range(min(databases, MAX_EMPTY_DATABASES)):
        db = f"db{index}"
        if db not in seen:
            keys, expiring = families.remember(("empty db", db), partial(_zero_lines, families, db))
            families.emit_line(catalog.DB_KEYS, "gauge", *keys)
            families.emit_line(catalog.DB_KEYS_EXPIRING, "gauge", *expiring)


def _zero_lines(families: Families, db: str) -> tuple[tuple[str, str], tuple[str, str]]:
    """An empty database's two samples, (series, line) each: the same every cycle."""
    keys, expiring = families.series_texts(_DB_GAUGES, "db", db)[:2]
    return (keys, f"{keys} 0.0\n"), (expiring, f"{expiring} 0.0\n")


def _instance_info(families: Families, info: InfoReply) -> None:
    labels = {name: info.get(name) for name in catalog.INSTANCE_LABELS}
    # Valkey 8 renamed redis_mode to server_mode; redis_exporter leaves the label empty there,
    # we fill it from server_mode (a deliberate difference, docs/metrics.md).
    labels["redis_mode"] = labels["redis_mode"] or info.get("server_mode")
    for valkey_only in catalog.INSTANCE_INFO.optional:
        if valkey_only in info.fields:
            labels[valkey_only] = info.get(valkey_only)
    families.gauge(catalog.INSTANCE_INFO, 1.0, **labels)
    if labels["role"] == "slave":
        families.gauge(
            catalog.SLAVE_INFO,
            1.0,
            master_host=info.get("master_host"),
            master_port=info.get("master_port"),
            read_only=info.get("slave_read_only"),
        )


def _config_metrics(families: Families, config: Mapping[str, str]) -> None:
    _settings_metrics(families, config, _SETTINGS)
    _output_buffer_limits(families, config.get("client-output-buffer-limit", ""))
    _settings_metrics(families, config, _COMMANDLOG_SETTINGS)


def _settings_metrics(
    families: Families, config: Mapping[str, str], settings: Mapping[str, Metric]
) -> None:
    """A gauge for each of these settings the server reported as a number."""
    for key, metric in settings.items():
        value = _float_or_none(config.get(key, ""))
        if value is not None:
            families.gauge(metric, value)


def _output_buffer_limits(families: Families, setting: str) -> None:
    """'normal 0 0 0 replica 268435456 67108864 60 pubsub 33554432 8388608 60'."""
    words = setting.split(maxsplit=4 * MAX_OUTPUT_BUFFER_CLASSES)
    if len(words) > 4 * MAX_OUTPUT_BUFFER_CLASSES:
        msg = f"client-output-buffer-limit has more than {MAX_OUTPUT_BUFFER_CLASSES} classes"
        raise ValueError(msg)
    for start in range(0, len(words) - 3, 4):
        cls, hard, soft, seconds = words[start : start + 4]
        for limit, text in (("hard", hard), ("soft", soft)):
            value = _float_or_none(text)
            if value is not None:
                families.gauge(
                    catalog.CONFIG_CLIENT_OUTPUT_BUFFER_LIMIT_BYTES,
                    value,
                    **{"class": cls, "limit": limit},
                )
        overcome = _float_or_none(seconds)
        if overcome is not None:
            families.gauge(
                catalog.CONFIG_CLIENT_OUTPUT_BUFFER_LIMIT_OVERCOME_SECONDS,
                overcome,
                **{"class": cls, "limit": "soft"},
            )


def _slowlog_length(families: Families, length: object) -> None:
    families.gauge(catalog.SLOWLOG_LENGTH, _count(length))


def _slowlog_newest(families: Families, entries: object) -> None:
    """SLOWLOG GET 1: [[id, unix time, usec, ...]], or [] when the log is empty."""
    newest = _list_of(entries, 1)
    last_id, duration = 0.0, 0.0
    if newest:
        entry = _list_of(newest[0], 100)
        last_id, duration = _count(entry[0]), _count(entry[2])
    families.gauge(catalog.SLOWLOG_LAST_ID, last_id)
    families.gauge(catalog.LAST_SLOW_EXECUTION_DURATION_SECONDS, duration / 1e6)


def _latency_latest_metrics(families: Families, events: object) -> None:
    """LATENCY LATEST: [event, last-spike unix time, latest ms, max ms] per event."""
    for event in _list_of(events, MAX_LATENCY_EVENTS):
        name, last, latest, *_ = _list_of(event, 16)  # fewer than three: malformed
        labels = {"event_name": _text(name)}
        families.gauge(catalog.LATENCY_SPIKE_LAST, _count(last), **labels)
        families.gauge(catalog.LATENCY_SPIKE_DURATION_SECONDS, _count(latest) / 1e3, **labels)


def _latency_histogram_metrics(
    families: Families, reply: object, usec_by_command: Mapping[str, float]
) -> None:
    """LATENCY HISTOGRAM: per command, calls and cumulative power-of-two usec buckets.

    The scraper asks for it every few cycles and passes the same reply in between: the
    families made from that reply (their _sum from that cycle's INFO) are written again:
    pinned, since lines made afresh from it would take their _sum from this cycle's INFO.
    Likewise a command's histogram the scraper kept from an earlier reply (the same object:
    the command was not called since) gives the lines made from it then.
    """
    metric = catalog.COMMANDS_LATENCIES_USEC
    kept = families.pinned(_KeptHistogram, _KeptHistogram)
    if reply is kept.reply and reply is not None:
        families.replay(metric, "histogram", kept.lines)
        return
    pairs = _pairs(reply, MAX_HISTOGRAM_COMMANDS)
    usec_with_subcommands = _usec_including_subcommands(usec_by_command)
    lines: list[tuple[str, str]] = []
    for cmd, details in pairs:
        name = _text(cmd)
        seen = families.remember(("histogram", name), _Remembered, len(name))
        if seen.text is details and type(details) is list:
            families.replay(metric, "histogram", seen.made)
        else:
            calls, buckets = _histogram_details(details)
            total = usec_with_subcommands.get(name, 0.0)
            made = families.histogram(metric, calls, total, buckets, cmd=name)
            # None written (the name came twice): never replayed as this command's lines
            seen.made, seen.text = made, details if made else None
        lines += seen.made
    kept.reply, kept.lines = reply, lines


@dataclass(slots=True)
class _KeptHistogram:
    """A target's last LATENCY HISTOGRAM reply and the lines made from it."""

    reply: object = None
    lines: list[tuple[str, str]] = field(default_factory=list)  # (series, line)


def _histogram_details(details: object) -> tuple[float, list[tuple[float, float]]]:
    """["calls", 3, "histogram_usec", [1, 2, 4, 3]] -> (3, [(1, 2), (4, 3)])."""
    if type(details) is list and len(details) == 4 and details[0] == "calls":  # noqa: PLR2004
        fields = {"calls": details[1], _text(details[2]): details[3]}  # the usual, in one step
    else:
        fields = {_text(name): value for name, value in _pairs(details, 16)}
    buckets = _pairs(fields["histogram_usec"], MAX_HISTOGRAM_BUCKETS)
    return _count(fields["calls"]), [(_count(bound), _count(n)) for bound, n in buckets]


def _list_of(reply: object, limit: int) -> list[Any]:
    """The reply as a list of at most `limit` items, else malformed."""
    if not isinstance(reply, list) or len(reply) > limit:
        msg = f"expected a list of at most {limit} items, got {type(reply).__name__}"
        raise TypeError(msg)
    return reply


def _pairs(reply: object, limit: int) -> list[tuple[Any, Any]]:
    """A flat [a, 1, b, 2] reply as [(a, 1), (b, 2)]: at most `limit` pairs, none left over."""
    flat = _list_of(reply, 2 * limit)
    if len(flat) % 2:
        msg = "a flat list of pairs with an odd number of items"
        raise ValueError(msg)
    return list(zip(flat[::2], flat[1::2], strict=True))


def _text(value: object) -> str:
    if not isinstance(value, str):
        msg = f"expected text, got {type(value).__name__}"
        raise TypeError(msg)
    return value


def _count(value: object) -> float:
    """An integer reply as a float; a float too large for one is malformed, not infinite."""
    if not isinstance(value, int) or isinstance(value, bool):
        msg = f"expected an integer, got {type(value).__name__}"
        raise TypeError(msg)
    return float(value)  # OverflowError past 1.8e308


def _usec_including_subcommands(usec_by_command: Mapping[str, float]) -> dict[str, float]:
    """A container command's time is its own plus its subcommands' (config|get, ...)."""
    totals: dict[str, float] = {}
    for name, usec in usec_by_command.items():
        container = name.partition("|")[0]  # Redis nests subcommands one level deep
        totals[name] = totals.get(name, 0.0) + usec
        if container != name:
            totals[container] = totals.get(container, 0.0) + usec
    return totals


def _length(families: Families, length: object, metric: Metric) -> None:
    families.gauge(metric, _count(length))


# Replies translated on their own, in the order their families go in the file.
_SERVER_STEPS: dict[str, _ReplyStep] = {
    "slowlog_len": _slowlog_length,
    "slowlog_get": _slowlog_newest,
    "latency_latest": _latency_latest_metrics,
}
_COMMANDLOG_STEPS: dict[str, _ReplyStep] = {
    reply_name: functools.partial(_length, metric=metric)
    for reply_name, metric in _COMMANDLOG_LENGTHS.items()
}


def _self_metrics(families: Families, outcome: Outcome, malformed: tuple[str, ...]) -> None:
    families.gauge(catalog.SCRAPE_DURATION_SECONDS, outcome.duration)
    families.gauge(catalog.SCRAPE_ERROR, 1.0 if outcome.error else 0.0)
    for name in sorted(outcome.refused):
        # A script's failure or a sentinel's quorum check has a metric of its own.
        if name != "info" and ":" not in name:
            families.gauge(catalog.COMMAND_REFUSED, 1.0, command=name)
    for name in malformed:
        families.gauge(catalog.REPLY_MALFORMED, 1.0, command=name)
    families.gauge(catalog.BUILD_INFO, 1.0, version=__version__)


def _configured_databases(config: Mapping[str, str], steps: _Steps) -> int:
    """CONFIG GET databases; the default when absent, or (noted malformed) not a count."""
    text = config.get("databases")
    if text is None:
        return DEFAULT_DATABASES
    try:
        count = int(text)  # what Redis writes; "inf", "1e300" and 4,300+ digits raise
    except ValueError:
        count = 0
    if count > 0:
        return count
    steps.malformed.add("config")
    return DEFAULT_DATABASES


def _databases(info: InfoReply, configured: int) -> int:
    """How many databases to report, empty ones included: one in a cluster, none on a sentinel."""
    if info.get("cluster_enabled") == "1":
        return 1
    if "sentinel" in {info.get("redis_mode"), info.get("server_mode")}:
        return 0
    return configured


def _key_values(text: str) -> dict[str, str] | None:
    """'a=1,b=2' -> {'a': '1', 'b': '2'}; None when a part is not key=value."""
    parts = text.split(",", MAX_FIELDS_PER_LINE)
    if len(parts) > MAX_FIELDS_PER_LINE:
        msg = f"an INFO line of more than {MAX_FIELDS_PER_LINE} fields"
        raise ValueError(msg)
    result = {}
    for part in parts:
        key, sep, value = part.partition("=")
        if not sep or "=" in value:
            return None
        result[key] = value
    return result


def _value(text: str, number: float) -> str:
    """The sample value's text of a number read from `text`: the integer's own when it is one."""
    return integer_value(text) or format_value(number)


def _float_or_none(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None
