"""The Scraper against real servers: reuse, no error pollution, refusals, timeouts, backoff."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

import pytest

from tests.support.hostile import Answer, Error, HostileServer, recorded_replies, resp
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

ALL = INFO["info"]
RECORDED_INFO: str = recorded_replies()["info"]  # Redis 7.0's INFO ALL
RECORDED_RUN_ID = "3a02df79550a7c87a191f70d424a27521dfbfd96"


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
    return _commands_asked(server, scrape, "INFO")


def _commands_asked(
    server: RedisServer, scrape: Callable[[], object], *first_words: str
) -> list[tuple[str, ...]]:
    """The commands starting with `first_words` a scrape sends, in order, by the slow log."""
    admin = server.client()
    admin.config_set("slowlog-log-slower-than", 0)
    admin.config_set("slowlog-max-len", 1024)
    admin.slowlog_reset()
    scrape()
    entries = reversed(admin.slowlog_get(1024))  # newest first
    commands = [tuple(bytes(entry["command"]).decode().split()) for entry in entries]
    width = len(first_words)
    return [c for c in commands if tuple(w.upper() for w in c[:width]) == first_words]


def _by_command(reply: list[Any]) -> dict[str, Any]:
    return dict(zip(reply[::2], reply[1::2], strict=True))


def test_latency_histogram_names_the_commands_called_since_and_keeps_the_others(
    server_factory: Callable[..., RedisServer],
) -> None:
    """Each ask after the first names only the commands whose calls moved.

    The reply passed on holds every histogram, each the server's own for its count.
    """
    server = server_factory()
    client = server.client()
    client.set("k", "v")
    client.get("k")
    scraper = Scraper(_target(server.addr))
    every = ASKED_EVERY["latency_histogram"]
    replies: list[dict[str, Any]] = []

    def scrape() -> None:
        for cycle in range(2 * every):
            if cycle == every - 1:  # idle since the first ask: GET called again, ECHO first
                client.get("k")
                client.echo("first call")
            replies.append(scraper.scrape().replies)

    asked = _commands_asked(server, scrape, "LATENCY", "HISTOGRAM")
    kept_pipelines = [c for pipeline in scraper._packed for c in pipeline]  # noqa: SLF001
    scraper.close()
    named_kept = [c for c in kept_pipelines if c[:2] == ("LATENCY", "HISTOGRAM") and len(c) > 2]
    assert named_kept == []  # a pipeline that names commands is one of a kind: never kept
    if server.kind.name == "redis-6.2":  # no LATENCY HISTOGRAM before Redis 7
        assert asked == []
        return
    assert len(asked) == 2
    assert asked[0] == ("LATENCY", "HISTOGRAM")
    named = set(asked[1][2:])
    assert {"get", "echo", "info"} <= named
    assert "set" not in named
    first, second = (_by_command(r["latency_histogram"]) for r in (replies[0], replies[every]))
    assert second["set"] is first["set"]  # kept: the same histogram, not asked again
    assert second["get"][1] == first["get"][1] + 1
    assert second["echo"][1] == 1
    direct = client.execute_command("LATENCY", "HISTOGRAM", "set", "get", "echo")  # type: ignore[no-untyped-call]
    now = _by_command(direct)
    assert {name: second[name] for name in now} == now


@pytest.mark.parametrize("server_kind", ["redis-7.0", "valkey-9.1"], indirect=True)
def test_a_renamed_commands_histogram_follows_its_calls(
    server_factory: Callable[..., RedisServer],
) -> None:
    """Listed under its old name, by which it cannot be asked: called, every histogram is.

    The first ask by that name finds nothing, and the kept histogram stands one ask longer.
    """
    server = server_factory(extra_args=["--rename-command", "hget", "renamed-hget"])
    client = server.client()
    client.hset("h", "f", "v")
    client.execute_command("RENAMED-HGET", "h", "f")  # type: ignore[no-untyped-call]
    scraper = Scraper(_target(server.addr))
    every = ASKED_EVERY["latency_histogram"]
    calls = []
    for cycle in range(4 * every):
        if cycle % every == every - 1:
            client.execute_command("RENAMED-HGET", "h", "f")  # type: ignore[no-untyped-call]
        result = scraper.scrape()
        if cycle % every == 0:
            calls.append(_by_command(result.replies["latency_histogram"])["hget"][1])
    scraper.close()
    assert calls == [1, 1, 3, 4]


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
    server_factory: Callable[..., RedisServer], caplog: pytest.LogCaptureFixture
) -> None:
    """A user allowed INFO ALL alone gets it every cycle, after one denial ever, no cycle lost."""
    server = server_factory()
    server.client().execute_command(  # type: ignore[no-untyped-call]
        "ACL", "SETUSER", "monitor", "on", ">pw", "+@all", "-info", "+info|all", "~*"
    )
    scraper = Scraper(_target(server.addr, username="monitor", password=Secret("pw")))
    with caplog.at_level(logging.INFO, logger="textfile_redis.scrape"):
        results = [scraper.scrape() for _ in range(2 * LATENCYSTATS_EVERY)]
        scraper.close()  # a new connection to the same server run does not ask again
        results += [scraper.scrape() for _ in range(2 * LATENCYSTATS_EVERY)]
        scraper.close()
    assert all(result.error is None and "info" not in result.refused for result in results)
    assert all(LATENCYSTATS_HEADER in result.replies["info"] for result in results)
    assert _info(server, "errorstats")["errorstat_NOPERM"] == {"count": 1}
    fallbacks = [r.getMessage() for r in caplog.records if "INFO ALL is asked" in r.getMessage()]
    assert len(fallbacks) == 1
    assert fallbacks[0].startswith("t: ")
    assert "until the server restarts" in fallbacks[0]


def _hostile_info_asked(server: HostileServer) -> list[tuple[str, ...]]:
    """The INFO commands the hostile server received, in order."""
    return [tuple(words) for words in server.commands if words[0].upper() == "INFO"]


def _cut(info: str, header: str) -> str:
    """An INFO reply without one of its sections."""
    start = info.index(f"\n{header}\r\n") + 1
    return info[:start] + info[info.index("\n# ", start) + 1 :]


def _info_script(
    info_all: Callable[[], Answer], sub_info: Callable[[], Answer]
) -> dict[str, Callable[[list[str]], Answer]]:
    """A hostile server's INFO: INFO ALL answered one way, INFO naming sections another."""
    return {"INFO": lambda words: info_all() if len(words) <= 2 else sub_info()}


