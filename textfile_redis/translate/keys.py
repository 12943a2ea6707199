"""Pure translation of key inspection: key sizes and values, counts, key groups, streams."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .families import PREFIX, SELF_PREFIX, Families

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

VALUE_PREFIX_BYTES = 4096  # what inspection reads of a string; longer values are not labels
OVERFLOW_GROUP = "overflow"


def key_metrics(families: Families, entries: Iterable[Mapping[str, Any]]) -> None:
    """redis_key_size, _value, _value_as_string and _memory_usage_bytes, per key inspected."""
    for entry in entries:
        _key(families, entry)


def key_count_metrics(families: Families, counts: Iterable[Mapping[str, Any]]) -> None:
    """redis_keys_count, per database and pattern."""
    for count in counts:
        db = f"db{count['db']}"
        families.gauge(f"{PREFIX}keys_count", float(count["count"]), db=db, key=count["pattern"])


def _key(families: Families, entry: Mapping[str, Any]) -> None:
    labels = {"db": f"db{entry['db']}", "key": entry["key"]}
    if entry.get("memory") is not None:
        families.gauge(f"{PREFIX}key_memory_usage_bytes", float(entry["memory"]), **labels)
    if entry.get("size") is not None:
        families.gauge(f"{PREFIX}key_size", float(entry["size"]), **labels)
    value = entry.get("value")
    if entry["type"] != "string" or not value or entry.get("size", 0) > VALUE_PREFIX_BYTES:
        return
    try:
        families.gauge(f"{PREFIX}key_value", float(value), **labels)
    except ValueError:
        families.gauge(f"{PREFIX}key_value_as_string", 1.0, **labels, val=value)


def key_group_metrics(families: Families, replies: Mapping[str, Any], max_groups: int) -> None:
    """Per database: the biggest groups by memory, the rest summed as "overflow"."""
    if "key_groups" not in replies:
        return
    for database in replies["key_groups"]:
        db = f"db{database['db']}"
        groups = {name: (totals[0], totals[1]) for name, totals in database["groups"].items()}
        for name, (count, memory) in _within_limit(groups, max_groups):
            families.gauge(f"{PREFIX}key_group_count", float(count), db=db, key_group=name)
            families.gauge(
                f"{PREFIX}key_group_memory_usage_bytes", float(memory), db=db, key_group=name
            )
        families.gauge(f"{PREFIX}number_of_distinct_key_groups", float(len(groups)), db=db)
    duration = float(replies["key_groups_duration_ms"])
    families.gauge(f"{PREFIX}last_key_groups_scrape_duration_milliseconds", duration)


def _within_limit(
    groups: Mapping[str, tuple[int, int]], limit: int
) -> list[tuple[str, tuple[int, int]]]:
    """All groups, or the `limit` biggest by memory (then fewest keys, then name) + overflow."""
    if len(groups) <= limit:
        return sorted(groups.items())
    ranked = sorted(groups.items(), key=lambda item: (-item[1][1], item[1][0], item[0]))
    rest = ranked[limit:]
    overflow = (sum(count for _, (count, _) in rest), sum(memory for _, (_, memory) in rest))
    return [*ranked[:limit], (OVERFLOW_GROUP, overflow)]


def stream_metrics(families: Families, streams: Iterable[Mapping[str, Any]]) -> None:
    """redis_stream_* per stream, per consumer group and per consumer, from XINFO."""
    for stream in streams:
        labels = {"db": f"db{stream['db']}", "stream": stream["key"]}
        info = stream["info"]
        if not info:
            continue  # not a stream (or gone): XINFO refused
        _stream_info(families, info, labels)
        for group in stream["groups"]:
            _stream_group(families, group, {**labels, "group": str(group.get("name", ""))})


def _stream_info(families: Families, info: Mapping[str, Any], labels: Mapping[str, str]) -> None:
    for field, name in (
        ("length", "stream_length"),
        ("radix-tree-keys", "stream_radix_tree_keys"),
        ("radix-tree-nodes", "stream_radix_tree_nodes"),
        ("groups", "stream_groups"),
    ):
        families.gauge(f"{PREFIX}{name}", _number(info.get(field)), **labels)
    for field, name in (
        ("last-generated-id", "stream_last_generated_id"),
        ("max-deleted-entry-id", "stream_max_deleted_entry_id"),
    ):
        families.gauge(f"{PREFIX}{name}", _id_milliseconds(info.get(field)), **labels)
    for field, name in (
        ("first-entry", "stream_first_entry_id"),
        ("last-entry", "stream_last_entry_id"),
    ):
        entry = info.get(field)
        entry_id = entry[0] if isinstance(entry, list) and entry else None
        families.gauge(f"{PREFIX}{name}", _id_milliseconds(entry_id), **labels)
    families.counter(
        f"{PREFIX}stream_entries_added_total", _number(info.get("entries-added")), **labels
    )


def _stream_group(families: Families, group: Mapping[str, Any], labels: Mapping[str, str]) -> None:
    families.gauge(f"{PREFIX}stream_group_consumers", _number(group.get("consumers")), **labels)
    families.gauge(
        f"{PREFIX}stream_group_messages_pending", _number(group.get("pending")), **labels
    )
    families.gauge(
        f"{PREFIX}stream_group_last_delivered_id",
        _id_milliseconds(group.get("last-delivered-id")),
        **labels,
    )
    families.gauge(
        f"{PREFIX}stream_group_entries_read", _number(group.get("entries-read")), **labels
    )
    families.gauge(f"{PREFIX}stream_group_lag", _number(group.get("lag")), **labels)
    for consumer in group.get("consumer_list", []):
        who = {**labels, "consumer": str(consumer.get("name", ""))}
        families.gauge(
            f"{PREFIX}stream_group_consumer_messages_pending",
            _number(consumer.get("pending")),
            **who,
        )
        families.gauge(
            f"{PREFIX}stream_group_consumer_idle_seconds",
            _number(consumer.get("idle")) / 1e3,
            **who,
        )


def scan_progress(families: Families, sweeps: Iterable[Mapping[str, Any]]) -> None:
    """Say which SCAN sweeps a time budget left unfinished: their figures are older or absent."""
    for sweep in sweeps:
        families.gauge(
            f"{SELF_PREFIX}scan_in_progress",
            1.0,
            kind=sweep["kind"],
            db=f"db{sweep['db']}",
            pattern=sweep["pattern"],
        )


def _number(value: object) -> float:
    """An XINFO number; 0 where Redis has none (lag is nil while it cannot be computed)."""
    return float(value) if isinstance(value, (int, float)) else 0.0


def _id_milliseconds(entry_id: object) -> float:
    """A stream id's time part, "1700000000000-3" -> 1700000000000; 0 for none."""
    if not isinstance(entry_id, str) or not entry_id.strip():
        return 0.0
    try:
        return float(entry_id.split("-", 1)[0])
    except ValueError:
        return 0.0
