"""Pure translation of the bounded insight families: load per ACL user and client name, ACL denials.

Each family keeps the label values of its top N groups (insight_top_n) and sums every other group
under `other`, which is always written: N + 1 series at most, whatever the server holds. A group
whose own label is `other`, or longer than MAX_LABEL_CHARS, is counted under `other` too, so no
series is written twice and no server-chosen text makes the file big.
"""

from __future__ import annotations

import collections
import functools
import re
from typing import TYPE_CHECKING

from textfile_redis import catalog

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from textfile_redis.catalog import Metric

    from .families import Families

OTHER = "other"
MAX_LABEL_CHARS = 256  # ACL user names and client names are short; a longer one goes to `other`
# Load is summed, never one series per client: more clients than maxclients' default are fine.
# The bytes a cycle reads are capped (max_scrape_bytes), and so is this.
MAX_CLIENT_LINES = 200_000
MAX_ACL_LOG_ENTRIES = 1024  # ACL LOG 128 is asked; a longer reply is not the log's
MAX_ACL_USERS = 100_000  # past it no user is known: failed AUTHs are all `unknown`
UNKNOWN_USER = "unknown"  # a failed AUTH's user name that names no user
_Key = tuple[str, ...]  # a group's label values, in the family's label order
# CLIENT LIST fields summed per group, after the connection count, and their families by label.
_SUMMED = ("tot-cmds", "tot-net-in", "tot-net-out")
_FIELDS = {field: re.compile(rf" {re.escape(field)}=(\S*)") for field in ("user", "name", *_SUMMED)}
_LOAD: dict[str, tuple[Metric, ...]] = {  # label -> connections, then one family per field
    "user": (
        catalog.CONNECTED_CLIENTS_BY_USER,
        catalog.CLIENT_COMMANDS_PROCESSED_BY_USER,
        catalog.CLIENT_NET_INPUT_BYTES_BY_USER,
        catalog.CLIENT_NET_OUTPUT_BYTES_BY_USER,
    ),
    "name": (
        catalog.CONNECTED_CLIENTS_BY_NAME,
        catalog.CLIENT_COMMANDS_PROCESSED_BY_NAME,
        catalog.CLIENT_NET_INPUT_BYTES_BY_NAME,
        catalog.CLIENT_NET_OUTPUT_BYTES_BY_NAME,
    ),
}


def client_load_metrics(families: Families, reply: object, top_n: int) -> None:
    """Connections, and commands and bytes where the server reports them, per user and per name."""
    columns = _columns(reply)
    counted = [field for field in _SUMMED if field in columns]
    counts = [_counts(columns[field]) for field in counted]
    for label, metrics in _LOAD.items():
        if label in columns:  # `user` since Redis 6
            keys = [_label_value(text) for text in columns[label]]
            written = [metrics[0], *(metrics[1 + _SUMMED.index(field)] for field in counted)]
            ranked = top_with_other(_grouped(keys, counts), top_n, (OTHER,), width=len(written))
            _write_load(families, label, written, ranked)


def _grouped(keys: Sequence[str], counts: Sequence[Sequence[int]]) -> dict[_Key, list[float]]:
    """Per key, its clients, then each counter summed over them (whole numbers, exact)."""
    sums: list[dict[str, int]] = [collections.Counter(keys)]
    for column in counts:
        total = dict.fromkeys(sums[0], 0)
        for key, count in zip(keys, column, strict=True):
            total[key] += count
        sums.append(total)
    return {(key,): [float(by_key[key]) for by_key in sums] for key in sums[0]}


def _counts(texts: Sequence[str]) -> list[int]:
    """CLIENT LIST counters as whole numbers; one that is not (1e3, -1, a word) is malformed."""
    counts = [int(text) for text in texts]
    if counts and min(counts) < 0:
        msg = "a negative count"
        raise ValueError(msg)
    return counts


def _write_load(
    families: Families,
    label: str,
    metrics: Sequence[Metric],
    ranked: Sequence[tuple[_Key, Sequence[float]]],
) -> None:
    """Each family's series: the ranked groups' values, one column per family."""
    for column, metric in enumerate(metrics):
        for key, values in ranked:
            families.gauge(metric, values[column], **{label: key[0]})


def acl_log_metrics(families: Families, reply: object, users: object, top_n: int) -> None:
    """ACL LOG: its entries, and their denials (`count`) per reason and user, the top N pairs.

    A failed AUTH logs the user name it was given, which may be a password typed in the wrong
    field: it is kept only when it names a user that ACL USERS (`users`) lists, else `unknown`.
    """
    entries = _list(reply, MAX_ACL_LOG_ENTRIES)
    known = _known_users(users)
    groups: dict[_Key, list[float]] = {}
    for entry in entries:
        reason, user, count = _acl_entry(entry)
        if reason == "auth" and user not in known:
            user = UNKNOWN_USER
        _add(groups, (_label_value(reason), _label_value(user)), [count])
    families.gauge(catalog.ACL_LOG_ENTRIES, float(len(entries)))
    for (reason, user), (denials,) in top_with_other(groups, top_n, (OTHER, OTHER), width=1):
        families.gauge(catalog.ACL_LOG_DENIALS, denials, reason=reason, user=user)


