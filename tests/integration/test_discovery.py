"""Discovery on the real /proc: servers of every kind started by the tests, found and no more."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.support.cluster import CLUSTER_BUS_OFFSET, cluster_options, cluster_port, start_sentinel
from tests.support.daemon import clean_env, run_cli
from tests.support.processes import ManagedProcess, free_port, spawn, wait_for
from tests.support.servers import RedisServer, binary_for
from textfile_redis.config import Overrides, load_config
from textfile_redis.discover import (
    DEBIAN_DIR,
    discover,
    node_exporter_dirs,
    probe,
)
from textfile_redis.discover import Endpoint as DiscoverEndpoint
from textfile_redis.discover import textfile_dir as find_textfile_dir

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from tests.support.consumers import NodeExporter

SYSTEM_PYTHON = Path("/usr/bin/python3")
REPO = Path(__file__).resolve().parents[2]
AS_ANOTHER_USER = """
from textfile_redis.discover import discover
for server in discover():
    how = "found by " + ", ".join(server.found_by)
    print(server.name, server.addr, server.kind, how, sep="\\t")
"""
NOBODY = 65534
DAEMON = 1  # a second unprivileged user, to look at nobody's server from outside
IMPOSTOR = """
import socket, sys
listener = socket.create_server(("127.0.0.1", int(sys.argv[1])))
while True:
    conn, _ = listener.accept()
    conn.recv(100)
    conn.sendall(b"HTTP/1.0 400 Bad Request" + bytes([13, 10, 13, 10]))
    conn.close()
"""


def _need(kind: str) -> None:
    if binary_for(kind) is None:
        pytest.skip(f"no {kind} here")


@dataclass(frozen=True, slots=True)
class Expected:
    """What discovery must report for one server the tests started."""

    name: str
    kind: str
    how: str  # a word that must be in how it was found: title or socket
    needs_credential: bool = False


@dataclass
class Started:
    """The servers this module started, and every address of theirs discovery may show."""

    expected: dict[str, Expected]
    ours: set[str]  # expected addresses plus those that must not appear (impostor, bus port)


def _start_unix_only(workdir: Path) -> ManagedProcess:
    binary = binary_for("valkey-9.1")
    assert binary is not None
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / "discover-unix.sock"
    argv = [str(binary), "--port", "0", "--unixsocket", str(path), "--save", "",
            "--dir", str(workdir)]  # fmt: skip
    process = ManagedProcess(spawn(argv, workdir / "server.log"), 0, workdir / "server.log")
    wait_for(lambda: path.exists() and _answers(DiscoverEndpoint(path=str(path))))
    return process


def _answers(endpoint: DiscoverEndpoint) -> bool:
    try:
        probe(endpoint, 0.5)
    except OSError:
        return False
    return True


def _start_impostor(workdir: Path) -> ManagedProcess:
    """A Python TCP server running under the name redis-server (`exec -a`)."""
    port = free_port()
    command = f'exec -a redis-server "$0" -c "$1" {port}'
    # Debian's python3: one built elsewhere (pyenv) finds its modules from argv[0], gone here.
    if not SYSTEM_PYTHON.exists():
        pytest.skip(f"no {SYSTEM_PYTHON} to run the impostor under another name")
    argv = ["bash", "-c", command, str(SYSTEM_PYTHON), IMPOSTOR]
    workdir.mkdir(parents=True, exist_ok=True)
    process = ManagedProcess(spawn(argv, workdir / "impostor.log"), port, workdir / "impostor.log")
    wait_for(lambda: _connects(port), message="the impostor never listened")
    return process


def _connects(port: int) -> bool:
    with socket.socket() as conn:
        return conn.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module")
def started(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Started]:
    """The servers below and an impostor named redis-server, each in its own directory.

    Redis 7.0 and its sentinel, Valkey 9.1 and its replica, a cluster node, a unix-only, a
    renamed, a wildcard-bound and a password server.
    """
    _need("redis-7.0")
    _need("valkey-9.1")
    base = tmp_path_factory.mktemp("discover")
    with contextlib.ExitStack() as running:

        def start(kind: str, name: str, **options: object) -> RedisServer:
            server = RedisServer.start(kind, base / name, **options)  # type: ignore[arg-type]
            return running.enter_context(server)

        redis7 = start("redis-7.0", "redis7")
        sentinel = running.enter_context(start_sentinel("redis-7.0", base / "sentinel", redis7))
        valkey = start("valkey-9.1", "valkey")
        replica = start("valkey-9.1", "replica", replica_of=valkey)
        node = start("redis-7.0", "node", extra_args=cluster_options(), pick_port=cluster_port)
        renamed = start(
            "redis-7.0", "renamed", extra_args=["--proc-title-template", "cache-{port}"]
        )
        wildcard = start("valkey-9.1", "wildcard", extra_args=["--bind", "*"])
        locked = start("redis-7.0", "locked", password="discover-secret")  # noqa: S106 - a test server
        running.enter_context(_start_unix_only(base / "unix"))
        impostor = running.enter_context(_start_impostor(base / "impostor"))
        socket_path = base / "unix" / "discover-unix.sock"
        expected = {
            redis7.addr: Expected(str(redis7.port), "primary", "title", needs_credential=False),
            sentinel.addr: Expected(
                str(sentinel.port), "sentinel", "title", needs_credential=False
            ),
            valkey.addr: Expected(str(valkey.port), "primary", "title", needs_credential=False),
            replica.addr: Expected(str(replica.port), "replica", "title", needs_credential=False),
            node.addr: Expected(str(node.port), "cluster node", "title", needs_credential=False),
            renamed.addr: Expected(str(renamed.port), "primary", "socket", needs_credential=False),
            wildcard.addr: Expected(str(wildcard.port), "primary", "title", needs_credential=False),
            locked.addr: Expected(str(locked.port), "unknown", "title", needs_credential=True),
            f"unix://{socket_path}": Expected(
                "discover-unix", "primary", "title", needs_credential=False
            ),
        }
        ours = set(expected) | {
            f"redis://127.0.0.1:{impostor.port}",
            f"redis://127.0.0.1:{node.port + CLUSTER_BUS_OFFSET}",
        }
        yield Started(expected, ours)


def _lines(stdout: str) -> dict[str, list[str]]:
    """`discover`'s server lines by address: [name, addr, kind, found by, credential]."""
    rows = [line.split("\t") for line in stdout.splitlines() if "\t" in line]
    return {row[1]: row for row in rows}


