"""Pure translation of the bounded insight families: biggest keys per database, busiest slots."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, TypeGuard

from textfile_redis import catalog
from textfile_redis.replies import MAX_NAME_CHARS, cut_name

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from textfile_redis.catalog import Metric

    from .families import Families

# A key name is the server's to choose, up to 512 MB: a label keeps its first 1024 characters
# and says how many it left out, so that a file stays readable and two long keys rarely meet.
MAX_KEY_LABEL = MAX_NAME_CHARS
_CUT_MARK = re.compile(r"\.\.\.\(\d{1,12} more\)")  # what follows a label's first MAX_KEY_LABEL
MAX_TOP_N = 100  # insight_top_n's ceiling: no reply, however long, writes more per family
CLUSTER_SLOTS = 16384
# CLUSTER SLOT-STATS ORDERBY metric -> family and the divisor to its unit (a division, because
# 5 / 1e6 is exactly the float 5e-06 where 5 * 1e-6 is not).
SLOT_ORDERS: dict[str, tuple[Metric, float]] = {
    "key-count": (catalog.CLUSTER_SLOT_KEYS, 1.0),
    "cpu-usec": (catalog.CLUSTER_SLOT_CPU_SECONDS_TOTAL, 1e6),
    "network-bytes-in": (catalog.CLUSTER_SLOT_NETWORK_BYTES_IN_TOTAL, 1.0),
    "network-bytes-out": (catalog.CLUSTER_SLOT_NETWORK_BYTES_OUT_TOTAL, 1.0),
}


def bounded_label(text: str) -> str:
    """The text as a label value: whole up to MAX_KEY_LABEL characters, else cut and marked."""
    if _CUT_MARK.fullmatch(text, MAX_KEY_LABEL):
        return text  # already cut: the sweep keeps a long key name as cut_name made it
    return cut_name(text)


def biggest_keys_metrics(families: Families, databases: Iterable[Mapping[str, Any]]) -> None:
    """Per database: its biggest keys with their type, the rest's memory, the sweep's size.

    A key without a type (never asked) is left out, not the family.
    """
    for database in databases:
        db = f"db{int(database['db'])}"
        keys = database["keys"][:MAX_TOP_N]
        for entry in keys:
            if not isinstance(entry.get("type"), str):
                continue
            labels = {"key": bounded_label(entry["key"]), "type": bounded_label(entry["type"])}
            families.gauge(
                catalog.BIGGEST_KEY_MEMORY_BYTES, float(entry["memory"]), db=db, **labels
            )
        rest = int(database["memory"]) - sum(int(entry["memory"]) for entry in keys)
        families.gauge(catalog.BIGGEST_KEYS_OTHER_MEMORY_BYTES, float(max(rest, 0)), db=db)
        families.gauge(catalog.BIGGEST_KEYS_SCANNED_KEYS, float(database["scanned"]), db=db)
        families.gauge(catalog.BIGGEST_KEYS_SWEEP_SECONDS, float(database["seconds"]), db=db)


def slot_stats_metrics(families: Families, stats: Mapping[str, Any]) -> None:
    """The node's busiest slots by each ORDERBY metric the server answered; idle slots left out."""
    limit = min(int(stats["limit"]), MAX_TOP_N)
    for order, (metric, divisor) in SLOT_ORDERS.items():
        for slot, value in _slot_values(stats.get(order), order, limit):
            add = families.counter if metric.kind == catalog.COUNTER else families.gauge
            add(metric, value / divisor, slot=str(slot))


def _slot_values(reply: object, order: str, limit: int) -> list[tuple[int, int]]:
    """[[slot, [name, value, ...]], ...] -> (slot, value of `order`) for at most `limit` slots.

    Entries of another shape, slots out of range and values that are no counts are skipped:
    one odd entry costs its slot, not the family.
    """
    if not isinstance(reply, list):
        return []  # not asked, or refused
    found: list[tuple[int, int]] = []
    for entry in reply[:limit]:
        if not (isinstance(entry, list) and len(entry) == 2 and isinstance(entry[1], list)):  # noqa: PLR2004 - [slot, fields]
            continue
        slot, fields = entry[0], entry[1]
        value = dict(zip(fields[::2], fields[1::2], strict=False)).get(order)
        if _count(slot) and slot < CLUSTER_SLOTS and _count(value) and value > 0:
            found.append((slot, value))
    return found


def _count(value: object) -> TypeGuard[int]:
    """True for a whole number of 0 or more (RESP2 integers; never a bool)."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0
