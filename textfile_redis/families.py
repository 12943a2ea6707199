"""Metric families in the making: samples gathered by name, each with the target's labels."""

from __future__ import annotations

from typing import TYPE_CHECKING

from prometheus_client.metrics_core import Metric

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
        self._families: dict[str, Metric] = {}

    def gauge(self, name: str, value: float, /, **labels: str) -> None:
        """Add one gauge sample to the family `name`."""
        self._family(name, "gauge").add_sample(name, self._labels(labels), value)

    def counter(self, name: str, value: float, /, **labels: str) -> None:
        """Add one counter sample, keeping redis_exporter's name even without `_total`."""
        self._family(name, "counter").add_sample(name, self._labels(labels), value)

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
        family = self._family(name, "summary")
        for quantile, value in sorted(quantiles.items()):
            family.add_sample(name, self._labels(labels, quantile=go_float(quantile)), value)
        family.add_sample(f"{name}_sum", self._labels(labels), total)
        family.add_sample(f"{name}_count", self._labels(labels), count)

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
        family = self._family(name, "histogram")
        for bound, cumulative in sorted(buckets.items()):
            family.add_sample(
                f"{name}_bucket", self._labels(labels, le=go_float(bound)), cumulative
            )
        family.add_sample(f"{name}_bucket", self._labels(labels, le="+Inf"), count)
        family.add_sample(f"{name}_sum", self._labels(labels), total)
        family.add_sample(f"{name}_count", self._labels(labels), count)

    def collect(self) -> list[Metric]:
        """The families, in the order their first sample came."""
        return list(self._families.values())

    def _family(self, name: str, kind: str) -> Metric:
        family = self._families.get(name)
        if family is None:
            family = Metric(_family_name(name, kind), help_for(name), kind)
            self._families[name] = family
        return family

    def _labels(self, own: Mapping[str, str], **extra: str) -> dict[str, str]:
        return {**self._common, **own, **extra}


_INFO_FIELD_OF = {f"{PREFIX}{name}": key for key, name in {**INFO_GAUGES, **INFO_COUNTERS}.items()}


def help_for(name: str) -> str:
    """HELP text for a metric: fixed per name, so it is the same in every file."""
    if name in HELP:
        return HELP[name]
    return f"Redis INFO field {_INFO_FIELD_OF.get(name, name.removeprefix(PREFIX))}."


def _family_name(name: str, kind: str) -> str:
    # prometheus_client appends `_total` to a counter family's name when rendering.
    if kind == "counter" and name.endswith("_total"):
        return name[: -len("_total")]
    return name
