"""Key and stream inspection: resumable SCAN sweeps under a time budget, pipelined lookups."""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass, field
from itertools import groupby, islice
from typing import TYPE_CHECKING, Any, ClassVar, TypeAlias, cast

from .replies import MAX_NAME_CHARS, as_dict, cut_name

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator, Sequence

    from .config import KeyPattern, Options

Command: TypeAlias = tuple[str | int, ...]
# One round trip: every command's reply in order, a Refused in place of an error reply.
Execute: TypeAlias = "Callable[[Sequence[Command]], list[Any]]"

GLOB = re.compile(r"[*?\[\]^]")  # redis_exporter's test for "this key is a SCAN pattern"
VALUE_PREFIX_BYTES = 4096  # GETRANGE, not GET: a huge value never crosses the wire whole
HLL_MAGIC = "HYLL"  # a HyperLogLog's first bytes; TYPE calls it a string
HLL_HEADER_BYTES = 16
SIZE_COMMANDS = {
    "string": "STRLEN",
    "list": "LLEN",
    "set": "SCARD",
    "zset": "ZCARD",
    "hash": "HLEN",
    "stream": "XLEN",
}
MEMORY_SAMPLES = 5  # MEMORY USAGE's own default: nested values are estimated from 5 elements
# Key groups and biggest keys sweep at most this many databases (Redis has 16 by default): a
# server listing 100,000 dbN lines would otherwise cost a pipeline and a sweep kept for each.
MAX_SWEPT_DATABASES = 1024
# A key name is the server's to choose, up to 512 MB: the top N keep a longer name cut
# (replies.cut_name, as the label shows it), so TYPE cannot be asked of it and its type is
# published as CUT_NAME_TYPE.
CUT_NAME_TYPE = "unknown"
BIGGEST_KEYS = "biggest_keys"  # the refusal's name when MEMORY USAGE or TYPE is refused
# An ACL without the command ("no permissions to run"), or a server without it.
_COMMAND_REFUSED = re.compile(r"permissions to run|unknown (sub)?command", re.IGNORECASE)
_KEYSPACE_LINE = re.compile(r"^db(\d{1,9}):keys=(\d{1,19})", re.MULTILINE)

# One SCAN batch of a database classified by the user's Lua patterns, on the server: only group
# totals cross the wire. The first matching pattern's captures, joined, name the group.
KEY_GROUPS_SCRIPT = """
local batch = redis.call("SCAN", ARGV[1], "COUNT", ARGV[2])
local groups = {}
for _, key in ipairs(batch[2]) do
  local usage = redis.pcall("MEMORY", "USAGE", key)
  if type(usage) ~= "number" then usage = 0 end
  local group = "unclassified"
  for i = 3, #ARGV do
    local found = {string.find(key, ARGV[i])}
    if found[1] ~= nil then
      group = table.concat({unpack(found, 3, #found)}, "")
      break
    end
  end
  local totals = groups[group]
  if totals == nil then
    groups[group] = {1, usage}
  else
    totals[1] = totals[1] + 1
    totals[2] = totals[2] + usage
  end
end
local result = {}
for group, totals in pairs(groups) do
  result[#result + 1] = {group, totals[1], totals[2]}
end
return {batch[1], result}
"""


@dataclass(frozen=True, slots=True)
class Refused:
    """A command the server answered with an error; kept in place of its reply."""

    message: str


class Budget:
    """The time one cycle may spend inspecting keys; the first round trip always goes.

    `room` says whether the scrape may still read more (its byte cap): a sweep that stops
    early resumes next cycle, where failing the scrape would lose every family.
    """

    def __init__(
        self, seconds: float, clock: Callable[[], float], room: Callable[[], bool] = lambda: True
    ) -> None:
        self._clock = clock
        self._room = room
        self.started = clock()
        self._deadline = self.started + seconds

    def left(self) -> bool:
        """True while there is time and room for another round trip."""
        return self._clock() < self._deadline and self._room()

    def now(self) -> float:
        """The clock's reading."""
        return self._clock()

    def spent_ms(self) -> float:
        """Milliseconds since this cycle's inspection began."""
        return (self._clock() - self.started) * 1000


