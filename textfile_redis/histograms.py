"""LATENCY HISTOGRAM on one connection: asked again only for the commands called since."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from .replies import MAX_HISTOGRAM_BUCKETS, MAX_HISTOGRAM_COMMANDS

if TYPE_CHECKING:
    from .commands import Command

EVERY_COMMAND: Command = ("LATENCY", "HISTOGRAM")
# A reply with more commands or buckets than a server has (replies.py), with longer names than
# any command's or of another shape is passed on as it came, not kept.
MAX_NAME = 64
# Past this many commands called since, the whole reply is asked rather than a long command.
MAX_NAMED = 128

# cmdstat_get:calls=21,usec=175,... (subcommands as cmdstat_config|get), each after a newline:
# a pattern anchored at every line start cost several times as much.
_CALLS = re.compile(r"\ncmdstat_([^:\s]+):calls=(\d+)")


class LatencyHistograms:
    """The histograms a connection has received, by command, in the order the server sent them.

    A command's histogram changes only when it is called, and its `calls` says how often it
    was: where the last INFO's commandstats show the same count, the kept histogram is the
    server's. So each asking cycle names only the commands called since (on a server that saw
    many commands, most are idle), and the reply passed on is the kept histograms with the new
    ones in their place: the same entries a whole reply would hold, each as fresh as its count.
    """

    def __init__(self) -> None:
        self._kept: dict[str, Any] = {}  # command -> ["calls", n, "histogram_usec", [...]]
        self._whole_next = True  # nothing kept, or a named command came back missing
        # Names the server answered nothing for: a renamed command's histogram is listed
        # under its old name, by which it cannot be asked. Called again, all are asked.
        self._unnamed: set[str] = set()

    def command(self, info: object) -> Command | None:
        """What to ask after INFO `info` (the last cycle's); None when no histogram can differ."""
        if self._whole_next or not isinstance(info, str):
            return EVERY_COMMAND
        calls = _calls_by_command(info)
        if not calls.keys() >= self._kept.keys():  # CONFIG RESETSTAT: some are counted no more
            return EVERY_COMMAND
        kept = self._kept
        # A command only ever rejected (calls=0: ACL, arity) has no histogram to ask for.
        called = [
            name
            for name, count in calls.items()
            if _calls(kept.get(name)) != count and (count != "0" or name in kept)
        ]
        if len(called) > MAX_NAMED or any(
            len(name) > MAX_NAME or name in self._unnamed for name in called
        ):
            return EVERY_COMMAND
        return (*EVERY_COMMAND, *called) if called else None

    def reply(self, asked: Command | None, reply: object) -> object:
        """The whole reply for this cycle, from the server's answer to `asked` and the kept ones.

        A reply of another shape is passed on as it came (translation calls it malformed) and
        nothing is kept: the next cycle asks for every histogram.
        """
        fresh = _by_command(reply) if asked is not None else {}
        if fresh is None:
            self.forget()
            return reply
        if asked == EVERY_COMMAND:
            # A name missing from a partial answer but listed here is a renamed command's;
            # one listed in neither was reset (CONFIG RESETSTAT) and may be asked by name again.
            self._kept, self._whole_next = fresh, False
            self._unnamed &= fresh.keys()
            return reply
        named = [str(name) for name in asked[len(EVERY_COMMAND) :]] if asked is not None else []
        # A name the server does not know (a renamed command) or no longer counts (CONFIG
        # RESETSTAT) is missing from its answer: the whole reply tells which, next time.
        missing = {name for name in named if name not in fresh}
        self._whole_next, self._unnamed = bool(missing), self._unnamed | missing
        # Only what was asked is kept: a server's answer adds no command of its own choosing.
        self._kept.update((name, fresh[name]) for name in named if name in fresh)
        if max(len(self._kept), len(self._unnamed)) > MAX_HISTOGRAM_COMMANDS:
            self.forget()
            return reply
        return [part for entry in self._kept.items() for part in entry]

    def forget(self) -> None:
        """Keep nothing: another server may answer, or the command was refused."""
        self._kept, self._whole_next, self._unnamed = {}, True, set()


def _calls_by_command(info: str) -> dict[str, str]:
    """Commandstats' calls by command, read from the section alone."""
    start = info.find("\ncmdstat_")
    end = info.find("\n#", start) if start >= 0 else -1
    return dict(_CALLS.findall(info, max(start, 0), end if end >= 0 else len(info)))


def _by_command(reply: object) -> dict[str, Any] | None:
    """[name, details, ...] as a dict in the same order; None for another shape or size.

    A name given twice keeps its first details, as translation writes the first.
    """
    if not isinstance(reply, list) or len(reply) % 2 or len(reply) > 2 * MAX_HISTOGRAM_COMMANDS:
        return None
    by_command: dict[str, Any] = {}
    for name, details in zip(reply[::2], reply[1::2], strict=True):
        if not (isinstance(name, str) and len(name) <= MAX_NAME and _well_formed(details)):
            return None
        by_command.setdefault(name, details)
    return by_command


def _well_formed(details: object) -> bool:
    """["calls", n, "histogram_usec", [bound, count, ...]] of integers, MAX_HISTOGRAM_BUCKETS."""
    if not (isinstance(details, list) and len(details) == 4):  # noqa: PLR2004 - two pairs
        return False
    calls_word, calls, buckets_word, buckets = details
    return (
        calls_word == "calls"
        and type(calls) is int
        and buckets_word == "histogram_usec"
        and isinstance(buckets, list)
        and len(buckets) <= 2 * MAX_HISTOGRAM_BUCKETS
        and all(type(number) is int for number in buckets)
    )


def _calls(details: list[Any] | None) -> str | None:
    """The calls a kept histogram counts, as commandstats writes them; None for none kept."""
    return None if details is None else str(details[1])
