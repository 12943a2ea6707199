"""Redis Cluster and Sentinel set-ups for tests, built from RedisServer processes."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

import redis

from tests.support.processes import free_port, launch_on_free_port, port_is_free, spawn, wait_for
from tests.support.servers import (
    RedisServer,
    ServerKind,
    as_kind,
    config_quote,
    prepare,
    raw_command,
)

if TYPE_CHECKING:
    from pathlib import Path

CLUSTER_SLOTS = 16384
CLUSTER_BUS_OFFSET = 10000  # a node's cluster bus listens on its port + 10000
CLUSTER_NODE_TIMEOUT_MS = 5000
CLUSTER_DEADLINE_S = 30.0  # gossip spreads the MEETs and slots within seconds
HIGHEST_PORT = 65535
CLUSTER_PORT_ATTEMPTS = 100
SENTINEL_DOWN_AFTER_MS = 5000


def cluster_port() -> int:
    """Return a free loopback port whose cluster bus port (port + 10000) is free as well.

    Redis 6.2 has no `cluster-port` option: the bus port is always the port + 10000.
    """
    for _ in range(CLUSTER_PORT_ATTEMPTS):
        port = free_port()
        bus = port + CLUSTER_BUS_OFFSET
        if bus <= HIGHEST_PORT and port_is_free(bus):
            return port
    raise RuntimeError(f"no free port with a free cluster bus in {CLUSTER_PORT_ATTEMPTS} tries")


def cluster_options() -> list[str]:
    """The options that make a server a cluster node keeping its state in its own directory."""
    return [
        "--cluster-enabled",
        "yes",
        "--cluster-config-file",
        "nodes.conf",
        "--cluster-node-timeout",
        str(CLUSTER_NODE_TIMEOUT_MS),
    ]


def slot_ranges(primaries: int) -> list[tuple[int, int]]:
    """Split the 16384 slots into contiguous, inclusive ranges, one per primary."""
    bounds = [CLUSTER_SLOTS * index // primaries for index in range(primaries + 1)]
    return [(bounds[index], bounds[index + 1] - 1) for index in range(primaries)]


def cluster_info(client: redis.Redis) -> dict[str, str]:
    """CLUSTER INFO as a dict of strings, whatever redis-py's reply callback made of it."""
    reply = raw_command(client, "CLUSTER", "INFO")
    if isinstance(reply, dict):
        return {str(key): str(value) for key, value in reply.items()}
    lines = str(reply).splitlines()
    return dict(line.strip().partition(":")[::2] for line in lines if ":" in line)


def start_cluster(kind: ServerKind | str, workdir: Path, primaries: int = 3) -> list[RedisServer]:
    """Start a cluster of `primaries` nodes, slots spread evenly; return once all agree it is ok.

    Each node gets its slots (ADDSLOTSRANGE from 7.0, ADDSLOTS on 6.2) and its own config
    epoch, as `redis-cli --cluster create` does, before the first node MEETs the others. On
    any failure every node started is stopped again.
    """
    kind = as_kind(kind)
    with contextlib.ExitStack() as started:
        nodes = [
            started.enter_context(
                RedisServer.start(
                    kind,
                    workdir / f"node{index}",
                    extra_args=cluster_options(),
                    pick_port=cluster_port,
                )
            )
            for index in range(primaries)
        ]
        admins = [node.client(socket_timeout=2.0) for node in nodes]
        for epoch, (admin, (first, last)) in enumerate(
            zip(admins, slot_ranges(primaries), strict=True), start=1
        ):
            _add_slots(admin, kind, first, last)
            raw_command(admin, "CLUSTER", "SET-CONFIG-EPOCH", str(epoch))
        for node in nodes[1:]:
            raw_command(admins[0], "CLUSTER", "MEET", "127.0.0.1", str(node.port))

        def agreed() -> bool:
            for node, admin in zip(nodes, admins, strict=True):
                node.check_alive()
                info = cluster_info(admin)
                if (
                    info.get("cluster_state") != "ok"
                    or info.get("cluster_known_nodes") != str(primaries)
                    or info.get("cluster_slots_assigned") != str(CLUSTER_SLOTS)
                ):
                    return False
            return True

        wait_for(
            agreed,
            timeout=CLUSTER_DEADLINE_S,
            interval=0.1,
            message=f"{kind.name} cluster of {primaries} never reported cluster_state:ok",
        )
        started.pop_all()
        return nodes


def _add_slots(admin: redis.Redis, kind: ServerKind, first: int, last: int) -> None:
    if kind.version >= (7, 0):
        raw_command(admin, "CLUSTER", "ADDSLOTSRANGE", str(first), str(last))
    else:
        raw_command(admin, "CLUSTER", "ADDSLOTS", *(str(slot) for slot in range(first, last + 1)))


def _sentinel_config(port: int, workdir: Path, primary: RedisServer, master_name: str) -> str:
    log = workdir / Sentinel.LOG_NAME
    return "\n".join(
        [
            f"port {port}",
            "bind 127.0.0.1",
            f"dir {config_quote(str(workdir))}",
            f"logfile {config_quote(str(log))}",
            f"sentinel monitor {master_name} 127.0.0.1 {primary.port} 1",
            f"sentinel down-after-milliseconds {master_name} {SENTINEL_DOWN_AFTER_MS}",
            "",
        ]
    )


class Sentinel(RedisServer):
    """A sentinel: the same binary with --sentinel, monitoring one primary under a name."""

    LOG_NAME = "sentinel.log"

    def __init__(self, *, master_name: str, **server: Any) -> None:
        super().__init__(**server)
        self.name = f"{self.kind.name}-sentinel"
        self.master_name = master_name

    def wait_until_monitoring(self) -> None:
        """Wait until SENTINEL MASTERS lists the master; raise if it exits or time runs out."""
        wait_for(
            self._lists_master,
            message=f"{self.name} on port {self.port} never listed {self.master_name}",
        )

    def masters(self) -> dict[str, dict[str, object]]:
        """SENTINEL MASTERS as redis-py parses it: master name -> its fields."""
        reply = self._admin.sentinel_masters()
        return dict(reply) if isinstance(reply, dict) else {}

    def _lists_master(self) -> bool:
        self.check_alive()
        try:
            return self.master_name in self.masters()
        except redis.exceptions.ConnectionError:  # not yet listening
            return False

    def __repr__(self) -> str:
        return f"<Sentinel {self.name} {self.addr} pid={self.pid}>"


def start_sentinel(
    kind: ServerKind | str, workdir: Path, primary: RedisServer, master_name: str = "mymaster"
) -> Sentinel:
    """Start a sentinel (quorum 1) watching `primary`; return once SENTINEL MASTERS lists it.

    The sentinel rewrites its config file, so each attempt writes a fresh one in `workdir`.
    """
    kind, binary, workdir = prepare(kind, workdir)

    def launch(port: int) -> Sentinel:
        config = workdir / "sentinel.conf"
        config.write_text(_sentinel_config(port, workdir, primary, master_name))
        process = spawn([str(binary), str(config), "--sentinel"], workdir / Sentinel.LOG_NAME)
        return Sentinel(
            master_name=master_name,
            kind=kind,
            process=process,
            port=port,
            workdir=workdir,
            unix_path=None,
            password=None,
        )

    return launch_on_free_port(launch, Sentinel.wait_until_monitoring)
