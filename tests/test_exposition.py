"""Our exposition writer against prometheus_client's generate_latest, on every recording."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from prometheus_client.exposition import generate_latest
from recorded import ADDR, REPLIES, Translated, load

from textfile_redis.exposition import exposition
from textfile_redis.translate import Extras, Outcome

if TYPE_CHECKING:
    from collections.abc import Iterable

    from prometheus_client.metrics_core import Metric


class _Families:
    def __init__(self, families: Iterable[Metric]) -> None:
        self._families = list(families)

    def collect(self) -> list[Metric]:
        return self._families


def _translated(fixture: str) -> list[Metric]:
    document = load(fixture)
    outcome = Outcome(
        addr=ADDR,
        replies=document["replies"],
        refused=document["refused"],
        now=1_800_000_000.0,
        labels=(("note", 'quote " backslash \\ newline \n'),),
        extras=Extras(include_config_metrics=True, include_system_metrics=True),
    )
    return Translated(outcome, {}).families


def _named_as_samples(family: Metric) -> bool:
    return family.type != "counter" or family.samples[0].name == f"{family.name}_total"


@pytest.mark.parametrize("fixture", sorted(p.stem for p in REPLIES.glob("*.json")))
def test_writes_what_prometheus_client_writes(fixture: str) -> None:
    """Byte for byte generate_latest's text, escapes included, for every family it renders right."""
    families = [f for f in _translated(fixture) if _named_as_samples(f)]
    assert exposition(families) == generate_latest(_Families(families)).decode()


@pytest.mark.parametrize("fixture", sorted(p.stem for p in REPLIES.glob("*.json")))
def test_counters_without_total_are_typed_under_their_samples_name(fixture: str) -> None:
    """Where generate_latest names TYPE x_total over samples named x, the TYPE line says x."""
    quirky = [f for f in _translated(fixture) if not _named_as_samples(f)]
    assert quirky, "every recording has counters redis_exporter names without _total"
    for family in quirky:
        text = exposition([family])
        assert f"# TYPE {family.name} counter\n" in text
        assert f"{family.name}_total" not in text
