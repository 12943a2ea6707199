"""LATENCY HISTOGRAM asked again only for the commands called since, on recorded replies."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest

from tests.support.recorded import SERVERS, load
from textfile_redis.histograms import EVERY_COMMAND, MAX_NAME, MAX_NAMED, LatencyHistograms
from textfile_redis.replies import MAX_HISTOGRAM_BUCKETS, MAX_HISTOGRAM_COMMANDS

WITH_HISTOGRAMS = [server for server in SERVERS if server != "redis-6.2"]


def _recorded(server: str) -> tuple[str, list[Any]]:
    replies = load(f"{server}-primary")["replies"]
    return replies["info"], replies["latency_histogram"]


def _called(info: str, command: str, calls: int) -> str:
    """INFO as it reads once `command` has been called `calls` times in all."""
    line = re.compile(rf"^cmdstat_{re.escape(command)}:calls=\d+", re.MULTILINE)
    if line.search(info):
        return line.sub(f"cmdstat_{command}:calls={calls}", info)
    return info.replace(
        "# Commandstats\r\n", f"# Commandstats\r\ncmdstat_{command}:calls={calls},usec=9\r\n"
    )


def _entry(calls: int) -> list[Any]:
    return ["calls", calls, "histogram_usec", [1, calls]]


def _kept_after_whole(info: str, reply: list[Any]) -> LatencyHistograms:
    histograms = LatencyHistograms()
    assert histograms.command(info) == EVERY_COMMAND  # nothing kept yet
    assert histograms.reply(EVERY_COMMAND, reply) is reply
    return histograms


def _pairs(reply: list[Any]) -> dict[str, Any]:
    return dict(zip(reply[::2], reply[1::2], strict=True))


def _as_info_counts(info: str, reply: list[Any]) -> str:
    """INFO whose commandstats count what the reply's histograms count, as a quiet server's."""
    for name, details in _pairs(reply).items():
        info = _called(info, name, details[1])
    return info


@pytest.mark.parametrize("server", WITH_HISTOGRAMS)
def test_nothing_is_asked_while_no_command_is_called(server: str) -> None:
    """The kept histograms stand: the reply passed on holds every entry, the same objects."""
    info, reply = _recorded(server)
    histograms = _kept_after_whole(info, reply)
    quiet = _as_info_counts(info, reply)
    assert histograms.command(quiet) is None
    whole = histograms.reply(None, None)
    assert isinstance(whole, list)
    assert whole == reply
    assert all(a is b for a, b in zip(whole, reply, strict=True))


@pytest.mark.parametrize("server", WITH_HISTOGRAMS)
def test_a_command_called_since_is_asked_and_takes_its_place(server: str) -> None:
    """Only the called command is named; its new histogram replaces the old one in place."""
    info, reply = _recorded(server)
    histograms = _kept_after_whole(info, reply)
    first = reply[0]
    calls = _pairs(reply)[first][1] + 5
    asked = histograms.command(_called(_as_info_counts(info, reply), first, calls))
    assert asked == (*EVERY_COMMAND, first)
    whole = histograms.reply(asked, [first, _entry(calls)])
    assert whole == [first, _entry(calls), *reply[2:]]
    assert all(a is b for a, b in zip(whole[3:], reply[3:], strict=True))  # the others kept


def test_a_command_called_for_the_first_time_comes_last() -> None:
    """A command new to the server is named too, and its histogram added after the kept ones."""
    info, reply = _recorded("redis-7.0")
    histograms = _kept_after_whole(info, reply)
    asked = histograms.command(_called(_as_info_counts(info, reply), "zunionstore", 2))
    assert asked == (*EVERY_COMMAND, "zunionstore")
    assert histograms.reply(asked, ["zunionstore", _entry(2)]) == [*reply, "zunionstore", _entry(2)]


def test_every_histogram_is_asked_when_very_many_commands_were_called() -> None:
    """Past MAX_NAMED, one short command for the whole reply rather than hundreds of names."""
    info, reply = _recorded("redis-7.0")
    histograms = _kept_after_whole(info, reply)
    busy = _as_info_counts(info, reply)
    for index in range(MAX_NAMED):
        busy = _called(busy, f"cmd{index}", 1)
    asked = histograms.command(busy)
    assert asked is not None
    assert set(asked[2:]) == {f"cmd{index}" for index in range(MAX_NAMED)}
    assert histograms.command(_called(busy, "one-more", 1)) == EVERY_COMMAND


def test_a_named_command_missing_from_the_answer_brings_the_whole_reply_next() -> None:
    """A renamed command's histogram is listed under a name that asks for nothing.

    The whole reply comes next; a call of that command again brings the whole reply too.
    """
    info, reply = _recorded("redis-7.0")
    histograms = _kept_after_whole(info, reply)
    first = reply[0]
    called = _called(_as_info_counts(info, reply), first, _pairs(reply)[first][1] + 1)
    asked = histograms.command(called)
    assert asked == (*EVERY_COMMAND, first)
    histograms.reply(asked, [])  # the server knows no such name, or counts it no more
    assert histograms.command(called) == EVERY_COMMAND
    histograms.reply(EVERY_COMMAND, reply)
    again = _called(called, first, _pairs(reply)[first][1] + 2)
    assert histograms.command(again) == EVERY_COMMAND  # by that name, never asked again


def test_a_kept_command_missing_from_commandstats_brings_the_whole_reply() -> None:
    """CONFIG RESETSTAT between asks: a kept histogram the server no longer has must go."""
    info, reply = _recorded("redis-7.0")
    histograms = _kept_after_whole(info, reply)
    reset = re.sub(rf"^cmdstat_{re.escape(reply[0])}:.*\r\n", "", info, flags=re.MULTILINE)
    assert histograms.command(_as_info_counts(reset, reply[2:])) == EVERY_COMMAND


@pytest.mark.parametrize(
    "reply",
    [
        None,
        "ERR",
        ["get"],
        [1, _entry(1)],
        {"get": _entry(1)},
        ["get", ["calls", "1", "histogram_usec", [1, 1]]],
        ["get", ["calls", 1, "histogram_usec", list(range(2 * MAX_HISTOGRAM_BUCKETS + 2))]],
        ["get", ["calls", 1, "histogram_usec", [1, 1], "extra", 2]],
        ["x" * (MAX_NAME + 1), _entry(1)],
    ],
    ids=[
        "nil",
        "text",
        "odd length",
        "a name not text",
        "a map",
        "calls not a number",
        "too many buckets",
        "more fields",
        "a name too long",
    ],
)
def test_a_reply_of_another_shape_passes_as_it_came_and_nothing_is_kept(reply: object) -> None:
    """Translation calls it malformed; the next ask is for every histogram."""
    info, whole = _recorded("redis-7.0")
    histograms = _kept_after_whole(info, whole)
    called = _called(_as_info_counts(info, whole), whole[0], 10**6)
    asked = histograms.command(called)
    assert histograms.reply(asked, copy.deepcopy(reply)) == reply
    assert histograms.command(called) == EVERY_COMMAND


def test_a_reply_over_the_cap_is_passed_on_but_not_kept() -> None:
    """A hostile server's thousands of names are translation's to cap, never kept here."""
    info, _ = _recorded("redis-7.0")
    flood = [part for i in range(MAX_HISTOGRAM_COMMANDS + 1) for part in (f"cmd{i}", _entry(1))]
    histograms = LatencyHistograms()
    assert histograms.reply(EVERY_COMMAND, flood) is flood
    assert histograms.command(info) == EVERY_COMMAND


def test_long_names_are_never_named() -> None:
    """A server's own command names are short; a longer one brings the whole reply instead."""
    info, reply = _recorded("redis-7.0")
    histograms = _kept_after_whole(info, reply)
    long_name = "x" * 65
    asked = histograms.command(_called(_as_info_counts(info, reply), long_name, 1))
    assert asked == EVERY_COMMAND


