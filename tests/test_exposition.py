"""Our exposition text against prometheus_client's generate_latest, on every recording."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import pytest
from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.utils import floatToGoString
from recorded import ADDR, REPLIES, Translated, load

from textfile_redis.exposition import LabelLayout, format_value
from textfile_redis.translate import Extras, Outcome

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric

    from textfile_redis.exposition import Family


class _Parsed:
    """Families read back by prometheus_client's parser, ready for generate_latest."""

    def __init__(self, text: str) -> None:
        self._families = list(text_string_to_metric_families(text))

    def collect(self) -> list[Metric]:
        return self._families


def _translated(fixture: str) -> list[Family]:
    document = load(fixture)
    outcome = Outcome(
        addr=ADDR,
        replies=document["replies"],
        refused=document["refused"],
        now=1_800_000_000.0,
        labels=(("note", 'quote " backslash \\ newline \n {braces}'),),
        extras=Extras(include_config_metrics=True, include_system_metrics=True),
    )
    return Translated(outcome, {}).families


def _named_as_samples(family: Family) -> bool:
    return family.kind != "counter" or family.name.endswith("_total")


@pytest.mark.parametrize("fixture", sorted(p.stem for p in REPLIES.glob("*.json")))
def test_writes_what_prometheus_client_writes(fixture: str) -> None:
    """Byte for byte what generate_latest writes for the samples our text holds, escapes too."""
    families = [f for f in _translated(fixture) if _named_as_samples(f)]
    text = "".join(family.text() for family in families)
    assert text.count("\n") > 200
    assert generate_latest(_Parsed(text)).decode() == text


@pytest.mark.parametrize("fixture", sorted(p.stem for p in REPLIES.glob("*.json")))
def test_counters_without_total_are_typed_under_their_samples_name(fixture: str) -> None:
    """Where generate_latest would name TYPE x_total over samples named x, the TYPE line says x."""
    quirky = [f for f in _translated(fixture) if not _named_as_samples(f)]
    assert quirky, "every recording has counters redis_exporter names without _total"
    for family in quirky:
        text = family.text()
        assert f"# TYPE {family.name} counter\n" in text
        assert f"{family.name}_total" not in text


@pytest.mark.parametrize(
    "value",
    [0.0, -0.0, 1.0, 999_999.0, 1e6, 1_048_576.0, 12_345_678.9, 1e16, 1e21, 1e-5, 0.1, -3e7,
     math.inf, -math.inf, math.nan, 7],
)  # fmt: skip
def test_values_are_written_as_prometheus_client_writes_them(value: float) -> None:
    """Go's exponents from 1e+06 on, +Inf, -Inf and NaN, and integers as floats."""
    assert format_value(value) == floatToGoString(value)


def test_a_samples_own_label_takes_its_sorted_place_and_wins_over_a_common_one() -> None:
    """Labels come sorted by name whatever their origin; a sample's own value is the one kept."""
    layout = LabelLayout({"zone": "z", "addr": "a", "db": "common"}, ("db", "cmd"))
    assert layout.fill({"db": "db0", "cmd": 'a"b'}) == '{addr="a",cmd="a\\"b",db="db0",zone="z"}'
    before, after = layout.around({"db": "db0", "cmd": "get"}, "db")
    assert (before, after) == ('{addr="a",cmd="get",db="', '",zone="z"}')
    before, after = layout.around({"db": "db0", "cmd": "get"}, "cmd")
    assert (before, after) == ('{addr="a",cmd="', '",db="db0",zone="z"}')
    three = LabelLayout({"addr": "a"}, ("x", "le", "cmd"))
    labels = {"x": "1", "le": "2", "cmd": "c"}
    assert three.around(labels, "le") == ('{addr="a",cmd="c",le="', '",x="1"}')
