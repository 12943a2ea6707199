"""What a cycle asks a server: the commands, by reply name, for its options and its features."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .config import Target

Command = tuple[str | int, ...]

INFO: dict[str, Command] = {"info": ("INFO", "ALL")}
# INFO ALL but its Latencystats section, for servers that take several section names: "default",
# then what ALL adds to it (Commandstats everywhere; Valkey 9's TLS, Cluster Info and Scripting
# Engines: a name a server does not know adds nothing). Not "modules", which adds every loaded
# module's own sections, and which ALL leaves out.
INFO_BUT_LATENCYSTATS: Command = (
    "INFO",
    "default",
    "commandstats",
    "tls",
    "cluster_info",
    "scriptingengines",
)
LATENCYSTATS_HEADER = "# Latencystats"
# Commands only some servers know are sent once INFO has shown the server has them: an unknown
# command would count as an error reply in the server's own error metrics on every cycle.
REDIS_BASE: dict[str, Command] = {
    "slowlog_len": ("SLOWLOG", "LEN"),
    "slowlog_get": ("SLOWLOG", "GET", 1),
}
LATENCY_LATEST: dict[str, Command] = {"latency_latest": ("LATENCY", "LATEST")}
LATENCY_HISTOGRAM: dict[str, Command] = {"latency_histogram": ("LATENCY", "HISTOGRAM")}
COMMANDLOG: dict[str, Command] = {
    "commandlog_slow": ("COMMANDLOG", "LEN", "slow"),
    "commandlog_large_request": ("COMMANDLOG", "LEN", "large-request"),
    "commandlog_large_reply": ("COMMANDLOG", "LEN", "large-reply"),
}
CLUSTER_INFO: dict[str, Command] = {"cluster_info": ("CLUSTER", "INFO")}
CLIENT_LIST: dict[str, Command] = {"client_list": ("CLIENT", "LIST")}
# The newest entries only: the log holds 128 by default (acllog-max-len), each under 1 KB.
ACL_LOG_ENTRIES = 128
# ACL USERS: a failed AUTH's user name is exported only when it names a user (insight.py).
ACL_LOG: dict[str, Command] = {
    "acl_log": ("ACL", "LOG", ACL_LOG_ENTRIES),
    "acl_users": ("ACL", "USERS"),
}
SENTINEL_MASTERS: dict[str, Command] = {"sentinel_masters": ("SENTINEL", "MASTERS")}
SENTINEL_CONFIG: dict[str, Command] = {"sentinel_config": ("SENTINEL", "CONFIG", "GET", "*")}
SLOT_STATS = "slot_stats_keys"  # its reply and the traffic orders' become one: "slot_stats"
SLOT_TRAFFIC_ORDERS = ("cpu-usec", "network-bytes-in", "network-bytes-out")
SCRIPT_PREFIX = "script:"  # reply names of the user's Lua scripts: script:<path>
# The settings translation reads unless every setting is exported (include_config_metrics):
# a tenth of the reply that CONFIG GET * costs, and less than half its server time.
TRANSLATED_SETTINGS = (
    "databases",
    "maxmemory",
    "maxclients",
    "io-threads",
    "repl-backlog-size",
    "client-output-buffer-limit",
    "commandlog-*",
)

_VERSION = re.compile(r"(\d+)\.(\d+)")


@dataclass(frozen=True, slots=True)
class ServerFeatures:
    """What kind of server this is and which version-dependent commands it answers."""

    latency_histogram: bool = False
    config_get_many: bool = False  # CONFIG GET takes several settings (Redis 7, every Valkey)
    commandlog: bool = False
    cluster: bool = False  # a cluster node whose INFO lacks CLUSTER INFO's fields
    sentinel: bool = False
    slot_stats: bool = False  # CLUSTER SLOT-STATS: a cluster node of Valkey 8+ or Redis 8.2+
    acl: bool = False  # ACL LOG (Redis 6, every Valkey)
    info_sections: bool = False  # INFO takes several section names (Redis 7, every Valkey)

    @classmethod
    def from_info(cls, info: str) -> ServerFeatures:
        """Read versions, the server mode and cluster_enabled from an INFO reply."""
        redis_7 = _version(info, "redis_version") >= (7, 0)  # Valkey says redis_version:7.2.4
        mode = _field(info, "redis_mode") or _field(info, "server_mode")
        valkey = _version(info, "valkey_version")
        slot_stats = valkey >= (8, 0) or (
            not valkey[0] and _version(info, "redis_version") >= (8, 2)
        )
        return cls(
            latency_histogram=redis_7,
            config_get_many=redis_7,
            commandlog=_version(info, "valkey_version") >= (8, 1),
            # Valkey 9 repeats CLUSTER INFO in INFO ALL ("# Cluster Info"); asking again would
            # write every redis_cluster_* series twice.
            cluster="\ncluster_enabled:1" in info and "\ncluster_state:" not in info,
            sentinel=mode == "sentinel",
            slot_stats=slot_stats and "\ncluster_enabled:1" in info,
            acl=_version(info, "redis_version") >= (6, 0),
            info_sections=redis_7 and mode != "sentinel",  # a sentinel's INFO is small anyway
        )


def _field(info: str, name: str) -> str:
    """A field of an INFO reply, or "" when it has none.

    str.find rather than a multiline regex: this runs on every cycle's 20 KB reply, and a
    regex anchored at each line start took a tenth of the scrape.
    """
    start = info.find(f"\n{name}:")
    if start < 0:
        return ""
    start += len(name) + 2
    end = info.find("\n", start)
    return info[start : end if end >= 0 else len(info)].strip()


def run_id(info: str) -> str:
    """INFO's run_id: another value on the same address is another server, or a restarted one."""
    return _field(info, "run_id")