def test_info_answered_with_other_sections_gets_info_all_in_the_same_cycle_and_after() -> None:
    """INFO without Latencystats lacking a section: INFO ALL at once, and every later cycle."""
    other = _cut(_cut(RECORDED_INFO, LATENCYSTATS_HEADER), "# Commandstats")
    script = _info_script(lambda: resp(RECORDED_INFO), lambda: resp(other))
    cycles = LATENCYSTATS_EVERY + 2
    with HostileServer(script) as server:
        scraper = Scraper(_target(server.addr))
        results = [scraper.scrape() for _ in range(cycles)]
        scraper.close()
    assert all(r.error is None and r.replies["info"] == RECORDED_INFO for r in results)
    assert _hostile_info_asked(server) == [ALL, INFO_BUT_LATENCYSTATS, *[ALL] * (cycles - 1)]


def test_info_all_refused_after_other_sections_leaves_no_partial_info() -> None:
    """The refused INFO ALL after the wrong sections: the cycle has no INFO, not half of one."""
    other = _cut(_cut(RECORDED_INFO, LATENCYSTATS_HEADER), "# Commandstats")
    answers = iter([resp(RECORDED_INFO)])
    script = _info_script(lambda: next(answers, resp(Error("ERR not now"))), lambda: resp(other))
    with HostileServer(script) as server:
        scraper = Scraper(_target(server.addr))
        results = [scraper.scrape() for _ in range(2)]
        scraper.close()
    assert results[0].error is None
    assert results[1].error == "INFO refused: not now"
    assert "info" not in results[1].replies


@pytest.mark.parametrize(
    ("refusal", "next_connection"),
    [
        ("NOPERM this user has no permissions to run the 'info' command", [ALL]),
        ("BUSY busy", [INFO_BUT_LATENCYSTATS, ALL]),
    ],
)
def test_a_denied_info_without_latencystats_is_not_asked_again_on_the_next_connection(
    refusal: str, next_connection: list[tuple[str, ...]]
) -> None:
    """NOPERM holds across connections to the same server run; another refusal may pass."""
    script = _info_script(lambda: resp(RECORDED_INFO), lambda: resp(Error(refusal)))
    with HostileServer(script) as server:
        scraper = Scraper(_target(server.addr))
        results = [scraper.scrape() for _ in range(2)]
        scraper.close()
        results += [scraper.scrape() for _ in range(2)]
        scraper.close()
    assert all(r.error is None and r.replies["info"] == RECORDED_INFO for r in results)
    asked = _hostile_info_asked(server)
    assert asked == [ALL, INFO_BUT_LATENCYSTATS, ALL, ALL, *next_connection]


def test_a_restarted_server_is_asked_info_without_latencystats_again_after_a_denial() -> None:
    """Another run_id on the next connection: its ACL may differ, so one more try."""
    info_all = [RECORDED_INFO]
    script = _info_script(lambda: resp(info_all[0]), lambda: resp(Error("NOPERM no")))
    with HostileServer(script) as server:
        scraper = Scraper(_target(server.addr))
        results = [scraper.scrape() for _ in range(2)]
        scraper.close()
        info_all[0] = RECORDED_INFO.replace(RECORDED_RUN_ID, "b" * 40)
        results += [scraper.scrape() for _ in range(2)]
        scraper.close()
    assert all(r.error is None for r in results)
    sub_info_then_all = [INFO_BUT_LATENCYSTATS, ALL]
    assert _hostile_info_asked(server) == [ALL, *sub_info_then_all, ALL, *sub_info_then_all]


