"""Load per ACL user and client name, and ACL denials, against real servers: exact values out."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from tests.support.config import write_config
from tests.support.consumers import promtool_check_metrics, unaccepted_lints
from tests.support.exposition import Exposition
from tests.support.processes import wait_for
from tests.support.servers import raw_command
from textfile_redis import catalog
from textfile_redis.config import Overrides, load_config
from textfile_redis.cycle import Collector

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from tests.support.consumers import NodeExporter
    from tests.support.servers import RedisServer

PASSWORD = "insight-pw"  # noqa: S105 - a throwaway server's test user
# alice may PING, GET keys a:* and PUBLISH to no channel: DEL, GET b:1, PUBLISH are denials.
ALICE = ("resetchannels", "~a:*", "+ping", "+get", "+publish", "+client|setname")
BOB = ("resetchannels", "+ping", "+client|setname")
# Which servers write tot-cmds, tot-net-in and tot-net-out in CLIENT LIST (checked on each).
COUNTED = {"redis-8.2", "valkey-8.1", "valkey-9.1"}
INSIGHT = (catalog.CLIENT_LOAD_OPTION, catalog.ACL_LOG_OPTION)
OURS = {entry.name for entry in catalog.FAMILIES if entry.option in INSIGHT}


def _resp(*words: str) -> int:
    """The bytes a command takes on the wire, as a client sends it (RESP2 array of bulks)."""
    return len(f"*{len(words)}\r\n") + sum(len(f"${len(w)}\r\n{w}\r\n") for w in words)


class Clients:
    """Connections of known users and names, each having sent known commands; closed after."""

    def __init__(self, server: RedisServer, admin: redis.Redis) -> None:
        self.server = server
        self.admin = admin  # the one default-user connection the test itself keeps
        self._open: list[redis.Redis] = []

    def connect(self, user: str | None, name: str, pings: int) -> None:
        """One connection: AUTH (when a user is given), CLIENT SETNAME, then `pings` PINGs."""
        client = self._client(user)
        raw_command(client, "CLIENT", "SETNAME", name)
        for _ in range(pings):
            client.ping()

    def _client(self, user: str | None) -> redis.Redis:
        client = redis.Redis(
            port=self.server.port,
            username=user,
            password=PASSWORD if user else None,
            protocol=2,
            driver_info=None,  # no CLIENT SETINFO: the commands sent are exactly ours
            retry=Retry(NoBackoff(), 0),
            decode_responses=True,
        )
        self._open.append(client)
        return client

    def close(self) -> None:
        """Close every connection made."""
        for client in self._open:
            client.close()


@pytest.fixture
def clients(server_factory: Callable[..., RedisServer]) -> Iterator[Clients]:
    """A fresh server with users alice and bob, and a way to open their connections."""
    server = server_factory()
    admin = server.client()
    for user, rules in (("alice", ALICE), ("bob", BOB)):
        raw_command(admin, "ACL", "SETUSER", user, "on", f">{PASSWORD}", *rules)
    made = Clients(server, admin)
    try:
        yield made
    finally:
        made.close()


def _listed(admin: redis.Redis) -> list[str]:
    """CLIENT LIST's lines now."""
    return str(raw_command(admin, "CLIENT", "LIST")).splitlines()


def _deny(clients: Clients) -> None:
    """ACL denials of every reason: alice's key, command (2), channel; AUTH as mallory (3), bob.

    Made on connections of their own, closed before the test goes on, so that they add to no load.
    """
    before = len(_listed(clients.admin))
    denier = Clients(clients.server, clients.admin)
    try:
        alice = denier._client("alice")  # noqa: SLF001 - the same kind of connection
        for command in (("GET", "b:1"), ("DEL", "a:1"), ("DEL", "a:1"), ("PUBLISH", "news", "x")):
            with contextlib.suppress(redis.ResponseError):
                raw_command(alice, *command)
        guest = denier._client(None)  # noqa: SLF001
        for user in ("mallory", "mallory", "mallory", "bob"):  # mallory is no user
            with contextlib.suppress(redis.AuthenticationError):
                raw_command(guest, "AUTH", user, "wrong")
    finally:
        denier.close()
    wait_for(lambda: len(_listed(clients.admin)) == before, message="denying clients linger")


