"""The Scraper against real servers: reuse, no error pollution, refusals, timeouts, backoff."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import pytest

from tests.support.processes import free_port
from tests.support.servers import RedisServer, binary_for, kind_named
from tests.support.tools import require
from textfile_redis.commands import (
    INFO,
    INFO_BUT_LATENCYSTATS,
    LATENCYSTATS_HEADER,
    latencystats_section,
    section_headers,
)
from textfile_redis.config import Secret, Target
from textfile_redis.scrape import ASKED_EVERY, BACKOFF_MAX, LATENCYSTATS_EVERY, Scraper

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path


def _target(addr: str, timeout: float = 2.0, **options: object) -> Target:
    return Target(name="t", addr=addr, timeout=timeout, **options)  # type: ignore[arg-type]


def _info(server: RedisServer, section: str) -> dict[str, object]:
    return dict(server.client().info(section))


def test_scraping_never_adds_to_the_servers_error_counts(
    server_factory: Callable[..., RedisServer],
) -> None:
    """Version-gated commands are only sent to servers that know them: no error replies, ever."""
    server = server_factory()
    scraper = Scraper(_target(server.addr))
    for _ in range(3):
        assert scraper.scrape().error is None
    scraper.close()
    assert _info(server, "stats")["total_error_replies"] == 0


def test_steady_state_reuses_the_connection_and_sends_a_fixed_set(
    server_factory: Callable[..., RedisServer],
) -> None:
    """After the first cycle, scrapes reuse their connection and send the same few commands."""
    server = server_factory()
    admin = server.client()
    scraper = Scraper(_target(server.addr))
    scraper.scrape()
    before = admin.info("stats")
    every = ASKED_EVERY["config"]
    cycles = 2 * every
    for _ in range(cycles):
        assert scraper.scrape().error is None
    after = admin.info("stats")
    scraper.close()
    assert after["total_connections_received"] == before["total_connections_received"]
    commands = after["total_commands_processed"] - before["total_commands_processed"] - 1
    # Every cycle INFO, SLOWLOG LEN and GET, LATENCY LATEST, and three COMMANDLOG LEN on Valkey
    # 8.1 and newer; every 4th cycle CONFIG GET, and LATENCY HISTOGRAM from Redis 7.
    each = {"redis-6.2": 4, "redis-7.0": 4, "redis-8.2": 4, "valkey-8.1": 7, "valkey-9.1": 7}
    seldom = {"redis-6.2": 1, "redis-7.0": 2, "redis-8.2": 2, "valkey-8.1": 2, "valkey-9.1": 2}
    kind = server.kind.name
    assert commands == cycles * each[kind] + cycles // every * seldom[kind]


@pytest.mark.parametrize("server_kind", ["redis-7.0"], indirect=True)
def test_seldom_asked_replies_stand_in_between_asks(
    server_factory: Callable[..., RedisServer],
) -> None:
    """CONFIG GET and LATENCY HISTOGRAM go out every Nth cycle; their last reply fills the rest."""
    server = server_factory()
    admin = server.client()
    scraper = Scraper(_target(server.addr))
    results = [scraper.scrape() for _ in range(2 * ASKED_EVERY["latency_histogram"])]
    stats = admin.info("commandstats")
    scraper.close()
    assert all({"config", "latency_histogram"} <= result.replies.keys() for result in results)
    assert stats["cmdstat_latency|histogram"]["calls"] == 2
    assert stats["cmdstat_config|get"]["calls"] == 2
    histograms = [result.replies["latency_histogram"] for result in results]
    assert histograms[1] is histograms[0]
    assert histograms[ASKED_EVERY["latency_histogram"]] is not histograms[0]


@pytest.mark.parametrize("server_kind", ["redis-7.0"], indirect=True)
def test_reconnecting_asks_for_every_reply_afresh(
    server_factory: Callable[..., RedisServer],
) -> None:
    """A new connection may reach another server: nothing kept from the old one stands in."""
    server = server_factory()
    admin = server.client()
    scraper = Scraper(_target(server.addr))
    scraper.scrape()
    scraper.close()
    scraper.scrape()
    scraper.close()
    assert admin.info("commandstats")["cmdstat_latency|histogram"]["calls"] == 2


def _info_commands_asked(
    server: RedisServer, scrape: Callable[[], object]
) -> list[tuple[str, ...]]:
    """The INFO commands a scrape sends, in order, as the server's slow log records them."""
    admin = server.client()
    admin.config_set("slowlog-log-slower-than", 0)
    admin.config_set("slowlog-max-len", 1024)
    admin.slowlog_reset()
    scrape()
    entries = reversed(admin.slowlog_get(1024))  # newest first
    commands = [tuple(bytes(entry["command"]).decode().split()) for entry in entries]
    return [command for command in commands if command[0].upper() == "INFO"]


def test_info_leaves_out_latencystats_between_asks_and_adds_the_kept_section(
    server_factory: Callable[..., RedisServer],
) -> None:
    """Where INFO takes several sections, Latencystats is asked every Nth cycle, kept between."""
    server = server_factory()
    scraper = Scraper(_target(server.addr))
    cycles = 2 * LATENCYSTATS_EVERY
    infos: list[str] = []

    def scrape() -> None:
        for cycle in range(cycles):
            if cycle == 2:  # a command first called now has percentiles from the next INFO ALL
                server.client().echo("first call")
            infos.append(scraper.scrape().replies["info"])

    asked = _info_commands_asked(server, scrape)
    scraper.close()
    if server.kind.name == "redis-6.2":  # INFO takes one section name before Redis 7
        assert asked == [INFO["info"]] * cycles
        return
    between = [INFO_BUT_LATENCYSTATS] * (LATENCYSTATS_EVERY - 1)
    assert asked == [INFO["info"], *between] * 2
    others = [h for h in section_headers(infos[0]) if h != LATENCYSTATS_HEADER]
    assert all(section_headers(info) == [*others, LATENCYSTATS_HEADER] for info in infos[1:4])
    kept = latencystats_section(infos[0])
    assert [latencystats_section(info) for info in infos[1:4]] == [kept] * 3
    assert "\ncmdstat_echo:" in infos[3]
    assert "latency_percentiles_usec_echo:" not in infos[3]
    assert "latency_percentiles_usec_echo:" in infos[4]


