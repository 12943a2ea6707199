"""Recorded replies, translated: what the pure translation tests read values from."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prometheus_client.registry import Collector, CollectorRegistry

from textfile_redis.translate import Outcome, translate

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric

REPLIES = Path(__file__).parent / "fixtures" / "replies"
SERVERS = ("redis-6.2", "redis-7.0", "valkey-8.1", "valkey-9.1")
ADDR = "redis://127.0.0.1:6379"
NOW = 1_800_000_000.0


def load(fixture: str) -> dict[str, Any]:
    """A recording made by tests/fixtures/record_replies.py: server, role, replies, refused."""
    document: dict[str, Any] = json.loads((REPLIES / f"{fixture}.json").read_text())
    return document


class Translated(Collector):
    """An outcome translated, with get_sample_value lookups that take `implied` labels as read."""

    def __init__(self, outcome: Outcome, implied: dict[str, str]) -> None:
        self.families = translate(outcome)
        self._implied = implied
        self._registry = CollectorRegistry()
        self._registry.register(self)

    def collect(self) -> list[Metric]:
        """The families, for the registry."""
        return self.families

    def value(self, name: str, /, **labels: str) -> float | None:
        """The value of the sample with exactly these labels, the implied ones included."""
        return self._registry.get_sample_value(name, {**self._implied, **labels})

    def samples(self, name: str) -> list[dict[str, str]]:
        """The label sets of every sample named `name`."""
        return [s.labels for f in self.families for s in f.samples if s.name == name]