def _collector(server: RedisServer, textfile_dir: Path, top_n: int) -> Collector:
    target = {"name": "t", "addr": server.addr, "insight_top_n": top_n}
    target |= {"export_client_load": True, "export_acl_log": True}
    path = write_config(textfile_dir.parent / "config.toml", textfile_dir, [target])
    return Collector(load_config(Overrides(config_path=path), {}))


def _collect(collector: Collector, textfile_dir: Path) -> Exposition:
    (report,) = collector.cycle()
    assert report.ok
    return Exposition.read(textfile_dir / "redis_t.prom")


def _default_connections(clients: Clients) -> int:
    """The default user's connections now: the fixtures' own, unnamed."""
    return sum(" user=default " in line for line in _listed(clients.admin))


def test_load_and_denials_of_known_users_and_names(clients: Clients, textfile_dir: Path) -> None:
    """Connections, commands and bytes per user and name, and denials per reason, as made."""
    server = clients.server
    _deny(clients)
    pings = {("alice", "api"): [1, 2], ("alice", "cron"): [3], ("bob", "worker"): [4]}
    for (user, name), counts in pings.items():
        for count in counts:
            clients.connect(user, name, count)
    default = _default_connections(clients) + 1  # textfile-redis's own connection
    collector = _collector(server, textfile_dir, top_n=10)
    try:
        found = _collect(collector, textfile_dir)
    finally:
        collector.close()
    by_user = found.by_label("redis_connected_clients_by_user", "user")
    assert by_user == {"alice": 3, "bob": 1, "default": default, "other": 0}
    by_name = found.by_label("redis_connected_clients_by_name", "name")
    assert {k: v for k, v in by_name.items() if k} == {"api": 2, "cron": 1, "worker": 1, "other": 0}
    _assert_counted(found, server.name, pings)
    denials = found.by_label("redis_acl_log_denials", "user", reason="auth")
    assert denials == {"unknown": 3, "bob": 1}  # mallory's name might have been a password
    alice = {s.labels["reason"]: s.value for s in found.find("redis_acl_log_denials", user="alice")}
    assert alice == {"command": 2, "key": 1, "channel": 1}
    assert found.value("redis_acl_log_denials", reason="other", user="other") == 0
    assert found.value("redis_acl_log_entries") == 5
    _assert_promtool_accepts(textfile_dir / "redis_t.prom")


def _assert_counted(found: Exposition, kind: str, pings: dict[tuple[str, str], list[int]]) -> None:
    """tot-cmds and tot-net-* summed per user and name where the server has them, else absent."""
    commands = found.by_label("redis_client_commands_processed_by_name", "name")
    if kind not in COUNTED:
        assert commands == {}
        assert found.find("redis_client_net_input_bytes_by_user") == []
        return
    for (user, name), counts in pings.items():
        auth = _resp("AUTH", user, PASSWORD)
        sent = [auth + _resp("CLIENT", "SETNAME", name) + count * _resp("PING") for count in counts]
        assert commands[name] == sum(2 + count for count in counts)  # AUTH, SETNAME, PINGs
        assert found.value("redis_client_net_input_bytes_by_name", name=name) == sum(sent)
        replies = sum(len("+OK\r\n") * 2 + count * len("+PONG\r\n") for count in counts)
        assert found.value("redis_client_net_output_bytes_by_name", name=name) == replies
    alice = sum(
        2 + count for (user, _), counts in pings.items() if user == "alice" for count in counts
    )
    assert found.value("redis_client_commands_processed_by_user", user="alice") == alice


def _assert_promtool_accepts(path: Path) -> None:
    """The file passes promtool; our own families raise not even redis_exporter's name lints."""
    assert unaccepted_lints(path) == []
    assert [line for line in promtool_check_metrics(path) if line.split(":")[0] in OURS] == []