@dataclass(slots=True)
class Sweep:
    """One SCAN over a database, resumed across cycles until the cursor comes back to 0."""

    db: int
    pattern: str  # the MATCH pattern; empty for key groups, which look at every key
    only_type: str = ""  # SCAN's TYPE filter, for sweeps that want streams only
    cursor: int = 0
    partial: dict[str, list[int]] = field(default_factory=dict)
    result: dict[str, list[int]] | None = None  # the last complete sweep's findings

    @property
    def in_progress(self) -> bool:
        """True when the sweep stopped mid-way: what is published is older, or missing."""
        return self.cursor != 0 or self.result is None

    def take(self, next_cursor: int, found: dict[str, list[int]]) -> None:
        """Add one batch's findings; a cursor of 0 completes the sweep."""
        for name, totals in found.items():
            known = self.partial.setdefault(name, [0] * len(totals))
            for index, amount in enumerate(totals):
                known[index] += amount
        self.cursor = next_cursor
        if next_cursor == 0:
            self.result, self.partial = self.partial, {}


@dataclass(slots=True)
class TopSweep:
    """One SCAN over a database measuring every key, keeping only the `limit` biggest.

    The published result is the last complete sweep's, so that the top N stays put while
    nothing changes; memory held between cycles is `limit` keys, however big the database.
    """

    pattern: ClassVar[str] = ""  # every key: as key groups, it names no pattern
    db: int
    limit: int
    started: float = 0.0  # when the sweep in progress began
    advanced: float = -math.inf  # when a batch last went: the longest waiting goes first
    cursor: int = 0
    partial: dict[str, int] = field(default_factory=dict)  # key -> bytes, the biggest so far
    scanned: int = 0
    total: int = 0  # bytes of every key measured, the biggest included
    result: dict[str, Any] | None = None

    @property
    def in_progress(self) -> bool:
        """True when the sweep stopped mid-way: what is published is older, or missing."""
        return self.cursor != 0 or self.result is None

    def take(self, next_cursor: int, measured: dict[str, int], now: float) -> dict[str, Any] | None:
        """Add one batch's measurements; the complete sweep's findings when a cursor of 0 ends it.

        A key SCAN returns again while the top N hold it is counted once, so that the rest's
        memory never includes a top key; keys outside the top N are not remembered (memory
        stays N names), so a repeat of one of those is counted again.
        """
        fresh = {cut_name(k): m for k, m in measured.items()}
        fresh = {k: m for k, m in fresh.items() if k not in self.partial}
        self.partial.update(fresh)
        self.scanned += len(fresh)
        self.total += sum(fresh.values())
        self.partial = dict(_biggest(self.partial, self.limit))
        self.cursor = next_cursor
        self.advanced = now
        if next_cursor != 0:
            return None
        found = {
            "db": self.db,
            "keys": [{"key": k, "memory": m} for k, m in self.partial.items()],
            "scanned": self.scanned,
            "memory": self.total,
            "seconds": now - self.started,
        }
        self.partial, self.scanned, self.total = {}, 0, 0
        return found


def _biggest(measured: dict[str, int], limit: int) -> list[tuple[str, int]]:
    """The `limit` biggest keys, biggest first; of the same size, by name: a total order."""
    return sorted(measured.items(), key=lambda item: (-item[1], item[0]))[:limit]