def test_discover_lists_exactly_the_servers_started(started: Started) -> None:
    """`textfile-redis discover` shows each server once, with its kind and credential need."""
    ran = run_cli("discover")
    assert ran.returncode == 0, ran.stderr
    rows = {addr: row for addr, row in _lines(ran.stdout).items() if addr in started.ours}
    assert set(rows) == set(started.expected)
    for addr, want in started.expected.items():
        name, _, kind, found_by, credential = rows[addr]
        assert (name, kind) == (want.name, want.kind), rows[addr]
        assert want.how in found_by, rows[addr]
        assert credential == ("needs a credential" if want.needs_credential else
                              "no credential needed")  # fmt: skip
    assert ran.stdout.splitlines()[-1].startswith("textfile directory: ")


def test_discovered_toml_loads_as_a_config(started: Started, tmp_path: Path) -> None:
    """`discover --toml` pasted under a textfile_dir loads through load_config, our servers in."""
    ran = run_cli("discover", "--toml")
    assert ran.returncode == 0, ran.stderr
    directory = tmp_path / "textfile"
    directory.mkdir()
    config = tmp_path / "config.toml"
    config.write_text(f'textfile_dir = "{directory}"\n{ran.stdout}')
    loaded = load_config(Overrides(config_path=config), {})
    targets = {target.addr: target.name for target in loaded.targets}
    assert {addr: targets.get(addr) for addr in started.expected} == {
        addr: want.name for addr, want in started.expected.items()
    }
    assert not set(targets) & (started.ours - set(started.expected))


def test_the_api_merges_a_servers_endpoints(started: Started) -> None:
    """discover() lists each of our servers once, its other addresses kept aside."""
    found = [server for server in discover() if server.addr in started.ours]
    assert sorted(server.addr for server in found) == sorted(started.expected)
    assert all(server.other_addrs == () for server in found)


@pytest.fixture
def nobodys_server() -> Iterator[tuple[RedisServer, ManagedProcess]]:
    """A Redis 7.0 run as nobody in a directory only nobody can read."""
    _need("redis-7.0")
    if os.geteuid() != 0:
        pytest.skip("starting a server under another uid needs root")
    workdir = Path(tempfile.mkdtemp(prefix="discover-nobody-"))
    os.chown(workdir, NOBODY, NOBODY)
    workdir.chmod(0o700)
    port = free_port()
    binary = binary_for("redis-7.0")
    argv = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
            str(binary), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
            "--dir", str(workdir)]  # fmt: skip
    log = Path(tempfile.mkdtemp(prefix="discover-log-")) / "server.log"
    process = ManagedProcess(spawn(argv, log), port, log)
    try:
        wait_for(lambda: _answers(DiscoverEndpoint("127.0.0.1", port)))
        yield process  # type: ignore[misc]
    finally:
        process.stop()
        shutil.rmtree(workdir, ignore_errors=True)
        shutil.rmtree(log.parent, ignore_errors=True)


