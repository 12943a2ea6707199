"""What a cycle asks each kind of server, from the features its INFO shows."""

from __future__ import annotations

import pytest

from tests.support.recorded import ADDR, NOW, SERVERS, load
from textfile_redis.commands import (
    LATENCYSTATS_HEADER,
    TRANSLATED_SETTINGS,
    ServerFeatures,
    cycle_commands,
    latencystats_section,
    run_id,
    section_headers,
    with_latencystats,
)
from textfile_redis.config import Options, Target
from textfile_redis.textfile import Marker, render
from textfile_redis.translate import Outcome, translate


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


@pytest.mark.parametrize("server", SERVERS)
def test_several_info_sections_are_asked_from_redis_7_and_every_valkey(server: str) -> None:
    """INFO takes several section names from Redis 7 (Valkey says redis_version 7.2)."""
    features = ServerFeatures.from_info(load(f"{server}-primary")["replies"]["info"])
    assert features.info_sections is (server != "redis-6.2")


def test_a_sentinel_is_asked_info_all() -> None:
    """A sentinel's INFO is small and has sections of its own: it keeps INFO ALL."""
    info = "# Server\r\nredis_version:7.2.4\r\nredis_mode:sentinel\r\n"
    assert not ServerFeatures.from_info(info).info_sections


WITH_LATENCYSTATS = [
    f"{server}-{role}" for server in SERVERS[1:] for role in ("primary", "replica", "opt-ins")
]


@pytest.mark.parametrize("fixture", WITH_LATENCYSTATS)
def test_info_without_latencystats_and_the_kept_section_write_info_alls_file(fixture: str) -> None:
    """The other sections, then the section cut from INFO ALL, translate to INFO ALL's bytes."""
    replies = load(fixture)["replies"]
    info = replies["info"]
    section = latencystats_section(info)
    others = info.replace(section, "")
    assert section.startswith("# Latencystats\r\nlatency_percentiles_usec_")
    assert section.count("\n") == 1 + info.count("\nlatency_percentiles_usec_")
    assert LATENCYSTATS_HEADER not in others
    assert section_headers(others) == [h for h in section_headers(info) if h != LATENCYSTATS_HEADER]
    whole = {**replies, "info": with_latencystats(others, section)}
    assert _file(whole) == _file(replies)


def test_an_info_without_latencystats_keeps_none() -> None:
    """Redis 6.2's INFO ALL has no Latencystats: nothing is kept, nothing is added."""
    info = load("redis-6.2-primary")["replies"]["info"]
    assert latencystats_section(info) == ""
    assert with_latencystats(info, "") == info


@pytest.mark.parametrize("server", SERVERS)
def test_run_id_is_read_from_info_all_and_from_info_without_latencystats(server: str) -> None:
    """Both INFO forms carry the Server section's run_id, which tells one server run."""
    info = load(f"{server}-primary")["replies"]["info"]
    others = info.replace(latencystats_section(info), "")
    assert len(run_id(info)) == 40  # a hex SHA-1
    assert run_id(others) == run_id(info) != run_id(load(f"{server}-replica")["replies"]["info"])


def _file(replies: dict[str, object]) -> bytes:
    outcome = Outcome(addr=ADDR, replies=replies, refused={}, duration=0.002, now=NOW)
    return render(translate(outcome).families, Marker("owner", "t"))