def test_at_the_cap_the_same_top_n_and_other_in_two_cycles(
    clients: Clients, textfile_dir: Path, node_exporter_factory: Callable[[Path], NodeExporter]
) -> None:
    """Five names (6, 5, 5, 2, 1 connections) under a cap of 2: n1, n2 (a tie, by name), other."""
    server = clients.server
    sizes = {"n1": 6, "n2": 5, "n3": 5, "n4": 2, "n5": 1}
    for name, many in sizes.items():
        for _ in range(many):
            clients.connect("bob" if name == "n3" else "alice", name, 1)
    _deny(clients)
    unnamed = _default_connections(clients) + 1  # the fixtures' and textfile-redis's, no name
    collector = _collector(server, textfile_dir, top_n=2)
    try:
        cycles = [_collect(collector, textfile_dir) for _ in range(2)]
    finally:
        collector.close()
    for found in cycles:
        by_name = found.by_label("redis_connected_clients_by_name", "name")
        assert by_name == {"n1": 6, "n2": 5, "other": 5 + 2 + 1 + unnamed}
        by_user = found.by_label("redis_connected_clients_by_user", "user")
        assert by_user == {"alice": 14, "bob": 5, "other": unnamed}
        denials = found.find("redis_acl_log_denials")
        assert {(s.labels["reason"], s.labels["user"]): s.value for s in denials} == {
            ("auth", "unknown"): 3,
            ("command", "alice"): 2,
            ("other", "other"): 3,  # alice's key and channel denials, bob's AUTH
        }
    _assert_promtool_accepts(textfile_dir / "redis_t.prom")
    node_exporter = node_exporter_factory(textfile_dir)
    served = node_exporter.metrics()
    assert "\nnode_textfile_scrape_error 0\n" in served
    assert 'redis_connected_clients_by_name{addr="' in served
    assert node_exporter.complaints() == []


def _as_monitor(clients: Clients, textfile_dir: Path, *rules: str) -> Exposition:
    """One cycle as a user `monitor` with these ACL rules, both insight options on."""
    raw_command(clients.admin, "ACL", "SETUSER", "monitor", "on", f">{PASSWORD}", *rules)
    target: dict[str, object] = {"name": "t", "addr": clients.server.addr, "username": "monitor"}
    target |= {"password": PASSWORD, "export_client_load": True, "export_acl_log": True}
    path = write_config(textfile_dir.parent / "config.toml", textfile_dir, [target])
    collector = Collector(load_config(Overrides(config_path=path), {}))
    try:
        return _collect(collector, textfile_dir)
    finally:
        collector.close()


@pytest.mark.parametrize("server_kind", ["redis-7.0", "valkey-9.1"], indirect=True)
def test_a_refused_acl_log_costs_its_families_only(clients: Clients, textfile_dir: Path) -> None:
    """A monitoring user denied ACL LOG (NOPERM) still gets the load, and the refusal is said."""
    found = _as_monitor(clients, textfile_dir, "~*", "+@all", "-acl")
    assert found.value("redis_up") == 1
    assert found.value("redis_connected_clients_by_user", user="monitor") == 1
    assert found.find("redis_acl_log_entries") == []
    assert found.value("textfile_redis_command_refused", command="acl_log") == 1


@pytest.mark.parametrize("server_kind", ["redis-7.0", "valkey-9.1"], indirect=True)
def test_without_acl_users_no_failed_auth_names_a_user(
    clients: Clients, textfile_dir: Path
) -> None:
    """ACL USERS refused: every failed AUTH counts as `unknown`, even a real user's."""
    _deny(clients)
    found = _as_monitor(clients, textfile_dir, "~*", "+@all", "-acl|users")
    assert found.by_label("redis_acl_log_denials", "user", reason="auth") == {"unknown": 4}
    assert found.value("textfile_redis_command_refused", command="acl_users") == 1
