"""The series budget: the opt-in families a file leaves out, whole, to hold max_series at most.

A series is one sample line. Default families are never cut; opt-in families go whole, in
DROP_ORDER (the families that grow with the data first), the biggest of one step first, until the
file fits. Counting is len(family.lines): no text is parsed. Pure: families in, a Verdict out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from . import catalog
from .translate import Families

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

    from .exposition import Family

# What is left out first: per client, per key, streams (per consumer, per group, per stream),
# pattern counts, key groups, Lua script values, settings, then the insight families (capped at
# insight_top_n + 1 series each, or per database for biggest keys, so they go late), system
# memory. One step is an option and, for streams, the labels that say how finely a family splits.
DROP_ORDER: tuple[tuple[str, tuple[str, ...] | None], ...] = (
    (catalog.CLIENTS_OPTION, None),
    (catalog.KEYS_OPTION, None),
    (catalog.STREAMS_OPTION, catalog.CONSUMER),
    (catalog.STREAMS_OPTION, catalog.GROUP),
    (catalog.STREAMS_OPTION, catalog.STREAM),
    ("count_keys", None),
    ("check_key_groups", None),
    ("lua_scripts", None),
    (catalog.CONFIG_OPTION, None),
    (catalog.CLIENT_LOAD_OPTION, None),
    (catalog.ACL_LOG_OPTION, None),
    (catalog.BIGGEST_KEYS_OPTION, None),
    (catalog.SLOT_STATS_OPTION, None),
    ("include_system_metrics", None),
)
# The budget's own families: the series and limit samples, and one per family left out.
OWN_SERIES = 2
OWN_PREFIX = "textfile_redis_"


@dataclass(frozen=True, slots=True)
class Verdict:
    """What a file keeps and leaves out under its budget, and how many series it then holds."""

    kept: list[Family]
    dropped: dict[str, int]  # family name -> its series left out, in the order they went
    series: int  # series in the file, the budget's own included
    limit: int

    @property
    def over(self) -> bool:
        """True when the default families alone hold more series than the budget."""
        return self.series > self.limit


def limit_for(max_series: int, max_series_total: int, targets: int) -> int:
    """A target's budget: its own, or its equal share of the total, whichever is less."""
    return min(max_series, max_series_total // max(targets, 1))


def step_of(family: Family) -> int | None:
    """Where in DROP_ORDER a family goes; None for one never cut (default, or our own)."""
    entry = catalog.BY_NAME.get(family.name)
    if entry is None or not entry.option or family.name.startswith(OWN_PREFIX):
        return None
    for index, (option, labels) in enumerate(DROP_ORDER):
        if entry.option == option and (labels is None or entry.labels == labels):
            return index
    return len(DROP_ORDER)  # an opt-in family no step names goes last


def enforce(families: Sequence[Family], limit: int) -> Verdict:
    """Leave out whole opt-in families, in DROP_ORDER, until the file holds `limit` at most."""
    series = OWN_SERIES + sum(len(family.lines) for family in families)
    if series <= limit:  # the usual case: one pass, no sorting
        return Verdict(list(families), {}, series, limit)
    dropped: dict[str, int] = {}
    for family in _cut_order(families):
        if series <= limit:
            break
        dropped[family.name] = len(family.lines)
        series += 1 - len(family.lines)  # its lines go, its textfile_redis_series_dropped comes
    kept = [family for family in families if family.name not in dropped]
    return Verdict(kept, dropped, series, limit)


def _cut_order(families: Iterable[Family]) -> list[Family]:
    """The opt-in families, in the order they are left out: step, most series, name."""
    steps = [(step, family) for family in families if (step := step_of(family)) is not None]
    steps.sort(key=lambda pair: (pair[0], -len(pair[1].lines), pair[1].name))
    return [family for _, family in steps]


def own_families(verdict: Verdict, labels: Mapping[str, str]) -> list[Family]:
    """textfile_redis_series, _series_limit and (when any went) _series_dropped, as families."""
    families = Families(labels)
    families.gauge(catalog.SERIES, float(verdict.series))
    families.gauge(catalog.SERIES_LIMIT, float(verdict.limit))
    for family, count in sorted(verdict.dropped.items()):
        families.gauge(catalog.SERIES_DROPPED, float(count), family=family)
    return families.collect()