@pytest.mark.parametrize("server_kind", ["redis-7.0"], indirect=True)
def test_info_refused_without_latencystats_falls_back_to_info_all(
    server_factory: Callable[..., RedisServer],
) -> None:
    """A user allowed INFO ALL alone gets it every cycle, after one refusal, no cycle lost."""
    server = server_factory()
    server.client().execute_command(  # type: ignore[no-untyped-call]
        "ACL", "SETUSER", "monitor", "on", ">pw", "+@all", "-info", "+info|all", "~*"
    )
    scraper = Scraper(_target(server.addr, username="monitor", password=Secret("pw")))
    results = [scraper.scrape() for _ in range(2 * LATENCYSTATS_EVERY)]
    scraper.close()
    assert all(result.error is None and "info" not in result.refused for result in results)
    assert all(LATENCYSTATS_HEADER in result.replies["info"] for result in results)
    assert _info(server, "errorstats")["errorstat_NOPERM"] == {"count": 1}


def test_a_server_restarted_as_another_version_is_learned_afresh(tmp_path: Path) -> None:
    """Redis 7.0 gives way to 6.2 on its port: the new connection learns 6.2, sends it no error."""
    kinds = [kind_named("redis-7.0"), kind_named("redis-6.2")]
    require(all(binary_for(kind) for kind in kinds), "needs Redis 7.0 and 6.2")
    now = [1000.0]
    with RedisServer.start(kinds[0], tmp_path / "7.0") as first:
        port = first.port
        scraper = Scraper(_target(first.addr), clock=lambda: now[0])
        assert [scraper.scrape().error for _ in range(2)] == [None, None]
    with RedisServer.start(kinds[1], tmp_path / "6.2", pick_port=lambda: port) as second:
        assert scraper.scrape().error is not None  # the old connection is gone
        now[0] += BACKOFF_MAX
        results = [scraper.scrape() for _ in range(2 * ASKED_EVERY["latency_histogram"])]
        scraper.close()
        assert [result.error for result in results] == [None] * len(results)
        assert "latency_histogram" not in results[-1].replies
        assert second.client().info("stats")["total_error_replies"] == 0


def test_config_get_asks_for_the_settings_translation_reads(
    server_factory: Callable[..., RedisServer],
) -> None:
    """Every server reports the settings the metrics need; those taking several get only those."""
    server = server_factory(extra_args=["--databases", "4", "--maxclients", "123"])
    scraper = Scraper(_target(server.addr))
    scraper.scrape()
    settings = scraper.scrape().replies["config"]
    scraper.close()
    config = dict(zip(settings[::2], settings[1::2], strict=True))
    assert (config["databases"], config["maxclients"]) == ("4", "123")
    assert "client-output-buffer-limit" in config
    everything = server.kind.name == "redis-6.2"  # CONFIG GET takes one pattern before Redis 7
    assert ("appendonly" in config) is everything
    assert ("commandlog-slow-execution-max-len" in config) is server.kind.name.startswith("valkey")


def test_refused_command_is_sent_once_per_connection(
    server_factory: Callable[..., RedisServer],
) -> None:
    """An ACL refusal is remembered: CONFIG is refused once, then no longer sent."""
    server = server_factory()
    server.client().execute_command(  # type: ignore[no-untyped-call]
        "ACL", "SETUSER", "monitor", "on", ">pw", "+@all", "-config", "~*"
    )
    target = _target(server.addr, username="monitor", password=Secret("pw"))
    scraper = Scraper(target)
    results = [scraper.scrape() for _ in range(3)]
    scraper.close()
    assert all("config" in result.refused for result in results)
    assert all("config" not in result.replies for result in results)
    assert _info(server, "errorstats")["errorstat_NOPERM"] == {"count": 1}


@pytest.mark.parametrize("server_kind", ["redis-7.0"], indirect=True)
def test_frozen_server_times_out_within_the_deadline(
    server_factory: Callable[..., RedisServer],
) -> None:
    """A server that accepts but never answers costs one timeout, not a hang."""
    server = server_factory()
    server.freeze()
    try:
        started = time.monotonic()
        result = Scraper(_target(server.addr, timeout=0.3)).scrape()
        elapsed = time.monotonic() - started
    finally:
        server.thaw()
    assert result.error is not None
    assert "no complete reply within the timeout (0.3s)" in result.error
    assert elapsed < 1.0


def test_failures_back_off_without_blocking_and_recover() -> None:
    """After failures the next connect waits 1, 2, 4 ... s (capped); skipped cycles fail at once."""
    now = [1000.0]
    scraper = Scraper(_target(f"redis://127.0.0.1:{free_port()}"), clock=lambda: now[0])
    first = scraper.scrape()
    assert first.error is not None
    assert "Connection refused" in first.error
    skipped = scraper.scrape()  # within the first second: no connect attempt at all
    assert skipped.error is not None
    assert "next attempt in 1s" in skipped.error
    assert skipped.duration == 0
    for expected in (2, 4, 8, 16, BACKOFF_MAX, BACKOFF_MAX):
        now[0] += BACKOFF_MAX  # past any backoff: the scraper tries again, and fails again
        scraper.scrape()
        assert f"next attempt in {expected:.0f}s" in (scraper.scrape().error or "")
