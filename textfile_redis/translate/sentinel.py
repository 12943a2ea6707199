"""Pure translation of a sentinel: its INFO section and its masters, replicas and peers."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from textfile_redis import catalog
from textfile_redis.replies import as_text_dict, int_or_zero

if TYPE_CHECKING:
    from collections.abc import Mapping

    from .families import Families

_SENTINEL_GAUGES = {
    "sentinel_masters": catalog.SENTINEL_MASTERS,
    "sentinel_tilt": catalog.SENTINEL_TILT,
    "sentinel_running_scripts": catalog.SENTINEL_RUNNING_SCRIPTS,
    "sentinel_scripts_queue_length": catalog.SENTINEL_SCRIPTS_QUEUE_LENGTH,
    "sentinel_simulate_failure_flags": catalog.SENTINEL_SIMULATE_FAILURE_FLAGS,
}
_MASTER_LINE = re.compile(r"^master\d+$")
# SENTINEL MASTERS field -> metric, and the factor that turns it into the metric's unit.
_MASTER_SETTINGS = {
    "quorum": (catalog.SENTINEL_MASTER_SETTING_CKQUORUM, 1.0),
    "failover-timeout": (catalog.SENTINEL_MASTER_SETTING_FAILOVER_TIMEOUT, 1.0),
    "parallel-syncs": (catalog.SENTINEL_MASTER_SETTING_PARALLEL_SYNCS, 1.0),
    "down-after-milliseconds": (catalog.SENTINEL_MASTER_SETTING_DOWN_AFTER_MILLISECONDS, 1.0),
    "config-epoch": (catalog.SENTINEL_MASTER_CONFIG_EPOCH, 1.0),
    "last-ok-ping-reply": (catalog.SENTINEL_MASTER_LAST_OK_PING_REPLY_SECONDS, 1e-3),
}


def sentinel_info_field(families: Families, key: str, value: str) -> None:
    """One line of INFO's Sentinel section."""
    if key in _SENTINEL_GAUGES:
        families.gauge(_SENTINEL_GAUGES[key], int_or_zero(value))
    elif _MASTER_LINE.match(key):
        _master_line(families, value)


def _master_line(families: Families, value: str) -> None:
    """master0:name=mymaster,status=ok,address=127.0.0.1:6379,slaves=1,sentinels=3."""
    fields = dict(part.partition("=")[::2] for part in value.split(","))
    try:
        replicas, sentinels = float(fields["slaves"]), float(fields["sentinels"])
    except (KeyError, ValueError):
        return
    master = {"master_name": fields.get("name", ""), "master_address": fields.get("address", "")}
    status = fields.get("status", "")
    families.gauge(
        catalog.SENTINEL_MASTER_STATUS, float(status == "ok"), **master, master_status=status
    )
    families.gauge(catalog.SENTINEL_MASTER_SLAVES, replicas, **master)
    families.gauge(catalog.SENTINEL_MASTER_SENTINELS, sentinels, **master)


def sentinel_masters_metrics(
    families: Families, replies: Mapping[str, Any], refused: Mapping[str, str]
) -> None:
    """Per master: settings, quorum check, and how many replicas and sentinels are healthy."""
    for master in _entries(replies.get("sentinel_masters")):
        fields = as_text_dict(master)
        name = fields.get("name")
        if name is None or "ip" not in fields or "port" not in fields:
            continue
        labels = {"master_name": name, "master_address": f"{fields['ip']}:{fields['port']}"}
        _master_settings(families, fields, labels)
        _quorum(families, name, replies.get(f"sentinel_ckquorum:{name}"), refused)
        peers = replies.get(f"sentinel_sentinels:{name}")
        # The sentinel answering counts itself: the master it reports on is seen by one more.
        families.gauge(catalog.SENTINEL_MASTER_OK_SENTINELS, 1.0 + _healthy(peers), **labels)
        replicas = replies.get(f"sentinel_replicas:{name}")
        families.gauge(catalog.SENTINEL_MASTER_OK_SLAVES, _healthy(replicas), **labels)


def _master_settings(
    families: Families, fields: Mapping[str, str], labels: Mapping[str, str]
) -> None:
    for field, (metric, factor) in _MASTER_SETTINGS.items():
        try:
            value = float(fields.get(field, "0")) * factor
        except ValueError:
            value = 0.0
        families.gauge(metric, value, **labels)


def _quorum(families: Families, name: str, reply: object, refused: Mapping[str, str]) -> None:
    """SENTINEL CKQUORUM: 1 with its message when reachable, else 0 with the error's text."""
    message = str(reply) if isinstance(reply, str) else refused.get(f"sentinel_ckquorum:{name}")
    families.gauge(
        catalog.SENTINEL_MASTER_CKQUORUM_STATUS,
        1.0 if isinstance(reply, str) else 0.0,
        master_name=name,
        message=message or "",
    )


def _healthy(peers: object) -> float:
    """Peers or replicas whose flags say neither subjectively nor objectively down."""
    entries = [] if peers is None else _entries(peers)  # None: the command was refused
    flags = [as_text_dict(entry).get("flags") for entry in entries]
    return float(sum(f is not None and "s_down" not in f and "o_down" not in f for f in flags))


def _entries(reply: object) -> list[list[Any]]:
    """A list of flat [name, value, ...] lists; a reply of any other shape is malformed."""
    if not isinstance(reply, list) or not all(isinstance(entry, list) for entry in reply):
        msg = "expected a list of [name, value, ...] lists"
        raise TypeError(msg)
    return reply
