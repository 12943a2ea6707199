"""What a cycle asks each kind of server, from the features its INFO shows."""

from __future__ import annotations

import pytest
from recorded import SERVERS, load

from textfile_redis.commands import TRANSLATED_SETTINGS, ServerFeatures, cycle_commands
from textfile_redis.config import Options, Target


def _target(**options: object) -> Target:
    return Target(name="t", addr="redis://h:6379", timeout=1.0, options=Options(**options))  # type: ignore[arg-type]


@pytest.mark.parametrize("server", SERVERS)
def test_features_follow_the_recorded_info(server: str) -> None:
    """Redis 7 and every Valkey take several settings and have LATENCY HISTOGRAM; 6.2 neither."""
    features = ServerFeatures.from_info(load(f"{server}-primary")["replies"]["info"])
    assert features.config_get_many is (server != "redis-6.2")
    assert features.latency_histogram is (server != "redis-6.2")
    assert features.commandlog is server.startswith("valkey")


def test_config_get_names_the_translated_settings_where_it_can() -> None:
    """One pattern, *, for servers that take only one or when every setting is exported."""
    many, one = ServerFeatures(config_get_many=True), ServerFeatures()
    assert cycle_commands(_target(), many)["config"] == ("CONFIG", "GET", *TRANSLATED_SETTINGS)
    assert cycle_commands(_target(), one)["config"] == ("CONFIG", "GET", "*")
    everything = _target(include_config_metrics=True)
    assert cycle_commands(everything, many)["config"] == ("CONFIG", "GET", "*")


def test_a_disabled_config_command_is_not_sent() -> None:
    """config_command = "-" leaves CONFIG out entirely."""
    target = Target(name="t", addr="redis://h:6379", timeout=1.0, config_command="-")
    assert "config" not in cycle_commands(target, ServerFeatures(config_get_many=True))