def _known_users(reply: object) -> frozenset[str]:
    """ACL USERS' names; none when it was refused or is not a list of names."""
    if not isinstance(reply, list) or len(reply) > MAX_ACL_USERS:
        return frozenset()
    return frozenset(name for name in reply if isinstance(name, str))


def top_with_other(
    groups: Mapping[_Key, Sequence[float]], top_n: int, other: _Key, width: int
) -> list[tuple[_Key, list[float]]]:
    """The top_n groups by their first value (ties by key), then all the others summed as `other`.

    `other` is always last, zeros when no group is left over; a group keyed `other` is summed in.
    """
    candidates = sorted((key for key in groups if key != other), key=lambda k: (-groups[k][0], k))
    rest = [0.0] * width
    for key in [*candidates[top_n:], *([other] if other in groups else [])]:
        rest = [a + b for a, b in zip(rest, groups[key], strict=True)]
    return [*((key, list(groups[key])) for key in candidates[:top_n]), (other, rest)]


def _add(groups: dict[_Key, list[float]], key: _Key, values: Sequence[float]) -> None:
    """Add the values to the group's, element by element; a new group starts at them."""
    sums = groups.get(key)
    if sums is None:
        groups[key] = list(values)
        return
    for index, value in enumerate(values):
        sums[index] += value


def _label_value(text: str) -> str:
    """The text as a label value, or `other` when it is too long to be one."""
    return text if len(text) <= MAX_LABEL_CHARS else OTHER


def _columns(reply: object) -> dict[str, list[str]]:
    """Each field load needs, by name: its value on every CLIENT LIST line, in order.

    A field is on every client's line or on none (an older server's): values hold no space, so
    one search of the whole reply per field finds them, some ten times faster than splitting
    10,000 lines into fields. Found on some lines only, the reply is malformed.
    """
    if not isinstance(reply, str):
        msg = f"client list as {type(reply).__name__}, not text"
        raise TypeError(msg)
    clients = reply.count("\nid=") + reply.startswith("id=")
    if reply.count("\n") > MAX_CLIENT_LINES:
        msg = f"more than {MAX_CLIENT_LINES} clients"
        raise ValueError(msg)
    columns: dict[str, list[str]] = {}
    for field, pattern in _FIELDS.items():
        values = pattern.findall(reply)
        if values and len(values) != clients:
            msg = f"{field}= on {len(values)} of {clients} clients"
            raise ValueError(msg)
        if values:
            columns[field] = values
    return columns


def _acl_entry(entry: object) -> tuple[str, str, float]:
    """An ACL LOG entry's reason, username and count; an entry of another shape is malformed."""
    fields = _list(entry, 64)  # 20 items on Redis 8; a few more may come
    values = dict(zip(fields[::2], fields[1::2], strict=True))
    reason, user, count = values["reason"], values["username"], values["count"]
    if not isinstance(reason, str) or not isinstance(user, str) or isinstance(count, bool):
        msg = "an ACL LOG entry's reason and username are text"
        raise TypeError(msg)
    return reason, user, _count(count)


def _list(reply: object, limit: int) -> list[object]:
    """The reply as a list of at most `limit` items, else malformed."""
    if not isinstance(reply, list) or len(reply) > limit:
        msg = f"expected a list of {limit} items at most"
        raise TypeError(msg)
    return reply


def _count(value: object) -> float:
    """An ACL LOG count: a whole number; anything else (a word, a float, True) is malformed."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        msg = f"a count as {type(value).__name__}"
        raise TypeError(msg)
    number = float(int(value))  # int("1e3") raises, float(10**400) too
    if number < 0:
        msg = f"a negative count: {value!r}"
        raise ValueError(msg)
    return number


def insight_steps(
    replies: Mapping[str, object], top_n: int, *, client_load: bool
) -> dict[str, functools.partial[None]]:
    """Each insight family's translation, by the reply it reads (ACL LOG is only asked for it)."""
    users = replies.get("acl_users")
    steps = {"acl_log": functools.partial(acl_log_metrics, users=users, top_n=top_n)}
    if client_load:  # CLIENT LIST may have been asked for export_client_list alone
        steps["client_list"] = functools.partial(client_load_metrics, top_n=top_n)
    return steps
