"""Go-style float formatting of `le` and `quantile` label values."""

from __future__ import annotations

import math

import pytest

from textfile_redis.translate.gofloat import go_float


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1.0, "1"),
        (0.0, "0"),
        (0.5, "0.5"),
        (50.0, "50"),
        (99.9, "99.9"),
        (123456.0, "123456"),
        (1e6, "1e+06"),
        (1048576.0, "1.048576e+06"),
        (0.0001, "0.0001"),
        (0.00001, "1e-05"),
        (-3.5, "-3.5"),
        (1e21, "1e+21"),
        (math.inf, "+Inf"),
        (-math.inf, "-Inf"),
        (math.nan, "NaN"),
    ],
)
def test_matches_go_shortest_g_format(value: float, expected: str) -> None:
    """Values format as Go's strconv.FormatFloat(v, 'g', -1, 64), so label values match."""
    assert go_float(value) == expected
