"""The test infrastructure: real servers of every kind, node_exporter and promtool work."""

from __future__ import annotations

import secrets
import socket
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import redis

from tests.support.consumers import promtool_check_metrics
from tests.support.processes import wait_for
from tests.support.servers import RedisServer, populate

if TYPE_CHECKING:
    from collections.abc import Callable

    from tests.support.consumers import NodeExporter

HAND_WRITTEN_PROM = """\
# HELP infra_probe_value A value written by hand.
# TYPE infra_probe_value gauge
infra_probe_value{source="hand"} 42
"""

COUNTER_WITHOUT_TOTAL = """\
# HELP infra_requests Requests served.
# TYPE infra_requests counter
infra_requests 7
"""


def _raw_reply(path_or_port: str | int, command: bytes) -> bytes:
    """Send one inline command over a fresh socket and return the first reply line."""
    family = socket.AF_UNIX if isinstance(path_or_port, str) else socket.AF_INET
    address = path_or_port if isinstance(path_or_port, str) else ("127.0.0.1", path_or_port)
    with socket.socket(family) as connection:
        connection.settimeout(5)
        connection.connect(address)
        connection.sendall(command + b"\r\n")
        return connection.makefile("rb").readline().rstrip(b"\r\n")


def _awkward_password() -> str:
    """Return a fresh password with a space, a quote and a backslash: the config must quote it."""
    return f'{secrets.token_hex(8)} "q" \\x'


def test_server_answers_ping(server: RedisServer) -> None:
    """A started server answers PING on its loopback port."""
    assert _raw_reply(server.port, b"PING") == b"+PONG"
    assert server.addr == f"redis://127.0.0.1:{server.port}"


def test_server_runs_the_version_its_kind_names(server: RedisServer) -> None:
    """INFO carries the kind's version: redis_version 7.0/6.2.x, valkey_version 8.1/9.1.x."""
    major, minor = server.kind.version
    info = server.client().info("server")
    assert str(info[server.kind.version_field]).startswith(f"{major}.{minor}.")


def test_populate_fills_errorstats_keyspace_and_slowlog(server: RedisServer) -> None:
    """populate() leaves error counts, TTL'd keys in db0 and db1, and slow commands."""
    client = server.client()
    errors = client.info("errorstats")
    assert errors["errorstat_ERR"]["count"] >= 2
    assert errors["errorstat_WRONGTYPE"]["count"] >= 1
    keyspace = client.info("keyspace")
    assert keyspace["db0"]["keys"] > 20
    assert keyspace["db0"]["expires"] >= 5
    assert keyspace["db1"]["expires"] >= 3
    assert client.slowlog_len() > 0
    assert client.info("commandstats")["cmdstat_set"]["calls"] > 0


def test_populate_provokes_exactly_its_errors(server_factory: Callable[..., RedisServer]) -> None:
    """populate() causes two ERR and one WRONGTYPE, and the infrastructure's clients add none."""
    started = server_factory()
    populate(started.client())
    errors = started.client().info("errorstats")
    assert errors == {"errorstat_ERR": {"count": 2}, "errorstat_WRONGTYPE": {"count": 1}}


def test_populate_records_a_latency_event(server: RedisServer) -> None:
    """populate() leaves a "command" event in LATENCY LATEST (DEBUG SLEEP is allowed locally)."""
    events = [event[0] for event in server.client().latency_latest()]
    assert "command" in events


def test_latencystats_exist_from_version_7(server: RedisServer) -> None:
    """INFO latencystats holds per-command percentiles from version 7 on and nothing before."""
    latencystats = server.client().info("latencystats")
    if server.kind.version >= (7, 0):
        assert "latency_percentiles_usec_set" in latencystats
    else:
        assert latencystats == {}


def test_replica_link_is_up_and_holds_the_primarys_keys(
    replica_pair: tuple[RedisServer, RedisServer],
) -> None:
    """A replica started with replica_of reports its link up and holds the primary's keys."""
    primary, replica = replica_pair
    replication = replica.client().info("replication")
    assert replication["role"] == "slave"
    assert replication["master_link_status"] == "up"
    assert replication["master_port"] == primary.port
    assert replica.client().dbsize() == primary.client().dbsize()
    assert primary.client().info("replication")["connected_slaves"] == 1


