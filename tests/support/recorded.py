"""Recorded replies, translated: what the pure translation tests read values from."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prometheus_client.parser import text_string_to_metric_families

from textfile_redis.translate import Outcome, translate

if TYPE_CHECKING:
    from prometheus_client.samples import Sample

    from textfile_redis.exposition import Family

REPLIES = Path(__file__).resolve().parents[1] / "fixtures" / "replies"
SERVERS = ("redis-6.2", "redis-7.0", "redis-8.2", "valkey-8.1", "valkey-9.1")
ADDR = "redis://127.0.0.1:6379"
NOW = 1_800_000_000.0


def load(fixture: str) -> dict[str, Any]:
    """A recording made by tests/fixtures/record_replies.py: server, role, replies, refused."""
    document: dict[str, Any] = json.loads((REPLIES / f"{fixture}.json").read_text())
    return document


class Translated:
    """An outcome translated, with lookups that take `implied` labels as read.

    Samples are parsed when looked up, one family at a time: parsing is most of the cost, and
    most tests look at a few families of hundreds.
    """

    def __init__(self, outcome: Outcome, implied: dict[str, str]) -> None:
        translation = translate(outcome)
        self.families = translation.families
        self.malformed = translation.malformed
        self._implied = implied
        self._parsed: dict[int, list[Sample]] = {}

    @property
    def all_samples(self) -> list[Sample]:
        """Every sample of every family, in the order written."""
        return [sample for index in range(len(self.families)) for sample in self._of(index)]

    def value(self, name: str, /, **labels: str) -> float | None:
        """The value of the sample with exactly these labels, the implied ones included."""
        wanted = {**self._implied, **labels}
        found = [s.value for s in self._named(name) if s.labels == wanted]
        assert len(found) <= 1, f"{name}{wanted} is written {len(found)} times"
        return found[0] if found else None

    def samples(self, name: str) -> list[dict[str, str]]:
        """The label sets of every sample named `name`."""
        return [s.labels for s in self._named(name)]

    def _named(self, name: str) -> list[Sample]:
        # A sample is named after its family, or after it plus a suffix (_bucket, _sum, ...).
        return [
            sample
            for index, family in enumerate(self.families)
            if name == family.name or name.startswith(family.name + "_")
            for sample in self._of(index)
            if sample.name == name
        ]

    def _of(self, index: int) -> list[Sample]:
        if index not in self._parsed:
            self._parsed[index] = parsed(self.families[index])
        return self._parsed[index]


def parsed(family: Family) -> list[Sample]:
    """A family's lines as prometheus_client's parser reads them, sample names as written.

    The parser would rename the samples of a counter not named `_total`; read as untyped, a
    family keeps its samples' own names.
    """
    kind = "untyped" if family.kind == "counter" else family.kind
    text = f"# TYPE {family.name} {kind}\n" + "".join(family.lines)
    return [sample for metric in text_string_to_metric_families(text) for sample in metric.samples]
