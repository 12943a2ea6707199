"""The series budget: which families a file leaves out, in what order, and what it says about it."""

from __future__ import annotations

import random

import pytest

from textfile_redis import budget, catalog
from textfile_redis.exposition import Family, header


def family(metric: catalog.Metric, series: int) -> Family:
    """A family of `series` sample lines under `metric`'s name."""
    lines = [f'{metric.name}{{addr="a",n="{index}"}} 1.0\n' for index in range(series)]
    return Family(metric.name, metric.kind, header(metric.name, metric.kind, metric.help), lines)


# A file as a target with every opt-in writes it: defaults, then opt-in families of every step.
DEFAULTS = [family(catalog.UP, 1), family(catalog.COMMANDS_TOTAL, 300), family(catalog.DB_KEYS, 32)]
OWN = [family(catalog.SCRAPE_DURATION_SECONDS, 1), family(catalog.SCAN_IN_PROGRESS, 3)]
OPT_INS = [
    family(catalog.CONFIG_VALUE, 150),
    family(catalog.KEY_SIZE, 5000),
    family(catalog.KEY_MEMORY_USAGE_BYTES, 5000),
    family(catalog.KEY_VALUE, 2000),
    family(catalog.CONNECTED_CLIENT_INFO, 2000),
    family(catalog.CONNECTED_CLIENT_IDLE_SINCE_TIMESTAMP, 2000),
    family(catalog.STREAM_LENGTH, 50),
    family(catalog.STREAM_GROUP_LAG, 100),
    family(catalog.STREAM_GROUP_CONSUMER_IDLE_SECONDS, 400),
    family(catalog.KEYS_COUNT, 4),
    family(catalog.KEY_GROUP_COUNT, 101),
    family(catalog.BIGGEST_KEY_MEMORY_BYTES, 10),
    family(catalog.CLUSTER_SLOT_KEYS, 10),
    family(catalog.SCRIPT_VALUES, 20),
    family(catalog.INFO_FAMILIES["total_system_memory"], 1),
]
FILE = [*DEFAULTS, *OPT_INS, *OWN]
TOTAL = budget.OWN_SERIES + sum(len(f.lines) for f in FILE)


def test_within_budget_keeps_every_family() -> None:
    """A file within its budget keeps every family, in order, and counts the budget's own two."""
    verdict = budget.enforce(FILE, TOTAL)
    assert verdict.kept == FILE
    assert verdict.dropped == {}
    assert verdict.series == TOTAL
    assert not verdict.over


def test_per_client_families_go_first_biggest_first_then_by_name() -> None:
    """Just over the budget, a per-client family goes first: of two the same size, by name."""
    verdict = budget.enforce(FILE, TOTAL - 1)
    assert verdict.dropped == {catalog.CONNECTED_CLIENT_IDLE_SINCE_TIMESTAMP.name: 2000}
    assert verdict.series == TOTAL - 2000 + 1


def test_the_documented_order_step_by_step() -> None:
    """With a budget only the defaults fit, every opt-in family goes, in the documented order."""
    verdict = budget.enforce(FILE, 0)
    assert list(verdict.dropped) == [
        catalog.CONNECTED_CLIENT_IDLE_SINCE_TIMESTAMP.name,
        catalog.CONNECTED_CLIENT_INFO.name,
        catalog.KEY_MEMORY_USAGE_BYTES.name,
        catalog.KEY_SIZE.name,
        catalog.KEY_VALUE.name,
        catalog.STREAM_GROUP_CONSUMER_IDLE_SECONDS.name,
        catalog.STREAM_GROUP_LAG.name,
        catalog.STREAM_LENGTH.name,
        catalog.KEYS_COUNT.name,
        catalog.KEY_GROUP_COUNT.name,
        catalog.SCRIPT_VALUES.name,
        catalog.CONFIG_VALUE.name,
        catalog.BIGGEST_KEY_MEMORY_BYTES.name,
        catalog.CLUSTER_SLOT_KEYS.name,
        "redis_total_system_memory_bytes",
    ]


def test_default_and_own_families_are_never_cut() -> None:
    """Even far over budget, default families and textfile_redis_* are all kept, whole."""
    verdict = budget.enforce(FILE, 1)
    assert verdict.kept == [*DEFAULTS, *OWN]
    assert verdict.over
    assert verdict.series == sum(len(f.lines) for f in [*DEFAULTS, *OWN]) + 2 + len(OPT_INS)


