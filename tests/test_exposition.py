"""Our exposition text against prometheus_client's generate_latest, on every recording."""

from __future__ import annotations

import functools
import math
from typing import TYPE_CHECKING

import pytest
from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.utils import floatToGoString

from tests.support.recorded import ADDR, REPLIES, Translated, load
from textfile_redis import catalog
from textfile_redis.exposition import LabelLayout, format_value
from textfile_redis.translate import Extras, Families, Outcome

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric

    from textfile_redis.exposition import Family


class _Parsed:
    """Families read back by prometheus_client's parser, ready for generate_latest."""

    def __init__(self, text: str) -> None:
        self._families = list(text_string_to_metric_families(text))

    def collect(self) -> list[Metric]:
        return self._families


@functools.cache  # pure: each recording is translated once for the module
def _translated(fixture: str) -> tuple[Family, ...]:
    document = load(fixture)
    outcome = Outcome(
        addr=ADDR,
        replies=document["replies"],
        refused=document["refused"],
        now=1_800_000_000.0,
        labels=(("note", 'quote " backslash \\ newline \n {braces}'),),
        extras=Extras(include_config_metrics=True, include_system_metrics=True),
    )
    return tuple(Translated(outcome, {}).families)


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


X = catalog.Metric("redis_x", catalog.GAUGE, "X.", ("db",))
Y = catalog.Metric("redis_y", catalog.COUNTER, "Y.", ("db",))
H = catalog.Metric("h", catalog.HISTOGRAM, "H.", ("cmd",))
S = catalog.Metric("s", catalog.SUMMARY, "S.", ("cmd",))
KEPT = catalog.Metric("kept", catalog.GAUGE, "Kept.", ("db",))
NEW = catalog.Metric("new", catalog.GAUGE, "New.")


def test_families_write_a_series_once_the_first_value_winning() -> None:
    """A sample whose name and labels were written already is dropped, whatever its value."""
    families = Families({"addr": "a"})
    families.gauge(X, 1.0, db="db0")
    families.gauge(X, 2.0, db="db0")
    families.counter(X, 3.0, db="db0")
    families.counters({X: 4.0, Y: 5.0}, db="db0")
    families.gauge(X, 6.0, db="db1")
    (x, y) = families.collect()
    assert x.lines == ['redis_x{addr="a",db="db0"} 1.0\n', 'redis_x{addr="a",db="db1"} 6.0\n']
    assert y.lines == ['redis_y{addr="a",db="db0"} 5.0\n']


def test_a_histogram_repeated_is_written_whole_once() -> None:
    """A second histogram with the same labels adds nothing, not even new buckets."""
    families = Families({})
    families.histogram(H, 3, 10, [(1, 2), (4, 3)], cmd="get")
    families.histogram(H, 9, 99, [(2, 9)], cmd="get")
    families.summary(S, 3, 10, {0.5: 1.0}, cmd="get")
    families.summary(S, 9, 99, {0.9: 2.0}, cmd="get")
    text = "".join(family.text() for family in families.collect())
    assert text.count("h_bucket") == 3
    assert 'le="2"' not in text
    assert text.count("s{") == 1


def test_rollback_forgets_what_came_after_the_mark() -> None:
    """Samples and families added since the mark are gone, and may be written again."""
    families = Families({})
    families.gauge(KEPT, 1.0)
    mark = families.mark()
    families.gauge(KEPT, 2.0, db="db0")
    families.gauge(NEW, 3.0)
    families.rollback(mark)
    assert [(f.name, f.lines) for f in families.collect()] == [("kept", ["kept 1.0\n"])]
    families.gauge(NEW, 4.0)
    assert families.collect()[-1].lines == ["new 4.0\n"]