def _version(info: str, name: str) -> tuple[int, int]:
    """Major and minor of a version field: (7, 2) for 7.2.4, (0, 0) when absent or odd."""
    match = _VERSION.match(_field(info, name))
    return (int(match[1]), int(match[2])) if match else (0, 0)


def latencystats_section(info: str) -> str:
    """INFO ALL's Latencystats section, header and lines, or "" when it has none."""
    start = info.find(f"\n{LATENCYSTATS_HEADER}") + 1
    if start == 0:
        return ""
    end = info.find("\n# ", start)
    return info[start : end if end >= 0 else len(info)].rstrip("\r\n") + "\r\n"


def with_latencystats(info: str, section: str) -> str:
    """An INFO reply without the Latencystats section, and that section after its last one."""
    return f"{info}\r\n{section}" if section else info


def section_headers(info: str) -> list[str]:
    """The section header lines of an INFO reply, in order ("# Server", ...)."""
    return [line.rstrip("\r") for line in info.split("\n") if line.startswith("# ")]


def cycle_commands(target: Target, features: ServerFeatures) -> dict[str, Command]:
    """Every command of one cycle's pipeline, INFO first, by the name its reply goes under."""
    if features.sentinel:
        return {**INFO, **SENTINEL_MASTERS, **_sentinel_extras(target)}
    latency = not target.options.exclude_latency_histogram_metrics
    commands = {
        **INFO,
        **_config(target, features),
        **REDIS_BASE,
        **(LATENCY_LATEST if latency else {}),
    }
    for wanted, extra in (
        (features.latency_histogram and latency, LATENCY_HISTOGRAM),
        (features.commandlog, COMMANDLOG),
        (features.cluster, CLUSTER_INFO),
        (_wants_client_list(target), CLIENT_LIST),
        (features.acl and target.options.export_acl_log, ACL_LOG),
    ):
        if wanted:
            commands.update(extra)
    for script in target.options.lua_scripts:
        commands[f"{SCRIPT_PREFIX}{script.path}"] = ("EVAL", script.source, 0)
    if features.slot_stats and target.options.export_cluster_slot_stats:
        commands[SLOT_STATS] = slot_stats_command("key-count", target.options.insight_top_n)
    return commands


def slot_stats_command(order: str, limit: int) -> Command:
    """The node's `limit` busiest slots by `order`, busiest first."""
    return ("CLUSTER", "SLOT-STATS", "ORDERBY", order, "LIMIT", limit)


def sentinel_master_commands(master: str) -> dict[str, Command]:
    """The per-master commands of a sentinel, sent once SENTINEL MASTERS has named them."""
    return {
        f"sentinel_ckquorum:{master}": ("SENTINEL", "CKQUORUM", master),
        f"sentinel_sentinels:{master}": ("SENTINEL", "SENTINELS", master),
        f"sentinel_replicas:{master}": ("SENTINEL", "REPLICAS", master),
    }


def _config(target: Target, features: ServerFeatures) -> dict[str, Command]:
    if target.config_command == "-":
        return {}
    if target.options.include_config_metrics or not features.config_get_many:
        return {"config": (target.config_command, "GET", "*")}
    return {"config": (target.config_command, "GET", *TRANSLATED_SETTINGS)}


def _wants_client_list(target: Target) -> bool:
    """CLIENT LIST is one reply for both the per-client families and the load per user and name."""
    return target.options.export_client_list or target.options.export_client_load


def _sentinel_extras(target: Target) -> dict[str, Command]:
    extras = dict(CLIENT_LIST) if _wants_client_list(target) else {}
    if target.options.include_config_metrics:
        extras.update(SENTINEL_CONFIG)
    return extras