def test_families_go_whole_and_only_as_many_as_needed() -> None:
    """A kept family keeps every line; a family goes only while the file is still over budget."""
    # Both client families and one key family must go; each leaves a dropped sample behind.
    limit = TOTAL - 2000 - 2000 - 5000 + 3
    verdict = budget.enforce(FILE, limit)
    assert len(verdict.dropped) == 3
    assert verdict.series <= limit
    assert all(f in FILE for f in verdict.kept)
    kept_names = {f.name for f in verdict.kept}
    assert kept_names.isdisjoint(verdict.dropped)
    assert kept_names | set(verdict.dropped) == {f.name for f in FILE}


@pytest.mark.parametrize("limit", [0, 500, 4000, 9000, 12000, TOTAL - 1])
def test_the_outcome_does_not_depend_on_the_families_order(limit: int) -> None:
    """Shuffled families lose the same ones, and keep their own order: deterministic."""
    expected = budget.enforce(FILE, limit)
    shuffled = list(FILE)
    random.Random(limit).shuffle(shuffled)  # noqa: S311 - a repeatable order, not a secret
    verdict = budget.enforce(shuffled, limit)
    assert verdict.dropped == expected.dropped
    assert verdict.kept == [f for f in shuffled if f.name not in verdict.dropped]


def test_every_opt_in_option_has_a_step() -> None:
    """Every option of the catalogue's opt-in families is named in DROP_ORDER (none goes last)."""
    steps = {option for option, _ in budget.DROP_ORDER}
    opt_in = {
        entry.option
        for entry in catalog.FAMILIES
        if entry.option and not entry.name.startswith(budget.OWN_PREFIX)
    }
    assert opt_in <= steps
    for entry in catalog.FAMILIES:
        if entry.option and not entry.name.startswith(budget.OWN_PREFIX):
            step = budget.step_of(family(entry, 1))
            assert step is not None, entry.name
            assert step < len(budget.DROP_ORDER), entry.name


@pytest.mark.parametrize(
    ("max_series", "total", "targets", "expected"),
    [
        (10_000, 50_000, 1, 10_000),
        (10_000, 50_000, 3, 10_000),
        (10_000, 50_000, 6, 8_333),
        (2_000, 50_000, 6, 2_000),
        (10_000, 50_000, 0, 10_000),
    ],
)
def test_limit_is_the_smaller_of_own_and_equal_share(
    max_series: int, total: int, targets: int, expected: int
) -> None:
    """A target's budget is min(max_series, max_series_total // targets)."""
    assert budget.limit_for(max_series, total, targets) == expected


def test_own_families_say_what_was_written_and_left_out() -> None:
    """The budget's families carry the count, the limit and one dropped sample per family."""
    verdict = budget.enforce(FILE, TOTAL - 1)
    text = "".join(f.text() for f in budget.own_families(verdict, {"addr": "a", "zone": "z"}))
    assert f'textfile_redis_series{{addr="a",zone="z"}} {float(verdict.series)!r}\n' in text
    assert f'textfile_redis_series_limit{{addr="a",zone="z"}} {float(TOTAL - 1)!r}\n' in text
    dropped = catalog.CONNECTED_CLIENT_IDLE_SINCE_TIMESTAMP.name
    assert f'textfile_redis_series_dropped{{addr="a",family="{dropped}",zone="z"}} 2000.0\n' in text
    assert "# HELP textfile_redis_series_dropped " in text


def test_nothing_dropped_writes_no_dropped_family() -> None:
    """Within budget, textfile_redis_series_dropped is absent, so an alert on it resolves."""
    verdict = budget.enforce(FILE, TOTAL)
    names = [f.name for f in budget.own_families(verdict, {"addr": "a"})]
    assert names == ["textfile_redis_series", "textfile_redis_series_limit"]


def test_the_count_matches_the_file() -> None:
    """textfile_redis_series equals the sample lines of the kept families plus its own."""
    for limit in (0, 5000, 12000, TOTAL):
        verdict = budget.enforce(FILE, limit)
        own = budget.own_families(verdict, {"addr": "a"})
        assert verdict.series == sum(len(f.lines) for f in [*verdict.kept, *own])