def test_forget_starts_again_with_the_whole_reply() -> None:
    """After a reconnect or a refusal, another server may answer: nothing kept counts."""
    info, reply = _recorded("redis-7.0")
    histograms = _kept_after_whole(info, reply)
    histograms.forget()
    assert histograms.command(_as_info_counts(info, reply)) == EVERY_COMMAND


def test_a_command_only_ever_rejected_is_not_asked() -> None:
    """calls=0 (only rejected calls: ACL, arity) has no histogram: naming it would find none."""
    info, reply = _recorded("redis-7.0")
    histograms = _kept_after_whole(info, reply)
    assert histograms.command(_called(_as_info_counts(info, reply), "flushall", 0)) is None


def test_only_the_named_commands_are_kept_from_an_answer() -> None:
    """A server adding commands nobody asked for adds nothing to what is kept."""
    info, reply = _recorded("redis-7.0")
    histograms = _kept_after_whole(info, reply)
    first = reply[0]
    asked = histograms.command(_called(_as_info_counts(info, reply), first, 10**6))
    assert asked == (*EVERY_COMMAND, first)
    whole = histograms.reply(asked, [first, _entry(10**6), "uninvited", _entry(1)])
    assert isinstance(whole, list)
    assert "uninvited" not in whole
    assert whole[:2] == [first, _entry(10**6)]


def test_a_name_given_twice_keeps_its_first_histogram() -> None:
    """As translation writes the first: the kept one must be what the file shows."""
    info, reply = _recorded("redis-7.0")
    doubled = [*reply, reply[0], _entry(10**6)]
    histograms = _kept_after_whole(info, doubled)
    assert histograms.reply(None, None) == reply


def test_a_reset_command_may_be_named_again_once_a_whole_reply_lacks_it() -> None:
    """Missing from an answer and from the whole reply after it: reset, not renamed."""
    info, reply = _recorded("redis-7.0")
    histograms = _kept_after_whole(info, reply)
    first = reply[0]
    called = _called(_as_info_counts(info, reply), first, _pairs(reply)[first][1] + 1)
    histograms.reply(histograms.command(called), [])  # reset: the server counts it no more
    assert histograms.command(called) == EVERY_COMMAND
    histograms.reply(EVERY_COMMAND, reply[2:])  # the whole reply has it no more either
    again = _called(_as_info_counts(info, reply[2:]), first, 1)
    assert histograms.command(again) == (*EVERY_COMMAND, first)
