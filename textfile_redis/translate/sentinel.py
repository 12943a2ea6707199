"""Pure translation of a sentinel: its INFO section and its masters, replicas and peers."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from textfile_redis.replies import as_text_dict

from .families import PREFIX, Families

if TYPE_CHECKING:
    from collections.abc import Mapping

_SENTINEL_GAUGES = (
    "sentinel_masters",
    "sentinel_tilt",
    "sentinel_running_scripts",
    "sentinel_scripts_queue_length",
    "sentinel_simulate_failure_flags",
)
_MASTER_LINE = re.compile(r"^master\d+$")
# SENTINEL MASTERS field -> metric, and the factor that turns it into the metric's unit.
_MASTER_SETTINGS = {
    "quorum": ("sentinel_master_setting_ckquorum", 1.0),
    "failover-timeout": ("sentinel_master_setting_failover_timeout", 1.0),
    "parallel-syncs": ("sentinel_master_setting_parallel_syncs", 1.0),
    "down-after-milliseconds": ("sentinel_master_setting_down_after_milliseconds", 1.0),
    "config-epoch": ("sentinel_master_config_epoch", 1.0),
    "last-ok-ping-reply": ("sentinel_master_last_ok_ping_reply_seconds", 1e-3),
}


def sentinel_info_field(families: Families, key: str, value: str) -> None:
    """One line of INFO's Sentinel section."""
    if key in _SENTINEL_GAUGES:
        families.gauge(f"{PREFIX}{key}", _int_or_zero(value))
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
        f"{PREFIX}sentinel_master_status", float(status == "ok"), **master, master_status=status
    )
    families.gauge(f"{PREFIX}sentinel_master_slaves", replicas, **master)
    families.gauge(f"{PREFIX}sentinel_master_sentinels", sentinels, **master)


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
        families.gauge(f"{PREFIX}sentinel_master_ok_sentinels", 1.0 + _healthy(peers), **labels)
        replicas = replies.get(f"sentinel_replicas:{name}")
        families.gauge(f"{PREFIX}sentinel_master_ok_slaves", _healthy(replicas), **labels)


def _master_settings(
    families: Families, fields: Mapping[str, str], labels: Mapping[str, str]
) -> None:
    for field, (name, factor) in _MASTER_SETTINGS.items():
        try:
            value = float(fields.get(field, "0")) * factor
        except ValueError:
            value = 0.0
        families.gauge(f"{PREFIX}{name}", value, **labels)


def _quorum(families: Families, name: str, reply: object, refused: Mapping[str, str]) -> None:
    """SENTINEL CKQUORUM: 1 with its message when reachable, else 0 with the error's text."""
    message = str(reply) if isinstance(reply, str) else refused.get(f"sentinel_ckquorum:{name}")
    families.gauge(
        f"{PREFIX}sentinel_master_ckquorum_status",
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


def _int_or_zero(text: str) -> float:
    try:
        return float(int(text))
    except ValueError:
        return 0.0
