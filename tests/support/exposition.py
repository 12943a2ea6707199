"""Exposition text (a textfile or a scrape) parsed into samples as Prometheus reads them."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING

from prometheus_client.parser import text_string_to_metric_families

if TYPE_CHECKING:
    from pathlib import Path

    from prometheus_client.samples import Sample


@dataclass(frozen=True, slots=True)
class Exposition:
    """A textfile's samples as Prometheus reads them: label values unescaped, values as floats."""

    text: str
    samples: tuple[Sample, ...]

    @classmethod
    def read(cls, path: Path) -> Exposition:
        """Parse the exposition file at `path`."""
        return cls.parse(path.read_text(encoding="utf-8"))

    @classmethod
    def parse(cls, text: str) -> Exposition:
        """Parse exposition text."""
        samples = tuple(
            sample for family in text_string_to_metric_families(text) for sample in family.samples
        )
        return cls(text, samples)

    def find(self, name: str, /, **labels: str) -> list[Sample]:
        """The samples of `name` whose labels include `labels`."""
        return [
            sample
            for sample in self.samples
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items())
        ]

    def value(self, name: str, /, **labels: str) -> float | None:
        """The value of the one sample of `name` matching `labels`; None when there is none."""
        found = self.find(name, **labels)
        if len(found) > 1:
            raise AssertionError(f"{len(found)} samples of {name} match {labels}: {found}")
        return found[0].value if found else None

    def by_label(self, name: str, label: str, /, **labels: str) -> dict[str, float]:
        """{value of `label`: sample value} over the samples of `name` matching `labels`."""
        found = self.find(name, **labels)
        result = {sample.labels[label]: sample.value for sample in found}
        if len(result) != len(found):
            raise AssertionError(f"{name} has several samples per {label}: {found}")
        return result

    def names(self) -> set[str]:
        """Every sample name in the file."""
        return {sample.name for sample in self.samples}

    def duplicates(self) -> list[str]:
        """Series written more than once (name and labels alike), which node_exporter rejects."""
        seen = Counter(
            (sample.name, tuple(sorted(sample.labels.items()))) for sample in self.samples
        )
        return sorted(
            f"{name}{dict(labels)}" for (name, labels), count in seen.items() if count > 1
        )
