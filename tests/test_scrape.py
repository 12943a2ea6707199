"""The scraper's own bookkeeping, without a server: the packed pipelines it keeps."""

from __future__ import annotations

import redis

from textfile_redis.scrape import MAX_PACKED, _Packed

PIPELINE = (("INFO", "ALL"), ("SLOWLOG", "GET", 1), ("GET", "caf\udce9"))


def _packer() -> redis.Connection:
    """A connection never connected: it packs commands as the scraper's connections do."""
    return redis.Connection(encoding_errors="surrogateescape")  # type: ignore[no-untyped-call]


def test_a_pipeline_is_packed_once_into_the_bytes_packing_gives() -> None:
    """The kept bytes are packing's own, key bytes that are not UTF-8 included."""
    packed, connection = _Packed(), _packer()
    first = packed.of(connection, PIPELINE)
    assert packed.of(connection, list(PIPELINE)) is first
    wire = (("INFO", "ALL"), ("SLOWLOG", "GET", 1), ("GET", b"caf\xe9"))
    assert b"".join(first) == b"".join(connection.pack_commands(wire))  # type: ignore[no-untyped-call]


def test_packed_pipelines_are_bounded() -> None:
    """Ever new command sets never keep more than MAX_PACKED of them."""
    packed, connection = _Packed(), _packer()
    for n in range(3 * MAX_PACKED):
        packed.of(connection, (("SLOWLOG", "GET", n),))
        assert len(packed) <= MAX_PACKED
