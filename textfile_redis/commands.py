"""What a cycle asks a server: the commands, by reply name, for its options and its features."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .config import Target

Command = tuple[str | int, ...]

INFO: dict[str, Command] = {"info": ("INFO", "ALL")}
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
SENTINEL_MASTERS: dict[str, Command] = {"sentinel_masters": ("SENTINEL", "MASTERS")}
SENTINEL_CONFIG: dict[str, Command] = {"sentinel_config": ("SENTINEL", "CONFIG", "GET", "*")}
SCRIPT_PREFIX = "script:"  # reply names of the user's Lua scripts: script:<path>
# The settings translation reads unless every setting is exported (include_config_metrics):
# a tenth of the server's time and of the reply that CONFIG GET * costs.
TRANSLATED_SETTINGS = (
    "databases",
    "maxmemory",
    "maxclients",
    "io-threads",
    "repl-backlog-size",
    "client-output-buffer-limit",
    "commandlog-*",
)

_VERSION = re.compile(r"^(redis|valkey)_version:(\d+)\.(\d+)", re.MULTILINE)
_MODE = re.compile(r"^(?:redis|server)_mode:(\w+)", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class ServerFeatures:
    """What kind of server this is and which version-dependent commands it answers."""

    latency_histogram: bool = False
    config_get_many: bool = False  # CONFIG GET takes several settings (Redis 7, every Valkey)
    commandlog: bool = False
    cluster: bool = False  # a cluster node whose INFO lacks CLUSTER INFO's fields
    sentinel: bool = False

    @classmethod
    def from_info(cls, info: str) -> ServerFeatures:
        """Read versions, the server mode and cluster_enabled from an INFO reply."""
        versions = {m[1]: (int(m[2]), int(m[3])) for m in _VERSION.finditer(info)}
        mode = _MODE.search(info)
        redis_7 = versions.get("redis", (0, 0)) >= (7, 0)  # Valkey says redis_version:7.2.4
        return cls(
            latency_histogram=redis_7,
            config_get_many=redis_7,
            commandlog=versions.get("valkey", (0, 0)) >= (8, 1),
            # Valkey 9 repeats CLUSTER INFO in INFO ALL ("# Cluster Info"); asking again would
            # write every redis_cluster_* series twice.
            cluster="\ncluster_enabled:1" in info and "\ncluster_state:" not in info,
            sentinel=mode is not None and mode[1] == "sentinel",
        )


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
        (target.options.export_client_list, CLIENT_LIST),
    ):
        if wanted:
            commands.update(extra)
    for script in target.options.lua_scripts:
        commands[f"{SCRIPT_PREFIX}{script.path}"] = ("EVAL", script.source, 0)
    return commands


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


def _sentinel_extras(target: Target) -> dict[str, Command]:
    extras = dict(CLIENT_LIST) if target.options.export_client_list else {}
    if target.options.include_config_metrics:
        extras.update(SENTINEL_CONFIG)
    return extras