def test_replica_authenticates_with_the_shared_password(
    server_factory: Callable[..., RedisServer],
) -> None:
    """A password-protected replica links to its primary through masterauth from the config file."""
    password = _awkward_password()
    primary = server_factory(password=password)
    replica = server_factory(password=password, replica_of=primary)
    assert replica.client().info("replication")["master_link_status"] == "up"


def test_password_guards_the_server_and_stays_off_the_command_line(
    server_factory: Callable[..., RedisServer],
) -> None:
    """A password is required by the server, works for client(), and is absent from argv."""
    password = _awkward_password()
    started = server_factory(password=password)
    assert _raw_reply(started.port, b"PING").startswith(b"-NOAUTH")
    assert started.client().ping()
    command_line = Path(f"/proc/{started.pid}/cmdline").read_bytes()
    assert password.split()[0].encode() not in command_line


def test_unix_socket_answers_ping(server_factory: Callable[..., RedisServer]) -> None:
    """With unixsocket=True the server also answers on workdir/redis.sock."""
    started = server_factory(unixsocket=True)
    assert started.unix_path is not None
    assert _raw_reply(str(started.unix_path), b"PING") == b"+PONG"


def test_frozen_server_is_silent_until_thawed(server_factory: Callable[..., RedisServer]) -> None:
    """freeze() leaves the port open but unanswered; thaw() brings the answers back."""
    started = server_factory()
    started.freeze()
    with pytest.raises(redis.exceptions.TimeoutError):
        started.client(socket_timeout=0.2).ping()
    started.thaw()
    assert started.client().ping()


def test_stop_ends_even_a_frozen_server_and_is_idempotent(
    server_factory: Callable[..., RedisServer],
) -> None:
    """stop() ends a frozen server, frees its port, and does nothing the second time."""
    started = server_factory()
    started.freeze()
    started.stop()
    started.stop()
    assert started.process.returncode is not None
    with pytest.raises(ConnectionRefusedError):
        _raw_reply(started.port, b"PING")


def test_node_exporter_serves_a_hand_written_textfile(
    textfile_dir: Path, node_exporter_factory: Callable[[Path], NodeExporter]
) -> None:
    """node_exporter serves a .prom file from its textfile directory and reports no scrape error."""
    (textfile_dir / "probe.prom").write_text(HAND_WRITTEN_PROM)
    exporter = node_exporter_factory(textfile_dir)
    metrics = exporter.metrics()
    assert 'infra_probe_value{source="hand"} 42' in metrics
    assert "node_textfile_scrape_error 0" in metrics.splitlines()


def test_node_exporter_reports_a_broken_textfile(
    textfile_dir: Path, node_exporter_factory: Callable[[Path], NodeExporter]
) -> None:
    """node_exporter sets node_textfile_scrape_error 1 and logs why when a .prom file is invalid."""
    (textfile_dir / "broken.prom").write_text("infra_broken{{{ 1\n")
    exporter = node_exporter_factory(textfile_dir)
    assert "node_textfile_scrape_error 1" in exporter.metrics().splitlines()
    wait_for(lambda: "broken.prom" in exporter.log(), message="node_exporter never logged it")


def test_promtool_flags_a_counter_without_total(tmp_path: Path) -> None:
    """promtool_check_metrics reports a counter whose name lacks the _total suffix."""
    exposition = tmp_path / "counter.prom"
    exposition.write_text(COUNTER_WITHOUT_TOTAL)
    problems = promtool_check_metrics(exposition)
    assert any("infra_requests" in line and "_total" in line for line in problems)


def test_promtool_accepts_a_clean_file(tmp_path: Path) -> None:
    """promtool_check_metrics returns no problems for a well-formed gauge."""
    exposition = tmp_path / "gauge.prom"
    exposition.write_text(HAND_WRITTEN_PROM)
    assert promtool_check_metrics(exposition) == []


def test_wait_for_gives_up_with_the_message() -> None:
    """wait_for raises TimeoutError carrying the caller's message once the deadline passes."""
    with pytest.raises(TimeoutError, match="never true"):
        wait_for(lambda: False, timeout=0.05, message="never true")
