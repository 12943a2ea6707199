"""Metric families in the making: each sample written as its exposition line when it comes."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, TypeVar

from textfile_redis.exposition import Family, LabelLayout, format_value, header

from .gofloat import go_float

if TYPE_CHECKING:
    from collections.abc import Callable, Hashable, Iterable, Mapping

    from textfile_redis.catalog import Metric

_T = TypeVar("_T")
# Texts longer than this (names, label values, INFO lines) are made every cycle, never kept: a
# server's own names are a few dozen characters, and a hostile one's must not fill the cache.
CACHED_TEXT_MAX = 256


class SeriesCache:
    """One target's series texts (`name{labels}`), kept from one cycle to the next.

    A server names the same fields, commands and databases every cycle, so their labels are
    escaped, sorted and joined once, not every cycle. Its owner (the target's collector slot)
    passes it to each cycle's Families; nothing is shared between targets. It starts afresh
    when the common labels change, and when full (in `Families.remember`, so never past
    MAX_ENTRIES, even within a cycle): a server that names new things every cycle costs the
    cache's use, never unbounded memory, and one that names the same things again is cached
    again from then on (keeping the full cache and adding nothing would leave it uncached).
    """

    # The biggest recording keeps 304 entries (39 commands, 16 databases): 7 per command
    # (commandstats, latencystats, summary, histogram and its lines) and 1 per database. A
    # server whose clients called all of Redis 8's ~450 commands and subcommands keeps ~3,150,
    # plus one per database (16 by default, 1,024 at most: MAX_EMPTY_DATABASES); past
    # MAX_ENTRIES the cache starts again, which costs time, never correctness. A hostile
    # server's keys and texts are at most CACHED_TEXT_MAX long: a few MB at most
    # (tests/test_translate_reuse.py).
    MAX_ENTRIES = 4_096

    __slots__ = ("_common", "_entries", "pinned")

    def __init__(self) -> None:
        self._common: dict[str, str] | None = None
        self._entries: dict[Hashable, Any] = {}
        self.pinned: dict[Hashable, Any] = {}  # see Families.pinned

    def __len__(self) -> int:
        """How many entries it keeps (pinned ones aside)."""
        return len(self._entries)

    def entries(self, common: dict[str, str]) -> dict[Hashable, Any]:
        """The entries for samples with these common labels."""
        if common != self._common:  # a new target: the collector gives it a new scraper too
            self._common, self._entries, self.pinned = dict(common), {}, {}
        return self._entries


class Families:
    """Collects samples into families in first-seen order, every sample labelled alike.

    A series (a sample's name and labels) is written once: a server that repeats an INFO
    section or field, or a reply entry, would otherwise make node_exporter refuse the file.
    The first sample of a series wins.
    """

    def __init__(self, common_labels: Mapping[str, str], cache: SeriesCache | None = None) -> None:
        self._common = dict(common_labels)
        cache = SeriesCache() if cache is None else cache  # an empty one is falsy
        self._cache = cache.entries(self._common)
        self._pinned = cache.pinned
        self._unlabelled = self._layout(()).fill({})
        self._lines: dict[str, list[str]] = {}  # by family, in the order families came
        # Each family's (type, header), in _lines' order: _begin and rollback keep them in step.
        self._begun: list[tuple[str, str]] = []
        self._written: set[str] = set()  # every series written, `name{labels}`

    def gauge(self, metric: Metric, value: float, /, **labels: str) -> None:
        """Add one gauge sample to `metric`'s family."""
        name = metric.name
        series = f"{name}{self._labels_text(labels) if labels else self._unlabelled}"
        if series not in self._written:  # inlined: the hot path
            self._written.add(series)
            lines = self._lines.get(name) or self._begin(metric, "gauge")
            lines.append(f"{series} {format_value(value)}\n")

    def counter(self, metric: Metric, value: float, /, **labels: str) -> None:
        """Add one counter sample, keeping redis_exporter's name even without `_total`."""
        name = metric.name
        series = f"{name}{self._labels_text(labels) if labels else self._unlabelled}"
        if series not in self._written:
            self._written.add(series)
            lines = self._lines.get(name) or self._begin(metric, "counter")
            lines.append(f"{series} {format_value(value)}\n")

    def series(self, metric: Metric, /, **labels: str) -> str:
        """A sample's series text, `name{labels}`, for `emit`."""
        return f"{metric.name}{self._labels_text(labels) if labels else self._unlabelled}"

    def remember(self, key: Hashable, make: Callable[[], _T], text_size: int = 0) -> _T:
        """What make() returns, made once per target while the key recurs (series texts).

        text_size: how long the server's texts in the key are; past CACHED_TEXT_MAX, what
        make() returns is never kept. A full cache is emptied first (SeriesCache).
        """
        if text_size > CACHED_TEXT_MAX:
            return make()
        found: _T | None = self._cache.get(key)
        if found is None:
            found = make()
            if len(self._cache) >= SeriesCache.MAX_ENTRIES:
                self._cache.clear()
            self._cache[key] = found
        return found

    def pinned(self, key: Hashable, make: Callable[[], _T]) -> _T:
        """Like `remember`, but never emptied for being full: for a few keys of our own.

        What must outlive a full cache, such as the lines made from a reply the scraper passes
        again, whose parts must all come from the cycle that asked; its maker bounds its size.
        """
        found: _T | None = self._pinned.get(key)
        if found is None:
            found = self._pinned[key] = make()
        return found

    def series_texts(self, metrics: tuple[Metric, ...], label: str, value: str) -> tuple[str, ...]:
        """Each family's series text with one label of its own, made once per target."""
        return self.remember(
            (metrics, label, value),
            lambda: tuple(self.series(metric, **{label: value}) for metric in metrics),
            len(value),
        )

    def emit(self, metric: Metric, kind: str, series: str, value: str) -> None:
        """Add a sample whose series and value are text already (from `series`, exposition)."""
        self.emit_line(metric, kind, series, f"{series} {value}\n")

    def emit_line(self, metric: Metric, kind: str, series: str, line: str) -> None:
        """Add a sample's whole line, `series value`, kept from an earlier cycle or just made."""
        if series not in self._written:
            self._written.add(series)
            (self._lines.get(metric.name) or self._begin(metric, kind)).append(line)

    def emit_lines(self, samples: Iterable[tuple[Metric, str, str]], kind: str) -> None:
        """emit_line for each (family, series, line), all families of one type."""
        for metric, series, line in samples:
            self.emit_line(metric, kind, series, line)

    def kept_lines(self, metric: Metric, start: int = 0) -> list[tuple[str, str]]:
        """The family's lines from `start` on, each with its series, for `replay` later."""
        return [(_series_of(line), line) for line in self._lines.get(metric.name, ())[start:]]

    def replay(self, metric: Metric, kind: str, kept: Iterable[tuple[str, str]]) -> None:
        """Add lines `kept_lines` gave in an earlier cycle, each unless its series is written."""
        family = self._lines.get(metric.name) or self._begin(metric, kind)
        written = self._written
        for series, line in kept:
            if series not in written:
                written.add(series)
                family.append(line)

    def counters(self, values: Mapping[Metric, float], /, **labels: str) -> None:
        """Add a counter sample to each of several families, all with these labels."""
        text = self._labels_text(labels)
        for metric, value in values.items():
            series = f"{metric.name}{text}"
            if series not in self._written:
                self._written.add(series)
                lines = self._lines.get(metric.name) or self._begin(metric, "counter")
                lines.append(f"{series} {format_value(value)}\n")

    def summary(
        self,
        metric: Metric,
        count: float,
        total: float,
        quantiles: Mapping[float, float],
        /,
        **labels: str,
    ) -> list[tuple[str, str]]:
        """Add one summary: a sample per quantile, then _sum and _count; returns its lines."""
        name = metric.name
        before, after, sum_series, count_series = self._around(metric, "quantile", labels)
        if count_series in self._written:  # a summary is written whole or not at all
            return []
        lines = self._lines.get(name) or self._begin(metric, "summary")
        start = len(lines)
        for quantile, value in sorted(quantiles.items()):
            self._add(lines, f"{before}{go_float(quantile)}{after}", value)
        self._add(lines, sum_series, total)
        self._add(lines, count_series, count)
        return self.kept_lines(metric, start)

    def histogram(
        self,
        metric: Metric,
        count: float,
        total: float,
        buckets: Iterable[tuple[float, float]],
        /,
        **labels: str,
    ) -> list[tuple[str, str]]:
        """Add one histogram from (upper bound, cumulative count) pairs; returns its lines."""
        before, after, sum_series, count_series = self._around(metric, "le", labels)
        if count_series in self._written:  # a histogram is written whole or not at all
            return []
        lines = self._lines.get(metric.name) or self._begin(metric, "histogram")
        kept: list[tuple[str, str]] = []
        samples = [(f"{before}{go_float(bound)}{after}", n) for bound, n in sorted(buckets)]
        samples += [(f"{before}+Inf{after}", count), (sum_series, total), (count_series, count)]
        for series, value in samples:
            if series not in self._written:
                self._written.add(series)
                line = f"{series} {format_value(value)}\n"
                lines.append(line)
                kept.append((series, line))
        return kept

    def _around(
        self, metric: Metric, slot: str, labels: dict[str, str]
    ) -> tuple[str, str, str, str]:
        """A summary's or histogram's texts: before and after `slot`'s value, _sum, _count."""
        key = (metric.name, slot, *labels.items())
        return self.remember(
            key,
            lambda: self._make_around(metric.name, slot, labels),
            sum(map(len, labels.values())),
        )

    def _make_around(
        self, name: str, slot: str, labels: dict[str, str]
    ) -> tuple[str, str, str, str]:
        text = self._labels_text(labels)
        before, after = self._layout((*labels, slot)).around(labels, slot)
        prefix = f"{name}_bucket" if slot == "le" else name
        return f"{prefix}{before}", after, f"{name}_sum{text}", f"{name}_count{text}"

    def collect(self) -> list[Family]:
        """The families, in the order their first sample came."""
        return [
            Family(name, kind, header, lines)
            for (name, lines), (kind, header) in zip(self._lines.items(), self._begun, strict=True)
        ]

    def mark(self) -> list[int]:
        """Where every family stands now, for `rollback`: a microsecond for ~150 families."""
        return list(map(len, self._lines.values()))

    def rollback(self, mark: list[int]) -> None:
        """Drop every sample added since `mark`, and the families begun since, as if never sent."""
        names = list(self._lines)
        for name in names[len(mark) :]:  # families begun since: dicts keep insertion order
            self._forget(self._lines.pop(name))
        del self._begun[len(mark) :]
        for name, kept in zip(names, mark, strict=False):
            lines = self._lines[name]
            self._forget(lines[kept:])
            del lines[kept:]

    def _forget(self, lines: list[str]) -> None:
        for line in lines:
            self._written.discard(_series_of(line))

    def _add(self, lines: list[str], series: str, value: float) -> None:
        """Append the sample unless its series is already written."""
        if series not in self._written:
            self._written.add(series)
            lines.append(f"{series} {format_value(value)}\n")

    def _begin(self, metric: Metric, kind: str) -> list[str]:
        """A new family's (empty) list of lines; a family keeps the type it began with."""
        name = metric.name
        lines = self._lines.get(name)
        if lines is None:
            lines = self._lines[name] = []
            self._begun.append((kind, _header(metric, kind)))
        return lines

    def _labels_text(self, labels: Mapping[str, str]) -> str:
        """`{addr="...",db="db0"}`: the common labels and these, sorted and escaped."""
        return self._layout(tuple(labels)).fill(labels) if labels else self._unlabelled

    def _layout(self, shape: tuple[str, ...]) -> LabelLayout:
        """The layout for samples with these labels of their own: a dozen shapes per target."""
        # Shapes are our code's own, a dozen or so: pinned, they outlive a full cache.
        return self.pinned(("layout", shape), lambda: LabelLayout(self._common, shape))


def _series_of(line: str) -> str:
    """A sample line's series: all before the value, which never holds a space."""
    return line.rpartition(" ")[0]


@functools.lru_cache(maxsize=1024)  # a few hundred families, the same every cycle
def _header(metric: Metric, kind: str) -> str:
    return header(metric.name, kind, metric.help)
