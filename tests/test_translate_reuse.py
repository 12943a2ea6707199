"""Translation across cycles: a target's SeriesCache and reused replies change no byte."""

from __future__ import annotations

import copy
import tracemalloc
from typing import TYPE_CHECKING, Any

import pytest

from tests.support.recorded import ADDR, NOW, REPLIES, load
from textfile_redis.exposition import format_value, integer_value
from textfile_redis.textfile import Marker, render
from textfile_redis.translate import Extras, Families, Outcome, SeriesCache, translate

if TYPE_CHECKING:
    from collections.abc import Callable, Hashable

RECORDINGS = sorted(path.stem for path in REPLIES.glob("*.json"))
HISTOGRAM = "redis_commands_latencies_usec"
MARKER = Marker("owner", "t")


def _outcome(replies: dict[str, Any], addr: str = ADDR, extras: Extras | None = None) -> Outcome:
    return Outcome(
        addr=addr,
        replies=replies,
        refused={},
        duration=0.002,
        now=NOW,
        labels=(("cluster", "payments"),),
        extras=extras or Extras(),
    )


def _file(outcome: Outcome, cache: SeriesCache | None = None) -> bytes:
    return render(translate(outcome, cache).families, MARKER)


@pytest.mark.parametrize("fixture", RECORDINGS)
def test_a_kept_cache_writes_the_bytes_a_fresh_translation_writes(fixture: str) -> None:
    """Cycle after cycle with one target's cache, the file is byte for byte a fresh one's."""
    replies = load(fixture)["replies"]
    extras = Extras(include_config_metrics=fixture.endswith("opt-ins"))
    fresh = _file(_outcome(replies, extras=extras))
    cache = SeriesCache()
    files = [_file(_outcome(copy.deepcopy(replies), extras=extras), cache) for _ in range(3)]
    assert files == [fresh, fresh, fresh]


def _with_field(info: str, key: str, value: str) -> str:
    """INFO with one plain field's value replaced."""
    lines = info.split("\r\n")
    for index, line in enumerate(lines):
        if line.startswith(f"{key}:"):
            lines[index] = f"{key}:{value}"
    return "\r\n".join(lines)


# One target's cycles, each a change the kept lines of plain fields must follow:
# (field, its value, include_system_metrics, address).
FIELD_CHANGES = [
    ("used_memory", "1000", False, ADDR),
    ("used_memory", "2000", False, ADDR),  # a new value
    ("used_memory", "nan-ish", False, ADDR),  # no number: no sample
    ("used_memory", "2000", False, ADDR),  # back to the value of two cycles ago
    ("used_memory", "3" * 40, False, ADDR),  # too long to keep, made anew
    ("used_memory", "3" * 40, False, ADDR),
    ("used_memory", "3000", True, ADDR),  # system gauges on
    ("total_system_memory", "4096", False, ADDR),  # and off again
    ("used_memory", "3000", False, "redis://10.0.0.9:6379"),  # another address
    ("used_memory", "3000", False, ADDR),
]


def test_kept_field_lines_follow_every_change_of_value_option_and_address() -> None:
    """Cycle after cycle, a plain field's kept line is what a fresh translation writes."""
    info = load("redis-7.0-primary")["replies"]["info"]
    cache = SeriesCache()
    for key, value, system, addr in FIELD_CHANGES:
        replies = {"info": _with_field(info, key, value)}
        outcome = _outcome(replies, addr, Extras(include_system_metrics=system))
        assert _file(outcome, cache) == _file(outcome), (key, value, system, addr)


def test_a_cache_made_for_other_labels_is_not_used() -> None:
    """A target whose address changes gets series with the new address, none of the old."""
    replies = load("redis-7.0-primary")["replies"]
    cache = SeriesCache()
    _file(_outcome(replies), cache)
    moved = _file(_outcome(replies, addr="redis://10.0.0.9:6379"), cache)
    assert ADDR.encode() not in moved
    assert moved == _file(_outcome(replies, addr="redis://10.0.0.9:6379"))


def _renaming(info: str, cycle: int, count: int = 1500) -> str:
    """INFO naming `count` commands in commandstats and latencystats that no other cycle names."""
    names = [f"c{cycle}x{n}" for n in range(count)]
    stats = "".join(
        f"cmdstat_{n}:calls=1,usec=2,rejected_calls=0,failed_calls=0\r\n" for n in names
    )
    latencies = "".join(f"latency_percentiles_usec_{n}:p50=1.000,p99=2.000\r\n" for n in names)
    info = info.replace("# Commandstats\r\n", f"# Commandstats\r\n{stats}")
    return info.replace("# Latencystats\r\n", f"# Latencystats\r\n{latencies}")