class KeyInspector:
    """A target's key, count, group and stream inspection; SCAN state lives between cycles."""

    def __init__(self, options: Options, clock: Callable[[], float] = time.monotonic) -> None:
        self.options = options
        self._clock = clock
        self._key_sweeps = _sweeps(p for p in options.check_keys if GLOB.search(p.pattern))
        self._count_sweeps = _sweeps(options.count_keys)
        self._stream_sweeps = _sweeps(
            (p for p in options.check_streams if GLOB.search(p.pattern)), only_type="stream"
        )
        self._group_sweeps: dict[int, Sweep] = {}
        self._top_sweeps: dict[int, TopSweep] = {}
        # Refusals by name, kept for the connection: a refused sweep is not sent again.
        self.refused: dict[str, str] = {}

    def inspect(
        self,
        execute: Execute,
        info: str,
        seconds: float = math.inf,
        room: Callable[[], bool] = lambda: True,
    ) -> dict[str, Any]:
        """One cycle's inspection as plain data for translation; `info` is this cycle's INFO.

        It takes scan_budget or `seconds`, whichever is less, and stops sweeping without `room`.
        """
        budget = Budget(min(self.options.scan_budget, seconds), self._clock, room)
        sweeps = [*self._key_sweeps, *self._count_sweeps, *self._stream_sweeps]
        _advance(execute, sweeps, budget, self._match_step)
        result: dict[str, Any] = {
            "keys": list(self._keys(execute, budget)),
            "key_counts": [
                {"db": s.db, "pattern": s.pattern, "count": len(s.result)}
                for s in self._count_sweeps
                if s.result is not None
            ],
            "streams": list(_streams(execute, self._streams())),
        }
        if self.options.check_key_groups:
            result["key_groups"] = self._key_groups(execute, info, budget)
            result["key_groups_duration_ms"] = budget.spent_ms()
        if self.options.export_biggest_keys:
            result["biggest_keys"] = self._biggest_keys(execute, info, budget)
        result["scans_in_progress"] = self._in_progress()
        return result

    def _match_step(self, sweep: Sweep) -> Command:
        size = self.options.check_keys_batch_size
        scan: Command = ("SCAN", sweep.cursor, "MATCH", sweep.pattern, "COUNT", size)
        # XINFO on a key that is not a stream is an error reply; SCAN can look for streams only.
        return (*scan, "TYPE", sweep.only_type) if sweep.only_type else scan

    def _group_step(self, sweep: Sweep) -> Command:
        size = self.options.check_keys_batch_size
        return ("EVAL", KEY_GROUPS_SCRIPT, 0, sweep.cursor, size, *self.options.check_key_groups)

    def _keys(self, execute: Execute, budget: Budget) -> Iterator[dict[str, Any]]:
        options = self.options
        wanted = _wanted(self._key_sweeps, options.check_single_keys, options.check_keys)
        size = options.check_keys_batch_size
        for start in range(0, len(wanted), size):
            if start and not budget.left():
                return
            yield from _key_details(execute, wanted[start : start + size])

    def _streams(self) -> list[tuple[int, str]]:
        options = self.options
        return _wanted(self._stream_sweeps, options.check_single_streams, options.check_streams)

    def _key_groups(self, execute: Execute, info: str, budget: Budget) -> list[dict[str, Any]]:
        for db in databases_with_keys(info):
            self._group_sweeps.setdefault(db, Sweep(db, ""))
        sweeps = list(self._group_sweeps.values())
        _advance(execute, sweeps, budget, self._group_step)
        return [{"db": s.db, "groups": s.result} for s in sweeps if s.result is not None]

    def _biggest_keys(self, execute: Execute, info: str, budget: Budget) -> list[dict[str, Any]]:
        """Advance every database's sweep; the last complete sweep's top N per database.

        A database that empties loses its sweep, and with it its published keys. A refused
        MEMORY USAGE or TYPE drops every sweep: nothing is published, the refusal says why.
        """
        if BIGGEST_KEYS not in self.refused:
            limit = self.options.insight_top_n
            self._top_sweeps = {
                db: self._top_sweeps.get(db) or TopSweep(db, limit)
                for db in databases_with_keys(info)
            }
            waiting = sorted(self._top_sweeps.values(), key=lambda s: s.advanced)
            size = self.options.check_keys_batch_size
            completed = _advance_top(execute, waiting, budget, size, self.refused)
            _publish(execute, completed, self.refused)
        if BIGGEST_KEYS in self.refused:
            self._top_sweeps = {}
        return [s.result for s in self._top_sweeps.values() if s.result is not None]

    def _in_progress(self) -> list[dict[str, Any]]:
        kinds = (
            ("check_keys", self._key_sweeps),
            ("count_keys", self._count_sweeps),
            ("check_streams", self._stream_sweeps),
            ("check_key_groups", list(self._group_sweeps.values())),
            ("export_biggest_keys", list(self._top_sweeps.values())),
        )
        return [
            {"kind": kind, "db": s.db, "pattern": s.pattern}
            for kind, sweeps in kinds
            for s in sweeps
            if s.in_progress
        ]


