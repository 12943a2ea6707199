"""Pure translation of key inspection: key sizes and values, counts, key groups, streams."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textfile_redis import catalog

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from .families import Families

VALUE_PREFIX_BYTES = 4096  # what inspection reads of a string; longer values are not labels
OVERFLOW_GROUP = "overflow"
# XINFO STREAM field -> family: a number, an id, an entry (whose id is its first item).
_STREAM_NUMBERS = {
    "length": catalog.STREAM_LENGTH,
    "radix-tree-keys": catalog.STREAM_RADIX_TREE_KEYS,
    "radix-tree-nodes": catalog.STREAM_RADIX_TREE_NODES,
    "groups": catalog.STREAM_GROUPS,
}
_STREAM_IDS = {
    "last-generated-id": catalog.STREAM_LAST_GENERATED_ID,
    "max-deleted-entry-id": catalog.STREAM_MAX_DELETED_ENTRY_ID,
}
_STREAM_ENTRIES = {
    "first-entry": catalog.STREAM_FIRST_ENTRY_ID,
    "last-entry": catalog.STREAM_LAST_ENTRY_ID,
}


def key_metrics(families: Families, entries: Iterable[Mapping[str, Any]]) -> None:
    """redis_key_size, _value, _value_as_string and _memory_usage_bytes, per key inspected."""
    for entry in entries:
        _key(families, entry)


def key_count_metrics(families: Families, counts: Iterable[Mapping[str, Any]]) -> None:
    """redis_keys_count, per database and pattern."""
    for count in counts:
        db = f"db{count['db']}"
        families.gauge(catalog.KEYS_COUNT, float(count["count"]), db=db, key=count["pattern"])


def _key(families: Families, entry: Mapping[str, Any]) -> None:
    labels = {"db": f"db{entry['db']}", "key": entry["key"]}
    if entry.get("memory") is not None:
        families.gauge(catalog.KEY_MEMORY_USAGE_BYTES, float(entry["memory"]), **labels)
    if entry.get("size") is not None:
        families.gauge(catalog.KEY_SIZE, float(entry["size"]), **labels)
    value = entry.get("value")
    if entry["type"] != "string" or not value or entry.get("size", 0) > VALUE_PREFIX_BYTES:
        return
    try:
        families.gauge(catalog.KEY_VALUE, float(value), **labels)
    except ValueError:
        families.gauge(catalog.KEY_VALUE_AS_STRING, 1.0, **labels, val=value)


def key_group_metrics(families: Families, replies: Mapping[str, Any], max_groups: int) -> None:
    """Per database: the biggest groups by memory, the rest summed as "overflow"."""
    if "key_groups" not in replies:
        return
    for database in replies["key_groups"]:
        db = f"db{database['db']}"
        groups = {name: (totals[0], totals[1]) for name, totals in database["groups"].items()}
        for name, (count, memory) in _within_limit(groups, max_groups):
            families.gauge(catalog.KEY_GROUP_COUNT, float(count), db=db, key_group=name)
            families.gauge(
                catalog.KEY_GROUP_MEMORY_USAGE_BYTES, float(memory), db=db, key_group=name
            )
        families.gauge(catalog.NUMBER_OF_DISTINCT_KEY_GROUPS, float(len(groups)), db=db)
    duration = float(replies["key_groups_duration_ms"])
    families.gauge(catalog.LAST_KEY_GROUPS_SCRAPE_DURATION_MILLISECONDS, duration)


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
    for field, metric in _STREAM_NUMBERS.items():
        families.gauge(metric, _number(info.get(field)), **labels)
    for field, metric in _STREAM_IDS.items():
        families.gauge(metric, _id_milliseconds(info.get(field)), **labels)
    for field, metric in _STREAM_ENTRIES.items():
        entry = info.get(field)
        entry_id = entry[0] if isinstance(entry, list) and entry else None
        families.gauge(metric, _id_milliseconds(entry_id), **labels)
    added = _number(info.get("entries-added"))
    families.counter(catalog.STREAM_ENTRIES_ADDED_TOTAL, added, **labels)


def _stream_group(families: Families, group: Mapping[str, Any], labels: Mapping[str, str]) -> None:
    families.gauge(catalog.STREAM_GROUP_CONSUMERS, _number(group.get("consumers")), **labels)
    families.gauge(catalog.STREAM_GROUP_MESSAGES_PENDING, _number(group.get("pending")), **labels)
    families.gauge(
        catalog.STREAM_GROUP_LAST_DELIVERED_ID,
        _id_milliseconds(group.get("last-delivered-id")),
        **labels,
    )
    families.gauge(catalog.STREAM_GROUP_ENTRIES_READ, _number(group.get("entries-read")), **labels)
    families.gauge(catalog.STREAM_GROUP_LAG, _number(group.get("lag")), **labels)
    for consumer in group.get("consumer_list", []):
        who = {**labels, "consumer": str(consumer.get("name", ""))}
        families.gauge(
            catalog.STREAM_GROUP_CONSUMER_MESSAGES_PENDING,
            _number(consumer.get("pending")),
            **who,
        )
        families.gauge(
            catalog.STREAM_GROUP_CONSUMER_IDLE_SECONDS,
            _number(consumer.get("idle")) / 1e3,
            **who,
        )


def scan_progress(families: Families, sweeps: Iterable[Mapping[str, Any]]) -> None:
    """Say which SCAN sweeps a time budget left unfinished: their figures are older or absent."""
    for sweep in sweeps:
        families.gauge(
            catalog.SCAN_IN_PROGRESS,
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
