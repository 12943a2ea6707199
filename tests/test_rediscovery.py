"""Which discovered servers still count: a server missed once may be restarting."""

from __future__ import annotations

from textfile_redis.discover import Server
from textfile_redis.rediscovery import FORGET_AFTER, Sightings


def _found(addr: str) -> Server:
    return Server(addr.rpartition(":")[2], addr, "primary", ("title",), needs_credential=False)


A = _found("redis://127.0.0.1:6379")
B = _found("redis://127.0.0.1:6380")
SOCKET = _found("unix:///run/redis/redis-server.sock")


def test_a_server_counts_until_missed_by_forget_after_discoveries_in_a_row() -> None:
    """Missed once, a server still counts; missed FORGET_AFTER times in a row, it is gone."""
    sightings = Sightings()

    assert sightings.update([A, B]) == (["redis://127.0.0.1:6379", "redis://127.0.0.1:6380"], [])
    assert sightings.update([B]) == ([], [])
    assert sightings.servers() == [A, B]
    for _ in range(FORGET_AFTER - 2):
        sightings.update([B])
    assert sightings.update([B]) == ([], ["redis://127.0.0.1:6379"])
    assert sightings.servers() == [B]


def test_a_server_seen_again_starts_its_count_afresh() -> None:
    """A server back after one miss (a restart) needs FORGET_AFTER new misses to be gone."""
    sightings = Sightings()
    sightings.update([A])
    for found in ([], [A], []):
        sightings.update(found)

    assert sightings.servers() == [A]


def test_servers_come_in_address_order_sockets_last_and_clear_forgets_them() -> None:
    """servers() is sorted as discover() sorts; clear() forgets every server."""
    sightings = Sightings()
    sightings.update([SOCKET, B, A])

    assert sightings.servers() == [A, B, SOCKET]
    sightings.clear()
    assert sightings.servers() == []
