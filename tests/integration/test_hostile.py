"""Hostile keys and values under inspection: files stay valid for promtool and node_exporter."""

from __future__ import annotations

from typing import TYPE_CHECKING

import redis

from tests.support.config import write_config
from tests.support.consumers import unaccepted_lints
from tests.support.daemon import run_cli
from tests.support.exposition import Exposition

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from tests.support.consumers import NodeExporter
    from tests.support.servers import RedisServer

BIG = 10 * 1024 * 1024  # a 10 MB value: inspection reads a 4 KiB prefix of it at most
LONG = 5000  # longer than that prefix: a size, never a label
LIST_LENGTH = 100_000
NOT_UTF8_NAME = b"h:name-not-utf8\xff"  # inspected apart: see the xfail test below
# Key name -> value, as bytes: quotes, backslashes, newlines, tabs, NUL, non-ASCII.
AWKWARD: dict[bytes, bytes] = {
    b'h:quote"d': b'say "hi"',
    b"h:back\\slash": b"C:\\path\\",
    b"h:new\nline": b"two\nlines",
    b"h:tab\there": b"a\tb",
    b"h:nul\x00byte": b"nul\x00inside",
    b"h:emoji\xf0\x9f\x98\x80": b"\xf0\x9f\x98\x80",
    b"h:value-not-utf8": b"\xc3\x28\xff",
    b"h:{braces}=,": b"} {",
}


def _bytes_client(server: RedisServer) -> redis.Redis:
    """A client that writes and reads raw bytes: names need not be UTF-8."""
    return redis.Redis(port=server.port, protocol=2, driver_info=None, decode_responses=False)


def _once(tmp_path: Path, server: RedisServer, **options: object) -> tuple[Path, Exposition]:
    textfile_dir = tmp_path / "textfile"
    textfile_dir.mkdir()
    config = write_config(
        tmp_path / "config.toml", textfile_dir, [{"name": "t", "addr": server.addr, **options}]
    )
    result = run_cli("once", "--config", str(config))
    assert result.returncode == 0, result.stderr
    path = textfile_dir / "redis_t.prom"
    return path, Exposition.read(path)


def test_hostile_keys_and_values_give_files_promtool_and_node_exporter_accept(
    server_factory: Callable[..., RedisServer],
    node_exporter_factory: Callable[[Path], NodeExporter],
    tmp_path: Path,
) -> None:
    """Awkward names and values round-trip as labels; 10 MB and 100k-element keys are sizes."""
    server = server_factory()
    client = _bytes_client(server)
    client.mset(AWKWARD)
    client.set(b"h:big", b"x" * BIG)
    client.set(b"h:long", b"y" * LONG)
    client.rpush(b"h:list", *range(LIST_LENGTH))
    client.set(NOT_UTF8_NAME, b"1")
    client.close()
    path, found = _once(
        tmp_path,
        server,
        check_keys=["db0=h:*"],
        count_keys=["db0=h:*"],
        check_key_groups=["^(h):"],
    )
    assert unaccepted_lints(path) == []
    assert found.duplicates() == []
    # Every awkward name and value comes back exactly, the invalid UTF-8 value escaped.
    strings = {s.labels["key"]: s.labels["val"] for s in found.find("redis_key_value_as_string")}
    expected = {
        key.decode(): value.decode("utf-8", "backslashreplace") for key, value in AWKWARD.items()
    }
    assert strings == expected
    sizes = found.by_label("redis_key_size", "key", db="db0")
    not_utf8 = NOT_UTF8_NAME.decode("utf-8", "backslashreplace")
    assert {key: size for key, size in sizes.items() if key != not_utf8} == {
        **{key.decode(): len(value) for key, value in AWKWARD.items()},
        "h:big": BIG,
        "h:long": LONG,
        "h:list": LIST_LENGTH,
    }
    assert found.value("redis_keys_count", db="db0", key="h:*") == len(AWKWARD) + 4
    assert found.value("redis_key_group_count", db="db0", key_group="h") == len(AWKWARD) + 4
    # Long values are never labels: no line holds even the 5000-byte one, the file stays small.
    assert max(len(line) for line in found.text.splitlines()) < LONG
    assert path.stat().st_size < 200_000
    exporter = node_exporter_factory(path.parent)
    served = Exposition.parse(exporter.metrics())
    assert served.value("node_textfile_scrape_error") == 0
    assert served.by_label("redis_key_size", "key", db="db0") == sizes
    assert exporter.complaints() == []


def test_key_names_that_are_not_utf8_are_counted_and_inspected(
    server_factory: Callable[..., RedisServer], tmp_path: Path
) -> None:
    r"""A non-UTF-8 key name is counted and inspected as itself, shown with \xNN escapes."""
    server = server_factory()
    client = _bytes_client(server)
    client.set(b"u:\xff\xfe", b"12345")
    client.set(b"u:plain", b"1")
    client.close()
    _, found = _once(tmp_path, server, check_keys=["db0=u:*"], count_keys=["db0=u:*"])
    assert found.value("redis_keys_count", db="db0", key="u:*") == 2
    assert found.value("redis_key_size", db="db0", key="u:\\xff\\xfe") == 5
    assert found.value("redis_key_size", db="db0", key="u:plain") == 1


def test_a_name_spelled_like_an_escape_keeps_the_file_valid(
    server_factory: Callable[..., RedisServer],
    node_exporter_factory: Callable[[Path], NodeExporter],
    tmp_path: Path,
) -> None:
    r"""Two keys that print alike (bytes ff fe, and the text \xff\xfe) give one series, not two."""
    server = server_factory()
    client = _bytes_client(server)
    client.set(b"u:\xff\xfe", b"12345")
    client.set(b"u:\\xff\\xfe", b"1")  # the first name's escaped spelling, literally
    client.close()
    path, found = _once(tmp_path, server, check_keys=["db0=u:*"], count_keys=["db0=u:*"])
    assert found.value("redis_keys_count", db="db0", key="u:*") == 2
    assert len(found.find("redis_key_size", db="db0")) == 1
    served = Exposition.parse(node_exporter_factory(path.parent).metrics())
    assert served.value("node_textfile_scrape_error") == 0


def test_a_string_that_only_looks_like_a_hyperloglog_leaves_no_error_reply(
    server_factory: Callable[..., RedisServer], tmp_path: Path
) -> None:
    """A plain string starting with HYLL is shown as a string; the server counts no error."""
    server = server_factory()
    client = server.client()
    client.set("h:fake-hll", "HYLL is not a HyperLogLog")
    before = int(client.info("stats")["total_error_replies"])
    _, found = _once(tmp_path, server, check_keys=["db0=h:*"])
    assert found.value("redis_key_size", db="db0", key="h:fake-hll") == 25
    assert (
        found.value(
            "redis_key_value_as_string",
            db="db0",
            key="h:fake-hll",
            val="HYLL is not a HyperLogLog",
        )
        == 1
    )
    assert int(client.info("stats")["total_error_replies"]) == before