def databases_with_keys(info: str) -> list[int]:
    """The databases INFO's keyspace section lists holding at least one key, the first 1,024."""
    lines = islice(_KEYSPACE_LINE.finditer(info), MAX_SWEPT_DATABASES)
    return [int(line[1]) for line in lines if int(line[2]) > 0]


def _sweeps(patterns: Iterable[KeyPattern], only_type: str = "") -> list[Sweep]:
    return [Sweep(p.db, p.pattern, only_type) for p in patterns]


def _wanted(
    sweeps: list[Sweep], single: Iterable[KeyPattern], patterns: Iterable[KeyPattern]
) -> list[tuple[int, str]]:
    """Single keys, plain names among the patterns, then every key the sweeps found."""
    wanted = [(k.db, k.pattern) for k in single]
    wanted += [(k.db, k.pattern) for k in patterns if not GLOB.search(k.pattern)]
    for sweep in sweeps:
        wanted += [(sweep.db, name) for name in sorted(sweep.result or ())]
    return list(dict.fromkeys(wanted))


def _advance(
    execute: Execute, sweeps: list[Sweep], budget: Budget, step: Callable[[Sweep], Command]
) -> None:
    """Move every sweep on by one batch per round trip until each completes or time is up.

    A sweep completed in an earlier cycle starts over; one that completes now waits for the
    next cycle. All sweeps share each round trip, so more patterns cost no more trips.
    """
    running = list(sweeps)
    while running:
        commands: list[Command] = []
        for sweep in running:
            commands += [("SELECT", sweep.db), step(sweep)]
        replies = execute(commands)
        for sweep, reply in zip(running, replies[1::2], strict=True):
            sweep.take(*_batch(reply))
        running = [s for s in running if s.cursor != 0]
        if not budget.left():
            return


def _advance_top(
    execute: Execute,
    sweeps: list[TopSweep],
    budget: Budget,
    size: int,
    refused: dict[str, str],
) -> list[tuple[TopSweep, dict[str, Any]]]:
    """Move every sweep on, one SCAN batch and its MEMORY USAGE per two round trips.

    As _advance: until each completes or time is up, the first round trip always, but with the
    budget already spent it carries the first sweep's batch only. MEMORY USAGE goes pipelined,
    at most `size` per database per round trip; completed sweeps return with their findings.
    """
    running = list(sweeps) if budget.left() else sweeps[:1]
    completed = []
    while running:
        commands: list[Command] = []
        for sweep in running:
            if sweep.cursor == 0:
                sweep.started = budget.now()
            commands += [("SELECT", sweep.db), ("SCAN", sweep.cursor, "COUNT", size)]
        batches = [_batch(reply) for reply in execute(commands)[1::2]]
        keys = [(s.db, list(found)) for s, (_, found) in zip(running, batches, strict=True)]
        measured = _measure(execute, keys, refused)
        for sweep, (cursor, _), sizes in zip(running, batches, measured, strict=True):
            found = sweep.take(cursor, sizes, budget.now())
            if found is not None:
                completed.append((sweep, found))
        running = [s for s in running if s.cursor != 0]
        if not budget.left():
            break
    return completed