def test_another_users_server_is_found_from_its_title(nobodys_server: ManagedProcess) -> None:
    """Run as a third user, discovery finds nobody's server by its title alone, without its fds."""
    # The engine alone: it needs only the standard library, which any user's python has (the
    # command line would import redis-py, whose interpreter here is root's).
    command = ["setpriv", f"--reuid={DAEMON}", f"--regid={DAEMON}", "--clear-groups",
               sys.executable, "-c", AS_ANOTHER_USER]  # fmt: skip
    ran = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False,
                         env=clean_env(PYTHONPATH=str(REPO)), cwd="/")  # fmt: skip
    assert ran.returncode == 0, ran.stderr
    row = _lines(ran.stdout)[f"redis://127.0.0.1:{nobodys_server.port}"]
    assert row[2:] == ["primary", f"found by title (pid {nobodys_server.pid})"]
    assert ran.stderr == ""


def test_processes_exiting_mid_scan_cost_nothing(started: Started) -> None:
    """Short-lived processes named redis-server, exiting while discovery reads them: no error."""
    stop = threading.Event()

    def churn() -> None:
        while not stop.is_set():
            subprocess.run(["bash", "-c", "exec -a redis-server true"], check=False)

    worker = threading.Thread(target=churn, daemon=True)
    worker.start()
    try:
        for _ in range(5):
            found = {server.addr for server in discover()}
            assert set(started.expected) <= found
    finally:
        stop.set()
        worker.join(10)


def test_textfile_dir_from_a_running_node_exporter(
    node_exporter_factory: Callable[[Path], NodeExporter], textfile_dir: Path
) -> None:
    """A running node_exporter's --collector.textfile.directory is found on its command line."""
    exporter = node_exporter_factory(textfile_dir)
    assert (exporter.pid, textfile_dir) in node_exporter_dirs()
    chosen = find_textfile_dir()
    assert chosen.reason.startswith("from node_exporter's --collector.textfile.directory (pid ")
    pid = int(chosen.reason.rpartition("pid ")[2].rstrip(")"))
    assert (pid, chosen.path) in node_exporter_dirs()


def test_textfile_dir_debian_default_and_fallback(tmp_path: Path) -> None:
    """With no node_exporter running, Debian's directory when it exists, else the fallback."""
    no_processes = tmp_path / "proc"
    no_processes.mkdir()
    fallback = tmp_path / "fallback"
    if DEBIAN_DIR.is_dir():
        chosen = find_textfile_dir(no_processes, fallback=fallback)
        assert (chosen.path, chosen.reason) == (DEBIAN_DIR, "Debian's default")
    chosen = find_textfile_dir(no_processes, tmp_path / "no-debian", fallback)
    assert (chosen.path, chosen.reason) == (fallback, "the fallback")


@pytest.fixture
def tls_only_servers(tmp_path: Path) -> Iterator[tuple[ManagedProcess, ManagedProcess]]:
    """Two TLS-only Redis 7.0 servers: one asking no client certificate, one requiring it."""
    _need("redis-7.0")
    binary = binary_for("redis-7.0")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)  # fmt: skip
    with contextlib.ExitStack() as running:
        started = []
        for auth in ("no", "yes"):
            port = free_port()
            argv = [str(binary), "--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1",
                    "--tls-cert-file", str(cert), "--tls-key-file", str(key),
                    "--tls-ca-cert-file", str(cert), "--tls-auth-clients", auth,
                    "--save", "", "--dir", str(tmp_path)]  # fmt: skip
            log = tmp_path / f"tls-{auth}.log"
            server = running.enter_context(ManagedProcess(spawn(argv, log), port, log))
            wait_for(partial(_connects, port), message="the TLS server never listened")
            started.append(server)
        yield started[0], started[1]


def test_a_tls_only_server_is_found_as_rediss(
    tls_only_servers: tuple[ManagedProcess, ManagedProcess],
) -> None:
    """A title shows a tls-port like a port: plain RESP is refused, TLS answers, rediss:// it is."""
    open_tls, client_cert_tls = tls_only_servers
    found = {server.addr: server for server in discover()}
    served = found[f"rediss://127.0.0.1:{open_tls.port}"]
    assert (served.kind, served.needs_credential) == ("primary", False)
    assert found[f"rediss://127.0.0.1:{client_cert_tls.port}"].needs_credential
    assert f"redis://127.0.0.1:{open_tls.port}" not in found
