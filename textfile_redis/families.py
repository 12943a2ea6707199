"""Metric families in the making: each sample written as its exposition line when it comes."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from .exposition import Family, LabelLayout, format_value, header
from .gofloat import go_float
from .metric_names import HELP, INFO_COUNTERS, INFO_GAUGES

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

PREFIX = "redis_"
SELF_PREFIX = "textfile_redis_"


class Families:
    """Collects samples into families in first-seen order, every sample labelled alike."""

    def __init__(self, common_labels: Mapping[str, str]) -> None:
        self._common = dict(common_labels)
        self._unlabelled = LabelLayout(self._common, ()).fill({})
        self._layouts: dict[tuple[str, ...], LabelLayout] = {}
        self._lines: dict[str, list[str]] = {}  # by family, in the order families came
        self._kinds: dict[str, str] = {}

    def gauge(self, name: str, value: float, /, **labels: str) -> None:
        """Add one gauge sample to the family `name`."""
        lines = self._lines.get(name) or self._begin(name, "gauge")
        text = self._labels_text(labels) if labels else self._unlabelled  # the hot path
        lines.append(f"{name}{text} {format_value(value)}\n")

    def counter(self, name: str, value: float, /, **labels: str) -> None:
        """Add one counter sample, keeping redis_exporter's name even without `_total`."""
        lines = self._lines.get(name) or self._begin(name, "counter")
        text = self._labels_text(labels) if labels else self._unlabelled
        lines.append(f"{name}{text} {format_value(value)}\n")

    def counters(self, values: Mapping[str, float], /, **labels: str) -> None:
        """Add a counter sample to each of several families, all with these labels."""
        text = self._labels_text(labels)
        for name, value in values.items():
            lines = self._lines.get(name) or self._begin(name, "counter")
            lines.append(f"{name}{text} {format_value(value)}\n")

    def summary(
        self,
        name: str,
        count: float,
        total: float,
        quantiles: Mapping[float, float],
        /,
        **labels: str,
    ) -> None:
        """Add one summary: a sample per quantile, then _sum and _count."""
        lines = self._lines.get(name) or self._begin(name, "summary")
        before, after = self._layout((*labels, "quantile")).around(labels, "quantile")
        for quantile, value in sorted(quantiles.items()):
            lines.append(f"{name}{before}{go_float(quantile)}{after} {format_value(value)}\n")
        self._sum_and_count(lines, name, total, count, labels)

    def histogram(
        self,
        name: str,
        count: float,
        total: float,
        buckets: Iterable[tuple[float, float]],
        /,
        **labels: str,
    ) -> None:
        """Add one histogram from (upper bound, cumulative count) pairs."""
        lines = self._lines.get(name) or self._begin(name, "histogram")
        bucket = f"{name}_bucket"
        before, after = self._layout((*labels, "le")).around(labels, "le")
        for bound, cumulative in sorted(buckets):
            lines.append(f"{bucket}{before}{go_float(bound)}{after} {format_value(cumulative)}\n")
        lines.append(f"{bucket}{before}+Inf{after} {format_value(count)}\n")
        self._sum_and_count(lines, name, total, count, labels)

    def collect(self) -> list[Family]:
        """The families, in the order their first sample came."""
        kinds = self._kinds
        return [
            Family(name, kinds[name], _header(name, kinds[name]), lines)
            for name, lines in self._lines.items()
        ]

    def _begin(self, name: str, kind: str) -> list[str]:
        """A new family's (empty) list of lines; a family keeps the type it began with."""
        self._kinds.setdefault(name, kind)
        return self._lines.setdefault(name, [])

    def _sum_and_count(
        self, lines: list[str], name: str, total: float, count: float, labels: Mapping[str, str]
    ) -> None:
        """A summary's or histogram's closing _sum and _count lines."""
        text = self._labels_text(labels)
        lines.append(f"{name}_sum{text} {format_value(total)}\n")
        lines.append(f"{name}_count{text} {format_value(count)}\n")

    def _labels_text(self, labels: Mapping[str, str]) -> str:
        """`{addr="...",db="db0"}`: the common labels and these, sorted and escaped."""
        return self._layout(tuple(labels)).fill(labels) if labels else self._unlabelled

    def _layout(self, shape: tuple[str, ...]) -> LabelLayout:
        """The layout for samples with these labels of their own: a dozen shapes per target."""
        layout = self._layouts.get(shape)
        if layout is None:
            layout = self._layouts[shape] = LabelLayout(self._common, shape)
        return layout


_INFO_FIELD_OF = {f"{PREFIX}{name}": key for key, name in {**INFO_GAUGES, **INFO_COUNTERS}.items()}


@functools.lru_cache(maxsize=1024)  # a few hundred names, the same every cycle
def _header(name: str, kind: str) -> str:
    return header(name, kind, help_for(name))


def help_for(name: str) -> str:
    """HELP text for a metric: fixed per name, so it is the same in every file."""
    if name in HELP:
        return HELP[name]
    return f"Redis INFO field {_INFO_FIELD_OF.get(name, name.removeprefix(PREFIX))}."