def test_a_server_renaming_its_commands_never_fills_the_cache_past_its_bound(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Thousands of new names every cycle: the cache is never over its bound, after any entry."""
    replies = load("redis-7.0-primary")["replies"]
    cache = SeriesCache()
    sizes: list[int] = []
    remember = Families.remember

    def watched(self: Families, key: Hashable, make: Callable[[], object], size: int = 0) -> object:
        found = remember(self, key, make, size)
        sizes.append(len(cache))
        return found

    monkeypatch.setattr(Families, "remember", watched)
    for cycle in range(3):
        renamed = {**replies, "info": _renaming(replies["info"], cycle)}
        assert translate(_outcome(renamed), cache).malformed == ()
    assert len(sizes) > 3 * SeriesCache.MAX_ENTRIES  # so the bound was reached every cycle
    assert max(sizes) == SeriesCache.MAX_ENTRIES


def test_a_steady_server_is_cached_again_after_a_renaming_one() -> None:
    """After a burst of new names, a server naming the same things again keeps all its entries."""
    replies, common = load("redis-7.0-primary")["replies"], {"addr": ADDR, "cluster": "payments"}
    steady = SeriesCache()
    _file(_outcome(replies), steady)
    cache = SeriesCache()
    _file(_outcome({**replies, "info": _renaming(replies["info"], 0, count=1000)}), cache)
    for _ in range(2):
        _file(_outcome(replies), cache)
        kept = dict(cache.entries(common))
    assert kept.keys() >= steady.entries(common).keys()
    assert cache.entries(common) == kept  # the last cycle made nothing anew


def test_a_renaming_servers_cache_holds_a_few_megabytes_at_most() -> None:
    """Memory held across cycles stays bounded: an unbounded cache held 6, 10, then 14 MB here."""
    replies = load("redis-7.0-primary")["replies"]
    cache = SeriesCache()
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        held = []
        for cycle in range(3):
            renamed = {**replies, "info": _renaming(replies["info"], cycle, count=1000)}
            translate(_outcome(renamed), cache)
            held.append(tracemalloc.get_traced_memory()[0] - start)
    finally:
        tracemalloc.stop()
    assert max(held) < 5_000_000, held  # a full cache of such names: ~3 MB


def _with_usec(info: str, command: str, usec: int) -> str:
    """INFO with one commandstats line's usec replaced."""
    lines = info.split("\r\n")
    prefix = f"cmdstat_{command}:"
    for index, line in enumerate(lines):
        if line.startswith(prefix):
            fields = dict(part.split("=") for part in line[len(prefix) :].split(","))
            fields["usec"] = str(usec)
            lines[index] = prefix + ",".join(f"{k}={v}" for k, v in fields.items())
    return "\r\n".join(lines)


def _histogram_lines(data: bytes) -> list[bytes]:
    return [line for line in data.splitlines() if line.startswith(HISTOGRAM.encode())]


def test_a_reused_histogram_reply_writes_the_families_of_its_own_cycle() -> None:
    """The same LATENCY HISTOGRAM reply again: its lines, _sum included, are those first made."""
    replies = load("redis-7.0-primary")["replies"]
    cache = SeriesCache()
    first = _file(_outcome(replies), cache)
    later = {**replies, "info": _with_usec(replies["info"], "get", 987_654)}
    again = _file(_outcome(later), cache)
    assert _histogram_lines(again) == _histogram_lines(first)
    assert again != first  # INFO's own families did change
    asked_afresh = {**later, "latency_histogram": copy.deepcopy(replies["latency_histogram"])}
    fresh = _file(_outcome(asked_afresh), cache)
    assert b'cmd="get"} 987654.0' in b"\n".join(_histogram_lines(fresh))


def test_a_reused_histogram_keeps_its_own_cycles_sum_through_a_full_cache() -> None:
    """The cache emptied between cycles: buckets, _count and _sum all still come from one cycle."""
    replies, common = load("redis-7.0-primary")["replies"], {"addr": ADDR, "cluster": "payments"}
    cache = SeriesCache()
    first = _file(_outcome(replies), cache)
    info = _renaming(_with_usec(replies["info"], "get", 987_654), 0, count=1000)
    again = _file(_outcome({**replies, "info": info}), cache)
    assert ("cmdstat", "cmdstat_c0x0") not in cache.entries(common)  # emptied since it came
    assert _histogram_lines(again) == _histogram_lines(first)
    assert b'cmd="get"} 987654' in again  # INFO's own families did change


def _lines_of(data: bytes, command: str) -> list[bytes]:
    return [line for line in _histogram_lines(data) if f'cmd="{command}"'.encode() in line]


def test_histograms_kept_from_an_earlier_reply_write_that_replys_lines() -> None:
    """The scraper's reply of kept histograms and a new one (the command called since).

    The new one is translated with this cycle's INFO; the kept ones (the same objects) give the
    lines made when they came, as a fresh translation would if their counts had not moved.
    """
    replies = load("redis-7.0-primary")["replies"]
    histogram = replies["latency_histogram"]
    cache = SeriesCache()
    first = _file(_outcome(replies), cache)
    called = histogram.index("get")
    merged = [*histogram]
    merged[called + 1] = ["calls", histogram[called + 1][1] + 1, "histogram_usec", [1, 1]]
    info = _with_usec(_with_usec(replies["info"], "get", 987_654), "set", 123_456)
    later = _file(_outcome({**replies, "info": info, "latency_histogram": merged}), cache)
    assert next(line for line in _lines_of(later, "get") if b"_sum{" in line).endswith(b" 987654.0")
    assert _lines_of(later, "set") == _lines_of(first, "set")  # kept: its own cycle's _sum
    quiet_info = _with_usec(replies["info"], "get", 987_654)  # what a server would say: set idle
    fresh = _file(
        _outcome({**replies, "info": quiet_info, "latency_histogram": copy.deepcopy(merged)})
    )
    assert _histogram_lines(later) == _histogram_lines(fresh)


def test_a_command_named_twice_keeps_its_histogram_in_later_replies() -> None:
    """The second of a name given twice writes nothing; a later reply with it writes it."""
    replies = load("redis-7.0-primary")["replies"]
    histogram = replies["latency_histogram"]
    second = ["calls", 7, "histogram_usec", [1, 7]]
    cache = SeriesCache()
    _file(_outcome({**replies, "latency_histogram": [*histogram, "get", second]}), cache)
    later = [*histogram[: histogram.index("get")], "get", second]
    data = _file(_outcome({**replies, "latency_histogram": later}), cache)
    assert _lines_of(data, "get")


def test_a_reused_malformed_histogram_stays_malformed() -> None:
    """A bad reply standing in for several cycles loses its family every time, never the file."""
    replies = {**load("redis-7.0-primary")["replies"], "latency_histogram": ["get", "oops"]}
    cache = SeriesCache()
    translations = [translate(_outcome(replies), cache) for _ in range(2)]
    assert [t.malformed for t in translations] == [("latency_histogram",)] * 2
    assert all(HISTOGRAM not in {f.name for f in t.families} for t in translations)


@pytest.mark.parametrize(
    "text",
    [
        "0",
        "-0",
        "7",
        "999999",
        "1000000",
        "1234567",
        "-1234567",
        "120000000",
        "999999999999999",
        "-999999999999999",
    ],
)
def test_an_integers_text_is_the_value_a_float_would_write(text: str) -> None:
    """Integers skip the float, yet read exactly as format_value writes the float."""
    assert integer_value(text) == format_value(float(text))


@pytest.mark.parametrize(
    "text", ["", "-", "+5", "007", "1.5", "1e3", "\u0663", "1234567890123456", " 5", "inf"]
)
def test_anything_but_a_plain_integer_takes_the_floats_way(text: str) -> None:
    """Leading zeros, signs, fractions, non-ASCII digits and 16 digits are left to float()."""
    assert integer_value(text) is None


def test_a_servers_long_names_are_never_kept() -> None:
    """Names by the kilobyte are translated but never kept (but in the pinned histogram reply)."""
    replies = load("redis-7.0-primary")["replies"]
    long = "x" * 5000
    info = replies["info"].replace(
        "# Commandstats\r\n",
        f"# Commandstats\r\ncmdstat_{long}:calls=1,usec=2,usec_per_call=2.00,"
        "rejected_calls=0,failed_calls=0\r\n",
    )
    info = info.replace("# Keyspace\r\n", f"# Keyspace\r\ndb{long}:keys=1,expires=0,avg_ttl=0\r\n")
    info += f"latency_percentiles_usec_{long}:p50=1.000,p99=2.000\r\n{long}:1\r\n"
    histogram = [long, ["calls", 1, "histogram_usec", [1, 1]], *replies["latency_histogram"]]
    cache = SeriesCache()
    data = _file(_outcome({**replies, "info": info, "latency_histogram": histogram}), cache)
    assert f'cmd="{long}"'.encode() in data
    assert f'db="db{long}"'.encode() in data
    entries = cache.entries({"addr": ADDR, "cluster": "payments"})
    kept = repr(entries)
    assert 'cmd="get"' in kept  # the server's other names are kept
    assert long not in kept
