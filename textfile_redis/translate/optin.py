"""Pure translation of the other opt-in families: client list, Lua scripts, config, cluster."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from textfile_redis import catalog

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from .families import Families

SCRIPT_PREFIX = "script:"
# Redis's default maxclients: per-client series past it would be refused by any sample_limit.
MAX_CLIENTS = 10_000
MAX_CLUSTER_INFO_LINES = 1000  # CLUSTER INFO has some thirty
SCRIPT_FAILED, SCRIPT_OK, SCRIPT_EMPTY = 0.0, 1.0, 2.0  # redis_exporter's redis_script_result
# Settings never exported: passwords, and anything named like one.
_SECRET_SETTING = re.compile(r"pass|secret|auth|key-file", re.IGNORECASE)
_CLIENT_LINE = re.compile(r"^id=\d+ addr=\S+")
# CLIENT LIST field -> per-client gauge, as redis_exporter names them.
_CLIENT_GAUGES = {
    "omem": catalog.CONNECTED_CLIENT_OUTPUT_BUFFER_MEMORY_USAGE_BYTES,
    "tot-mem": catalog.CONNECTED_CLIENT_TOTAL_MEMORY_CONSUMED_BYTES,
    "sub": catalog.CONNECTED_CLIENT_CHANNEL_SUBSCRIPTIONS_COUNT,
    "psub": catalog.CONNECTED_CLIENT_PATTERN_MATCHING_SUBSCRIPTIONS_COUNT,
    "qbuf": catalog.CONNECTED_CLIENT_QUERY_BUFFER_LENGTH_BYTES,
    "qbuf-free": catalog.CONNECTED_CLIENT_QUERY_BUFFER_FREE_SPACE_BYTES,
    "obl": catalog.CONNECTED_CLIENT_OUTPUT_BUFFER_LENGTH_BYTES,
    "oll": catalog.CONNECTED_CLIENT_OUTPUT_LIST_LENGTH,
    "ssub": catalog.CONNECTED_CLIENT_SHARD_CHANNEL_SUBSCRIPTIONS_COUNT,  # Redis 7.0.3 and newer
    "watch": catalog.CONNECTED_CLIENT_SHARD_CHANNEL_WATCHED_KEYS,  # Redis 7.4 and newer
}
_CLIENT_TIMES = {  # seconds ago -> the Unix time then
    "age": catalog.CONNECTED_CLIENT_CREATED_AT_TIMESTAMP,
    "idle": catalog.CONNECTED_CLIENT_IDLE_SINCE_TIMESTAMP,
}
_CONFIG = {  # families of CONFIG GET * and SENTINEL CONFIG GET *, by reply name
    "config": (catalog.CONFIG_KEY_VALUE, catalog.CONFIG_VALUE),
    "sentinel_config": (catalog.SENTINEL_CONFIG_KEY_VALUE, catalog.SENTINEL_CONFIG_VALUE),
}


def client_list_metrics(families: Families, reply: object, now: float, *, with_port: bool) -> None:
    """CLIENT LIST: redis_connected_client_info and per-client gauges labelled id and name."""
    for line in _lines(reply, MAX_CLIENTS):
        client = _client_fields(line)
        if client is not None:
            _client(families, client, now, with_port=with_port)


def _client_fields(line: str) -> dict[str, str] | None:
    if not _CLIENT_LINE.match(line):
        return None
    fields = dict(part.partition("=")[::2] for part in line.split(" "))
    host, _, port = fields["addr"].rpartition(":")
    return {**fields, "host": host, "port": port}


def _client(families: Families, client: Mapping[str, str], now: float, *, with_port: bool) -> None:
    info = {key: client.get(key, "") for key in ("id", "name", "flags", "db", "host")}
    if with_port:
        info["port"] = client["port"]
    for optional in ("user", "resp"):  # user since Redis 6, resp since 7
        if client.get(optional):
            info[optional] = client[optional]
    families.gauge(catalog.CONNECTED_CLIENT_INFO, 1.0, **info)
    who = {"id": client["id"], "name": client.get("name", "")}
    for field, metric in _CLIENT_GAUGES.items():
        if _is_number(client.get(field)):
            families.gauge(metric, float(client[field]), **who)
    for field, metric in _CLIENT_TIMES.items():
        if _is_number(client.get(field)):
            families.gauge(metric, float(int(now) - int(client[field])), **who)


def script_metrics(
    families: Families, replies: Mapping[str, Any], refused: Mapping[str, str]
) -> None:
    """Each Lua script's name/value pairs, and whether it ran: 1 ok, 0 failed, 2 no values."""
    for name in sorted({*replies, *refused}):
        if name.startswith(SCRIPT_PREFIX):
            filename = name.removeprefix(SCRIPT_PREFIX)
            result = _script_values(families, replies.get(name), filename)
            families.gauge(catalog.SCRIPT_RESULT, result, filename=filename)


def _script_values(families: Families, reply: object, filename: str) -> float:
    if not isinstance(reply, list) or len(reply) % 2:
        return SCRIPT_FAILED
    pairs = list(zip(reply[::2], reply[1::2], strict=True))
    if not all(_is_number(value) for _, value in pairs):
        return SCRIPT_FAILED
    for key, value in pairs:
        families.gauge(catalog.SCRIPT_VALUES, float(value), key=str(key), filename=filename)
    return SCRIPT_OK if pairs else SCRIPT_EMPTY


def config_metrics(families: Families, config: Mapping[str, str], reply: str = "config") -> None:
    """Every setting as {key, value} and numeric ones as values; secrets never appear."""
    key_value, numeric = _CONFIG[reply]
    for key, value in sorted(config.items()):
        if _SECRET_SETTING.search(key):
            continue
        families.gauge(key_value, 1.0, key=key, value=value)
        if _is_number(value):
            families.gauge(numeric, float(value), key=key)


def cluster_info_metrics(
    families: Families, reply: object, field_metric: Callable[[Families, str, str], None]
) -> None:
    """CLUSTER INFO's key:value lines, exported as INFO fields are (cluster_state ok -> 1)."""
    for line in _lines(reply, MAX_CLUSTER_INFO_LINES):
        key, sep, value = line.strip().partition(":")
        if sep:
            field_metric(families, key, value)


def _lines(reply: object, limit: int) -> list[str]:
    """A text reply's lines, at most `limit` of them; any other reply is malformed."""
    if not isinstance(reply, str):
        msg = f"expected text, got {type(reply).__name__}"
        raise TypeError(msg)
    lines = reply.splitlines()  # the bytes read are capped: so is this list
    if len(lines) > limit:
        msg = f"more than {limit} lines"
        raise ValueError(msg)
    return lines


def _is_number(text: object) -> bool:
    """Whether float() takes it: an int past 1.8e308 does not."""
    if not isinstance(text, (str, int, float)):
        return False
    try:
        float(text)
    except (ValueError, OverflowError):
        return False
    return True
