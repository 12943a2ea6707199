"""Metric families in the making: each sample written as its exposition line when it comes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .exposition import Family, LabelLayout, format_value
from .gofloat import go_float
from .metric_names import HELP, INFO_COUNTERS, INFO_GAUGES

if TYPE_CHECKING:
    from collections.abc import Mapping

PREFIX = "redis_"
SELF_PREFIX = "textfile_redis_"


class Families:
    """Collects samples into families in first-seen order, every sample labelled alike."""

    def __init__(self, common_labels: Mapping[str, str]) -> None:
        self._common = dict(common_labels)
        self._unlabelled = LabelLayout(self._common, ()).fill({})
        self._layouts: dict[tuple[str, ...], LabelLayout] = {}
        self._families: dict[str, Family] = {}

    def gauge(self, name: str, value: float, /, **labels: str) -> None:
        """Add one gauge sample to the family `name`."""
        self._family(name, "gauge").lines.append(self._line(name, value, labels))

    def counter(self, name: str, value: float, /, **labels: str) -> None:
        """Add one counter sample, keeping redis_exporter's name even without `_total`."""
        self._family(name, "counter").lines.append(self._line(name, value, labels))

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
        lines = self._family(name, "summary").lines
        before, after = self._layout((*labels, "quantile")).around(labels, "quantile")
        for quantile, value in sorted(quantiles.items()):
            lines.append(f"{name}{before}{go_float(quantile)}{after} {format_value(value)}\n")
        lines.append(self._line(f"{name}_sum", total, labels))
        lines.append(self._line(f"{name}_count", count, labels))

    def histogram(
        self,
        name: str,
        count: float,
        total: float,
        buckets: Mapping[float, float],
        /,
        **labels: str,
    ) -> None:
        """Add one histogram from cumulative bucket counts keyed by upper bound."""
        lines = self._family(name, "histogram").lines
        bucket = f"{name}_bucket"
        before, after = self._layout((*labels, "le")).around(labels, "le")
        for bound, cumulative in sorted(buckets.items()):
            lines.append(f"{bucket}{before}{go_float(bound)}{after} {format_value(cumulative)}\n")
        lines.append(f"{bucket}{before}+Inf{after} {format_value(count)}\n")
        lines.append(self._line(f"{name}_sum", total, labels))
        lines.append(self._line(f"{name}_count", count, labels))

    def collect(self) -> list[Family]:
        """The families, in the order their first sample came."""
        return list(self._families.values())

    def _family(self, name: str, kind: str) -> Family:
        family = self._families.get(name)
        if family is None:
            family = self._families[name] = Family(name, kind, help_for(name))
        return family

    def _line(self, name: str, value: float, labels: Mapping[str, str]) -> str:
        """The sample's line; the hot path, run for each of several hundred samples a cycle."""
        text = self._layout(tuple(labels)).fill(labels) if labels else self._unlabelled
        return f"{name}{text} {format_value(value)}\n"

    def _layout(self, shape: tuple[str, ...]) -> LabelLayout:
        """The layout for samples with these labels of their own: a dozen shapes per target."""
        layout = self._layouts.get(shape)
        if layout is None:
            layout = self._layouts[shape] = LabelLayout(self._common, shape)
        return layout


_INFO_FIELD_OF = {f"{PREFIX}{name}": key for key, name in {**INFO_GAUGES, **INFO_COUNTERS}.items()}


def help_for(name: str) -> str:
    """HELP text for a metric: fixed per name, so it is the same in every file."""
    if name in HELP:
        return HELP[name]
    return f"Redis INFO field {_INFO_FIELD_OF.get(name, name.removeprefix(PREFIX))}."