def _another_run(version: str) -> str:
    """The recorded INFO ALL as another server run of `version` would answer it."""
    info = RECORDED_INFO.replace(RECORDED_RUN_ID, "b" * 40)
    info = info.replace("redis_version:7.0.15", f"redis_version:{version}")
    return info.replace("latency_percentiles_usec_get:", "latency_percentiles_usec_gets:")


def test_another_server_behind_the_same_connection_is_learned_afresh() -> None:
    """A proxy swaps in Redis 6.2 (run_id changes): no LATENCY HISTOGRAM, INFO ALL from then on."""
    older = _cut(_another_run("6.2.5"), LATENCYSTATS_HEADER)
    swapped = [False]
    script = _info_script(
        lambda: resp(older if swapped[0] else RECORDED_INFO),
        lambda: resp(
            Error("ERR syntax error") if swapped[0] else _cut(RECORDED_INFO, LATENCYSTATS_HEADER)
        ),
    )
    with HostileServer(script) as server:
        scraper = Scraper(_target(server.addr))
        assert [scraper.scrape().error for _ in range(2)] == [None, None]
        swapped[0] = True
        seen = len(server.commands)
        results = [scraper.scrape() for _ in range(2 * ASKED_EVERY["latency_histogram"])]
        scraper.close()
    assert all(r.error is None and r.replies["info"] == older for r in results)
    assert all("latency_histogram" not in r.replies for r in results[1:])
    after = server.commands[seen:]
    assert [w for w in after if w[0] == "INFO"] == [list(INFO_BUT_LATENCYSTATS), *[list(ALL)] * 8]
    assert [w for w in after if w[0] == "LATENCY" and w[1] == "HISTOGRAM"] == []
    assert server.connections == 1


def test_another_servers_info_gets_none_of_the_kept_latencystats() -> None:
    """Another Redis 7.0 behind the connection: its own INFO ALL, not the old Latencystats."""
    other = _another_run("7.0.15")
    swapped = [False]
    script = _info_script(
        lambda: resp(other if swapped[0] else RECORDED_INFO),
        lambda: resp(_cut(other if swapped[0] else RECORDED_INFO, LATENCYSTATS_HEADER)),
    )
    with HostileServer(script) as server:
        scraper = Scraper(_target(server.addr))
        assert [scraper.scrape().error for _ in range(2)] == [None, None]
        swapped[0] = True
        results = [scraper.scrape() for _ in range(LATENCYSTATS_EVERY)]
        scraper.close()
    assert results[0].replies["info"] == other
    assert [latencystats_section(r.replies["info"]) for r in results] == [
        latencystats_section(other)
    ] * LATENCYSTATS_EVERY
    between = [INFO_BUT_LATENCYSTATS] * (LATENCYSTATS_EVERY - 1)
    assert _hostile_info_asked(server)[2:] == [INFO_BUT_LATENCYSTATS, ALL, *between]


def test_another_server_at_an_asking_cycle_gets_none_of_the_kept_histograms() -> None:
    """A proxy's new backend answers the cycle that named the old one's commands.

    That cycle has no histograms; the next asks the new server for every histogram.
    """
    recorded, theirs = (
        recorded_replies()["latency_histogram"],
        ["ping", ["calls", 1, "histogram_usec", [1, 1]]],
    )
    other, swapped = _another_run("7.0.15"), [False]
    script = {
        **_info_script(
            lambda: resp(other if swapped[0] else RECORDED_INFO),
            lambda: resp(_cut(other if swapped[0] else RECORDED_INFO, LATENCYSTATS_HEADER)),
        ),
        "LATENCY HISTOGRAM": lambda _words: resp(theirs if swapped[0] else recorded),
    }
    every = ASKED_EVERY["latency_histogram"]
    with HostileServer(script) as server:
        scraper = Scraper(_target(server.addr))
        before = [scraper.scrape() for _ in range(every)]
        swapped[0] = True
        after = [scraper.scrape() for _ in range(every)]
        scraper.close()
    assert [r.error for r in before + after] == [None] * 2 * every
    assert before[-1].replies["latency_histogram"] == recorded
    named = [w for w in server.commands if w[:2] == ["LATENCY", "HISTOGRAM"]]
    assert [len(words) > 2 for words in named] == [False, True, False]  # whole, named, whole
    assert [r.replies.get("latency_histogram") for r in after] == [None, *[theirs] * (every - 1)]


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