def _measure(
    execute: Execute, batches: list[tuple[int, list[str]]], refused: dict[str, str]
) -> list[dict[str, int]]:
    """MEMORY USAGE of every key of every batch, in one round trip; gone keys are left out."""
    commands: list[Command] = []
    for db, keys in batches:
        commands.append(("SELECT", db))
        commands += [("MEMORY", "USAGE", key, "SAMPLES", MEMORY_SAMPLES) for key in keys]
    replies = iter(execute(commands) if commands else [])
    measured = []
    for _, keys in batches:
        next(replies)  # SELECT's OK
        sizes = [_whole_number(_refusal(next(replies), "MEMORY USAGE", refused)) for _ in keys]
        measured.append({k: n for k, n in zip(keys, sizes, strict=True) if n is not None})
    return measured


def _refusal(reply: object, command: str, refused: dict[str, str]) -> object:
    """The reply as it is; a refusal of the command itself is noted first, under BIGGEST_KEYS.

    Another error (a key an ACL keeps from this user, a hostile reply) costs its key only.
    """
    if isinstance(reply, Refused) and _COMMAND_REFUSED.search(reply.message):
        refused.setdefault(BIGGEST_KEYS, f"{command}: {reply.message}")
    return reply


def _publish(
    execute: Execute, completed: list[tuple[TopSweep, dict[str, Any]]], refused: dict[str, str]
) -> None:
    """TYPE of the completed sweeps' top keys, in one round trip; only then are they published.

    Should that round trip fail, each sweep's previous result stands. A key gone since is left
    out; a cut name's TYPE cannot be asked.
    """
    commands: list[Command] = []
    for sweep, found in completed:
        commands.append(("SELECT", sweep.db))
        commands += [("TYPE", e["key"]) for e in found["keys"] if len(e["key"]) <= MAX_NAME_CHARS]
    replies = iter(execute(commands) if commands else [])
    for sweep, found in completed:
        next(replies)  # SELECT's OK
        for entry in found["keys"]:
            kind = next(replies) if len(entry["key"]) <= MAX_NAME_CHARS else CUT_NAME_TYPE
            kind = _refusal(kind, "TYPE", refused)
            entry["type"] = kind if isinstance(kind, str) else "none"
        found["keys"] = [entry for entry in found["keys"] if entry["type"] != "none"]
        sweep.result = found


def _batch(reply: object) -> tuple[int, dict[str, list[int]]]:
    """A SCAN reply [cursor, [names]] or a key-groups reply [cursor, [[group, n, bytes]]]."""
    if not (isinstance(reply, list) and len(reply) == 2 and isinstance(reply[1], list)):  # noqa: PLR2004
        return 0, {}  # refused: the sweep ends with what it has
    cursor = _whole_number(reply[0])
    if cursor is None:
        return 0, {}  # not a cursor: the sweep ends with what it has, as for a refusal
    found: dict[str, list[int]] = {}
    for item in reply[1]:
        if not isinstance(item, list):
            found[str(item)] = [1]
        elif len(item) == 3:  # noqa: PLR2004 - [group, count, bytes]
            numbers = [_whole_number(item[1]), _whole_number(item[2])]
            if None not in numbers:
                found[str(item[0])] = cast("list[int]", numbers)
    return cursor, found


