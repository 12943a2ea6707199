"""The run loop's schedule (ticks stay on their grid, late cycles skip) and its heap upkeep."""

from __future__ import annotations

import gc
import weakref

import pytest

from textfile_redis.daemon import _next_tick, freeze_long_lived


@pytest.mark.parametrize(
    ("previous", "now", "expected"),
    [
        (100.0, 100.001, 115.0),  # on time: the next slot
        (100.0, 114.9, 115.0),  # a slow cycle still lands on the grid
        (100.0, 115.0, 130.0),  # exactly on a slot: that slot is not after now
        (100.0, 146.0, 160.0),  # suspended for three intervals: missed slots are skipped
    ],
)
def test_next_tick_stays_on_the_grid(previous: float, now: float, expected: float) -> None:
    """Cycles start at previous + k*interval, never drifting by the time a cycle took."""
    assert _next_tick(previous, 15.0, now) == expected


def test_freeze_long_lived_frees_garbage_then_freezes_what_lives() -> None:
    """Unreachable cycles are collected first; what is still reachable leaves the GC's walks."""

    class Node:
        partner: object = None

    garbage = Node()
    garbage.partner = garbage
    probe = weakref.ref(garbage)
    del garbage
    kept = [Node()]
    gc.unfreeze()
    try:
        freeze_long_lived()
        assert probe() is None
        assert gc.get_freeze_count() > 1000
        assert not any(obj is kept for obj in gc.get_objects())
    finally:
        gc.unfreeze()
