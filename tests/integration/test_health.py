"""Health families on real servers: a replica's link down time, the age of the last good save."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from tests.support.processes import wait_for
from tests.support.recorded import Translated
from textfile_redis.config import Target
from textfile_redis.scrape import Scraper
from textfile_redis.translate import Outcome

if TYPE_CHECKING:
    from collections.abc import Callable

    from tests.support.servers import RedisServer

WAITED = 3.0  # seconds to let pass, so that a value of 0 (a broken clock) cannot pass
SLACK = 1.0  # servers count whole seconds of a clock they refresh every 100 ms


def _scraped(server: RedisServer) -> tuple[Translated, float, float]:
    """One scrape translated at its own time, with the wall clock just before and after it."""
    scraper = Scraper(Target(name="health", addr=server.addr, timeout=5.0))
    before = time.time()
    result = scraper.scrape()
    after = time.time()
    scraper.close()
    assert result.error is None
    outcome = Outcome(addr=server.addr, replies=result.replies, refused=result.refused, now=after)
    return Translated(outcome, {"addr": server.addr}), before, after


def _wait_seconds(since: float, seconds: float) -> None:
    """Poll the wall clock until `seconds` have passed since `since`."""
    wait_for(lambda: time.time() - since >= seconds, timeout=seconds + 5, interval=0.05)


def test_link_down_seconds_count_from_when_the_primary_stopped(
    server_factory: Callable[..., RedisServer],
) -> None:
    """A replica whose primary stopped WAITED seconds ago reports its link down that long."""
    primary = server_factory()
    replica = server_factory(replica_of=primary)
    master = {"master_host": "127.0.0.1", "master_port": str(primary.port)}
    stopping = time.time()
    primary.stop()
    stopped = time.time()
    admin = replica.client()
    wait_for(lambda: admin.info("replication")["master_link_status"] == "down")
    _wait_seconds(stopped, WAITED)
    scraped, before, after = _scraped(replica)
    down = scraped.value("redis_master_link_down_since_seconds", **master)
    assert down is not None
    assert before - stopped - SLACK <= down <= after - stopping + SLACK
    assert down >= WAITED - SLACK
    assert scraped.value("redis_master_link_up", **master) == 0


def test_link_down_seconds_are_absent_while_the_link_is_up(
    server_factory: Callable[..., RedisServer],
) -> None:
    """A linked replica has redis_master_link_up 1 and no link-down family at all."""
    primary = server_factory()
    replica = server_factory(replica_of=primary)
    scraped, _, _ = _scraped(replica)
    master = {"master_host": "127.0.0.1", "master_port": str(primary.port)}
    assert scraped.value("redis_master_link_up", **master) == 1
    assert scraped.samples("redis_master_link_down_since_seconds") == []


def test_last_save_age_counts_from_a_save_at_a_known_time(
    server_factory: Callable[..., RedisServer],
) -> None:
    """After a SAVE at a known time and WAITED seconds, the save's age is that long."""
    server = server_factory()
    client = server.client()
    saving = time.time()
    assert client.save()
    saved = time.time()
    _wait_seconds(saved, WAITED)
    scraped, _, after = _scraped(server)
    age = scraped.value("redis_rdb_last_save_age_seconds")
    assert age is not None
    # The server stamps the save in whole seconds; translation takes the scrape's whole second.
    assert int(after) - int(saved) - SLACK <= age <= int(after) - int(saving) + SLACK
    assert age >= WAITED - SLACK
    assert scraped.value("redis_rdb_last_save_timestamp_seconds") == int(after) - age