def _whole_number(value: object) -> int | None:
    """A count or cursor as the server sends it (an integer or its digits); None otherwise."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def _in_db(execute: Execute, db: int, commands: list[Command]) -> list[Any]:
    """One round trip in database `db`: SELECT first, its reply dropped; none for no commands."""
    return execute([("SELECT", db), *commands])[1:] if commands else []


def _key_details(execute: Execute, keys: list[tuple[int, str]]) -> Iterator[dict[str, Any]]:
    for db, entries in groupby(sorted(keys), key=lambda entry: entry[0]):
        yield from _key_details_in_db(execute, db, [key for _, key in entries])


def _key_details_in_db(execute: Execute, db: int, keys: list[str]) -> list[dict[str, Any]]:
    """TYPE and MEMORY USAGE in one round trip, sizes and string values in a second.

    A string whose value starts like a HyperLogLog gets PFCOUNT in a third, only then: PFCOUNT
    on a plain string would count as an error reply in the server's own error metrics.
    """
    found = _types_and_memory(execute, db, keys)
    measurable = [entry for entry in found if entry["type"] in SIZE_COMMANDS]
    strings = [entry for entry in measurable if entry["type"] == "string"]
    replies = _in_db(
        execute,
        db,
        [(SIZE_COMMANDS[entry["type"]], entry["key"]) for entry in measurable]
        + [("GETRANGE", entry["key"], 0, VALUE_PREFIX_BYTES - 1) for entry in strings],
    )
    for entry, size in zip(measurable, replies, strict=False):
        entry["size"] = size if isinstance(size, int) else None
    for entry, value in zip(strings, replies[len(measurable) :], strict=True):
        entry["value"] = value if isinstance(value, str) else None
    _count_hyperloglogs(execute, db, [e for e in strings if _looks_like_hll(e["value"])])
    return found


def _types_and_memory(execute: Execute, db: int, keys: list[str]) -> list[dict[str, Any]]:
    """The keys that exist, with their type and memory usage."""
    commands: list[Command] = []
    for key in keys:
        commands += [("TYPE", key), ("MEMORY", "USAGE", key)]
    replies = _in_db(execute, db, commands)
    return [
        {"db": db, "key": key, "type": kind, "memory": memory if isinstance(memory, int) else None}
        for key, kind, memory in zip(keys, replies[::2], replies[1::2], strict=True)
        if isinstance(kind, str) and kind != "none"
    ]


def _looks_like_hll(value: str | None) -> bool:
    """A HyperLogLog's 16-byte header: HYLL, encoding 0 (dense) or 1 (sparse), three zero bytes.

    PFCOUNT on anything else is an error reply, which the server would count in its metrics.
    """
    return (
        value is not None
        and len(value) >= HLL_HEADER_BYTES
        and value.startswith(HLL_MAGIC)
        and value[4] in "\x00\x01"
        and value[5:8] == "\x00\x00\x00"
    )


def _count_hyperloglogs(execute: Execute, db: int, entries: list[dict[str, Any]]) -> None:
    if not entries:
        return
    counts = _in_db(execute, db, [("PFCOUNT", entry["key"]) for entry in entries])
    for entry, count in zip(entries, counts, strict=True):
        if isinstance(count, int):
            entry.update(type="HLL", size=count, value=None)


def _streams(execute: Execute, wanted: list[tuple[int, str]]) -> Iterator[dict[str, Any]]:
    for db, entries in groupby(sorted(wanted), key=lambda entry: entry[0]):
        yield from _streams_in_db(execute, db, [key for _, key in entries])


def _streams_in_db(execute: Execute, db: int, keys: list[str]) -> list[dict[str, Any]]:
    """TYPE first, so XINFO only ever meets streams; then XINFO STREAM and GROUPS; then CONSUMERS.

    XINFO on a missing key or another type is an error reply, which the server would count.
    """
    kinds = _in_db(execute, db, [("TYPE", key) for key in keys])
    streams = [key for key, kind in zip(keys, kinds, strict=True) if kind == "stream"]
    commands: list[Command] = []
    for key in streams:
        commands += [("XINFO", "STREAM", key), ("XINFO", "GROUPS", key)]
    replies = _in_db(execute, db, commands)
    found = [
        {"db": db, "key": key, "info": as_dict(info), "groups": _groups(groups)}
        for key, info, groups in zip(streams, replies[::2], replies[1::2], strict=True)
    ]
    _add_consumers(execute, db, found)
    return found


def _groups(reply: object) -> list[dict[str, Any]]:
    return [as_dict(group) for group in reply] if isinstance(reply, list) else []


def _add_consumers(execute: Execute, db: int, streams: list[dict[str, Any]]) -> None:
    """XINFO CONSUMERS for every group of every stream, in one round trip."""
    groups = [(stream["key"], group) for stream in streams for group in stream["groups"]]
    commands: list[Command] = [
        ("XINFO", "CONSUMERS", key, str(g.get("name", ""))) for key, g in groups
    ]
    for (_, group), members in zip(groups, _in_db(execute, db, commands), strict=True):
        group["consumer_list"] = [as_dict(m) for m in members] if isinstance(members, list) else []
