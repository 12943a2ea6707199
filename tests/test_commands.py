"""What a cycle asks each kind of server, from the features its INFO shows."""

from __future__ import annotations

import pytest

from tests.support.recorded import SERVERS, load
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


@pytest.mark.parametrize(
    ("info", "sentinel", "cluster"),
    [
        ("# Server\r\nredis_version:7.0.15\r\nredis_mode:sentinel\r\n", True, False),
        ("# Server\r\nredis_version:7.2.4\r\nserver_mode:sentinel\r\n", True, False),
        ("# Server\r\nredis_mode:standalone\r\n# Cluster\r\ncluster_enabled:0\r\n", False, False),
        ("# Server\r\nredis_mode:cluster\r\n# Cluster\r\ncluster_enabled:1\r\n", False, True),
        ("# Cluster\r\ncluster_enabled:1\r\n# Cluster Info\r\ncluster_state:ok\r\n", False, False),
    ],
)
def test_sentinel_and_cluster_are_read_from_their_fields(
    info: str, *, sentinel: bool, cluster: bool
) -> None:
    """redis_mode or server_mode names a sentinel; CLUSTER INFO only where INFO lacks its fields."""
    features = ServerFeatures.from_info(info)
    assert (features.sentinel, features.cluster) == (sentinel, cluster)


def test_versions_need_both_major_and_minor() -> None:
    """An odd version field reads as no version: nothing version-gated is sent."""
    features = ServerFeatures.from_info("# Server\r\nredis_version:seven\r\nvalkey_version:9\r\n")
    assert features == ServerFeatures()
