"""Discovery on a fake /proc and /etc built in tmp_path, and the probe against scripted sockets."""

from __future__ import annotations

import logging
import os
import shutil
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.support.hostile import Close, Drip, Error, Flood, HostileServer, resp
from textfile_redis.config.addresses import parse_addr
from textfile_redis.config.fields import Where
from textfile_redis.discover import (
    Endpoint,
    NotRedisError,
    Probe,
    address_name,
    discover,
    node_exporter_dirs,
    probe,
    textfile_dir,
)
from textfile_redis.discover.conffile import Listening, parse

RUN_ID = "0" * 40


@dataclass
class FakeHost:
    """A /proc and /etc tree in a temp dir: processes, their socket fds, /proc/net tables."""

    root: Path
    tcp: list[str] = field(default_factory=list)
    tcp6: list[str] = field(default_factory=list)
    unix: list[str] = field(default_factory=list)

    @property
    def proc(self) -> Path:
        """The fake /proc."""
        return self.root / "proc"

    @property
    def etc(self) -> Path:
        """The fake /etc."""
        return self.root / "etc"

    def process(
        self, pid: int, comm: str, *argv: str, sockets: tuple[int, ...] = (), title: bool = True
    ) -> Path:
        """A process; a title (one argv word padded with NULs) as Redis sets it, by default."""
        base = self.proc / str(pid)
        (base / "fd").mkdir(parents=True)
        (base / "comm").write_text(comm + "\n")
        words = [" ".join(argv)] if title else list(argv)
        (base / "cmdline").write_bytes(b"\0".join(w.encode() for w in words) + b"\0" * 20)
        for fd, inode in enumerate(sockets, start=3):
            (base / "fd" / str(fd)).symlink_to(f"socket:[{inode}]")
        (base / "fd" / "0").symlink_to("/dev/null")
        return base

    def listen_tcp(self, host: str, port: int, inode: int, state: str = "0A") -> None:
        """A /proc/net/tcp or tcp6 row, addresses in the kernel's word order."""
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        raw = socket.inet_pton(family, host)
        words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
        row = (
            f"   0: {words.hex().upper()}:{port:04X} {'0' * len(words.hex())}:0000 {state} "
            f"00000000:00000000 00:00000000 00000000     0        0 {inode} 1 0 100 0 0 10 0"
        )
        (self.tcp6 if family == socket.AF_INET6 else self.tcp).append(row)

    def listen_unix(self, path: str, inode: int, flags: str = "00010000") -> None:
        """A /proc/net/unix row of a listening socket."""
        self.unix.append(f"0000000000000000: 00000002 00000000 {flags} 0001 01 {inode} {path}")

    def config(self, directory: str, name: str, text: str) -> Path:
        """A server config file under the fake /etc."""
        path = self.etc / directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path

    def write_net(self) -> None:
        """Write the /proc/net tables collected so far."""
        net = self.proc / "net"
        net.mkdir(parents=True, exist_ok=True)
        header = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt uid"
        for name, rows in (("tcp", self.tcp), ("tcp6", self.tcp6)):
            (net / name).write_text("\n".join([header, *rows]) + "\n")
        unix_header = "Num       RefCount Protocol Flags    Type St Inode Path"
        (net / "unix").write_text("\n".join([unix_header, *self.unix]) + "\n")


class FakeProber:
    """Answers for the URLs given; every other endpoint refuses the connection."""

    def __init__(self, answers: dict[str, Probe]) -> None:
        self.answers = answers
        self.asked: list[str] = []

    def __call__(self, endpoint: Endpoint, _timeout: float) -> Probe:
        """The scripted answer, or a refused connection."""
        self.asked.append(endpoint.url)
        if endpoint.url in self.answers:
            return self.answers[endpoint.url]
        raise ConnectionRefusedError(111, "Connection refused")


@pytest.fixture
def host(tmp_path: Path) -> FakeHost:
    """An empty fake host."""
    fake = FakeHost(tmp_path)
    fake.proc.mkdir()
    fake.etc.mkdir()
    return fake


def _found(host: FakeHost, answers: dict[str, Probe]) -> dict[str, tuple[str, str, bool]]:
    host.write_net()
    servers = discover(host.proc, host.etc, prober=FakeProber(answers))
    return {server.addr: (server.name, server.kind, server.needs_credential) for server in servers}


PRIMARY = Probe("primary", None)


@pytest.mark.parametrize(
    ("comm", "title", "addr", "kind"),
    [
        ("redis-server", "/usr/bin/redis-server 127.0.0.1:6379", "redis://127.0.0.1:6379", None),
        ("valkey-server", "valkey-server *:6380", "redis://127.0.0.1:6380", None),
        ("keydb-server", "keydb-server 0.0.0.0:6381", "redis://127.0.0.1:6381", None),
        ("redis-server", "redis-server ::1:6382", "redis://[::1]:6382", None),
        ("redis-server", "redis-server [::]:6383", "redis://[::1]:6383", None),
        ("redis-server", "redis-server 10.1.2.3:6384", "redis://10.1.2.3:6384", None),
        ("redis-sentinel", "redis-sentinel *:26379 [sentinel]", "redis://127.0.0.1:26379",
         "sentinel"),
        ("valkey-sentinel", "valkey-sentinel *:26380", "redis://127.0.0.1:26380", "sentinel"),
        ("redis-server", "redis-server *:7000 [cluster]", "redis://127.0.0.1:7000",
         "cluster node"),
        ("valkey-server", "valkey-server unixsocket:/run/valkey/valkey.sock",
         "unix:///run/valkey/valkey.sock", None),
        ("python3", "/opt/redis-server *:6385", "redis://127.0.0.1:6385", None),
    ],
)  # fmt: skip
def test_titles_of_every_kind(
    host: FakeHost, comm: str, title: str, addr: str, kind: str | None
) -> None:
    """Each program's title gives its address (wildcards over loopback) and its kind hint."""
    host.process(100, comm, title)
    found = _found(host, {addr: Probe("unknown", needs_credential=True)})
    assert list(found) == [addr]
    assert found[addr][1] == (kind or "unknown")


def test_other_programs_are_not_probed(host: FakeHost) -> None:
    """A process of another name is never probed, whatever its title shows."""
    host.process(100, "python3", "python3 app.py 127.0.0.1:6379")
    host.process(101, "redis-cli", "redis-cli -p 6379")
    host.write_net()
    prober = FakeProber({})
    assert discover(host.proc, host.etc, prober=prober) == []
    assert prober.asked == []


def test_renamed_title_found_through_sockets(host: FakeHost) -> None:
    """A title renamed by proc-title-template is found from the process's listening sockets."""
    host.process(100, "redis-server", "cache-for-shop", sockets=(11, 12, 13, 14, 15))
    host.listen_tcp("0.0.0.0", 7001, 11)  # noqa: S104 - a wildcard the server binds
    host.listen_tcp("::", 7001, 12)
    host.listen_tcp("0.0.0.0", 17001, 13)  # noqa: S104 - its cluster bus: not probed
    host.listen_unix("/run/shop/cache.sock", 14)
    host.listen_tcp("127.0.0.1", 5555, 99)  # another process's socket
    host.listen_tcp("127.0.0.1", 7002, 15, state="01")  # a connection, not a listener
    host.write_net()
    prober = FakeProber({"redis://127.0.0.1:7001": Probe("primary", RUN_ID),
                         "unix:///run/shop/cache.sock": Probe("primary", RUN_ID)})  # fmt: skip
    [server] = discover(host.proc, host.etc, prober=prober)
    assert (server.name, server.addr, server.kind) == ("7001", "redis://127.0.0.1:7001", "primary")
    assert server.other_addrs == ("unix:///run/shop/cache.sock",)
    assert server.found_by == ("socket (pid 100)",)
    assert sorted(prober.asked) == ["redis://127.0.0.1:7001", "unix:///run/shop/cache.sock"]


def test_sockets_are_read_from_proc_self_net_which_procsubset_pid_keeps(host: FakeHost) -> None:
    """/proc/self/net is read first: systemd's ProcSubset=pid hides /proc/net but not it."""
    host.process(100, "redis-server", "cache-for-shop", sockets=(11,))
    host.listen_tcp("127.0.0.1", 7001, 11)
    host.write_net()
    (host.proc / "self").mkdir()
    (host.proc / "net").rename(host.proc / "self" / "net")
    prober = FakeProber({"redis://127.0.0.1:7001": PRIMARY})
    [server] = discover(host.proc, host.etc, prober=prober)
    assert (server.addr, server.found_by) == ("redis://127.0.0.1:7001", ("socket (pid 100)",))


def test_a_server_on_a_unix_socket_is_named_after_the_socket(host: FakeHost) -> None:
    """A unix-socket-only server is named from its socket's file name, without `.sock`."""
    host.process(100, "redis-server", "redis-server unixsocket:/run/redis/redis-server.sock")
    found = _found(host, {"unix:///run/redis/redis-server.sock": PRIMARY})
    assert found == {"unix:///run/redis/redis-server.sock": ("redis-server", "primary", False)}


def test_colliding_names_become_full_names(host: FakeHost) -> None:
    """Two sockets of one file name, or one port on two addresses, get the names of their paths."""
    host.process(100, "redis-server", "redis-server unixsocket:/srv/a/redis.sock")
    host.process(101, "redis-server", "redis-server unixsocket:/srv/b/redis.sock")
    host.process(102, "redis-server", "redis-server 127.0.0.1:6379")
    host.process(103, "redis-server", "redis-server 10.0.0.5:6379")
    urls = ["unix:///srv/a/redis.sock", "unix:///srv/b/redis.sock", "redis://127.0.0.1:6379",
            "redis://10.0.0.5:6379"]  # fmt: skip
    found = _found(host, {url: Probe("primary", str(n)) for n, url in enumerate(urls)})
    assert {addr: name for addr, (name, _, _) in found.items()} == {
        "unix:///srv/a/redis.sock": "srv_a_redis_sock",
        "unix:///srv/b/redis.sock": "srv_b_redis_sock",
        "redis://127.0.0.1:6379": "127_0_0_1_6379",
        "redis://10.0.0.5:6379": "10_0_0_5_6379",
    }


@pytest.mark.parametrize(
    "addr",
    [
        "redis://[::1]:6380",
        "redis://127.0.0.1:6379",
        "rediss://cache.example:7000",
        "unix:///run/redis/redis server.sock",
    ],
)
def test_a_colliding_server_is_named_as_the_config_file_would_name_its_address(addr: str) -> None:
    """Discovery's full name for an address is the name a configured target of it gets."""
    assert address_name(addr) == parse_addr(addr, Where("config.toml", "target[0]"), "addr").name


def test_an_impostor_that_does_not_answer_redis_is_dropped_with_one_debug_line(
    host: FakeHost, caplog: pytest.LogCaptureFixture
) -> None:
    """A process named redis-server whose port does not speak RESP is left out, logged once."""
    host.process(100, "python3", "redis-server", "-c", "serve()", sockets=(11,), title=False)
    host.listen_tcp("127.0.0.1", 6390, 11)
    host.write_net()

    def not_redis(endpoint: Endpoint, _timeout: float) -> Probe:
        raise NotRedisError(f"{endpoint.url} answered 'HTTP/1.0 400'")

    with caplog.at_level(logging.DEBUG, logger="textfile_redis"):
        assert discover(host.proc, host.etc, prober=not_redis) == []
    lines = [r.getMessage() for r in caplog.records if "redis://127.0.0.1:6390" in r.getMessage()]
    assert len(lines) == 1
    assert caplog.records[-1].levelno == logging.DEBUG


@pytest.mark.parametrize(
    ("text", "addrs"),
    [
        ("port 7100\nbind *\n", ["redis://127.0.0.1:7100"]),
        ("port 7100\nbind 0.0.0.0\n", ["redis://127.0.0.1:7100"]),
        ("port 7100\nbind ::\n", ["redis://[::1]:7100"]),
        ("port 7100\nbind 10.0.0.5 -::1 127.0.0.1\n", ["redis://127.0.0.1:7100"]),
        ("port 7100\nbind 10.0.0.5\n", ["redis://10.0.0.5:7100"]),
        ("port 0\ntls-port 7101\n", ["rediss://127.0.0.1:7101"]),
        ("port 0\nunixsocket /run/redis/cache.sock\n", ["unix:///run/redis/cache.sock"]),
        (
            'port 0\nunixsocket "/run/redis/with space.sock"\n',
            ["unix:///run/redis/with space.sock"],
        ),
        ("# the default port\nbind 127.0.0.1\n", ["redis://127.0.0.1:6379"]),
        ("sentinel monitor m 127.0.0.1 6379 2\n", ["redis://127.0.0.1:26379"]),
        ("port 0\n", []),
    ],
)
def test_config_files_give_port_bind_tls_port_and_unixsocket(
    host: FakeHost, text: str, addrs: list[str]
) -> None:
    """A server config's listening directives become addresses; wildcards go over loopback."""
    host.config("redis", "a.conf", text)
    found = _found(host, dict.fromkeys(addrs, PRIMARY))
    assert sorted(found) == sorted(addrs)


def test_malformed_config_lines_are_skipped() -> None:
    """Unbalanced quotes, non-numbers, out-of-range ports and binary noise leave the rest intact."""
    text = 'port "7100\nport abc\nport 99999\ntls-port -1\n\x00\xff garbage\nbind\nport 7200\n'
    assert parse(text) == Listening(port=7200, binds=())


def test_passwords_are_not_read() -> None:
    """requirepass, masterauth and user lines change nothing that discovery reads."""
    config_text = (
        "port 7100\nrequirepass hunter2\nmasterauth hunter2\nuser default on >hunter2 ~* +@all\n"
    )
    assert parse(config_text) == parse("port 7100\n")
    assert "hunter2" not in repr(parse(config_text))


def test_unreadable_entries_and_a_vanished_process_leave_the_rest_discovered(
    host: FakeHost,
) -> None:
    """A FIFO config, a directory cmdline, an fd file, a half-gone process: the rest is found."""
    host.process(100, "redis-server", "redis-server *:6379")
    gone = host.process(101, "redis-server", "redis-server *:6390")
    (gone / "cmdline").unlink()  # exited between the listing and the read
    (host.proc / "102").mkdir()  # exited, only the directory left
    odd = host.process(103, "redis-server", "redis-server *:6391")
    shutil.rmtree(odd / "fd")
    (odd / "fd").write_text("not a directory")
    strange = host.process(104, "redis-server", "x")
    (strange / "cmdline").unlink()
    (strange / "cmdline").mkdir()
    (host.proc / "105").symlink_to(host.root / "nowhere")
    (host.etc / "redis").mkdir()
    os.mkfifo(host.etc / "redis" / "fifo.conf")  # would block a plain open()
    host.config("redis", "bad.conf", 'port "unbalanced\n\x00\x01\x02\n')
    host.config("valkey", "ok.conf", "port 6392\n")
    found = _found(host, {"redis://127.0.0.1:6379": PRIMARY, "redis://127.0.0.1:6391": PRIMARY,
                          "redis://127.0.0.1:6392": PRIMARY})  # fmt: skip
    assert sorted(found) == [
        "redis://127.0.0.1:6379",
        "redis://127.0.0.1:6391",
        "redis://127.0.0.1:6392",
    ]


def test_missing_net_tables_leave_titles_and_configs(host: FakeHost) -> None:
    """Without /proc/net (another namespace, a hardened unit) titles still find servers."""
    host.process(100, "redis-server", "redis-server *:6379", sockets=(11,))
    found = discover(host.proc, host.etc, prober=FakeProber({"redis://127.0.0.1:6379": PRIMARY}))
    assert [server.addr for server in found] == ["redis://127.0.0.1:6379"]


def test_untitled_command_line_gives_its_config_file_and_options(
    host: FakeHost, tmp_path: Path
) -> None:
    """With set-proc-title no, argv's config file (relative to the cwd) and options are read."""
    workdir = tmp_path / "srv"
    workdir.mkdir()
    (workdir / "cache.conf").write_text("port 6400\nunixsocket /run/cache.sock\n")
    base = host.process(100, "redis-server", "redis-server", "cache.conf", "--port", "6401",
                        title=False)  # fmt: skip
    (base / "cwd").symlink_to(workdir)
    found = _found(host, {"redis://127.0.0.1:6401": PRIMARY, "unix:///run/cache.sock": PRIMARY})
    assert found == {"redis://127.0.0.1:6401": ("6401", "primary", False)}


def test_unreadable_argv_config_assumes_no_default_port(host: FakeHost) -> None:
    """A config file named on argv that cannot be read gives no guessed port 6379."""
    host.process(100, "redis-server", "redis-server", "/nonexistent/x.conf", title=False)
    host.write_net()
    prober = FakeProber({})
    assert discover(host.proc, host.etc, prober=prober) == []
    assert prober.asked == []


def test_endpoints_of_one_server_merge_by_run_id(host: FakeHost) -> None:
    """A title and a config file naming one server's port and socket list it once."""
    host.process(100, "redis-server", "redis-server 127.0.0.1:6379")
    path = host.config("redis", "redis.conf", "port 6379\nunixsocket /run/redis/redis.sock\n")
    same = Probe("replica", RUN_ID)
    found = discover(host.proc, host.etc, prober=FakeProber(
        {"redis://127.0.0.1:6379": same, "unix:///run/redis/redis.sock": same}))  # fmt: skip
    [server] = found
    assert (server.name, server.kind) == ("6379", "replica")
    assert server.found_by == (f"config {path}", "title (pid 100)")
    assert server.other_addrs == ("unix:///run/redis/redis.sock",)


def test_needing_a_credential_keeps_the_title_kind(host: FakeHost) -> None:
    """A -NOAUTH server is listed as needing a credential, its kind taken from its title."""
    host.process(100, "redis-server", "redis-server *:26379 [sentinel]")
    found = _found(host, {"redis://127.0.0.1:26379": Probe("unknown", needs_credential=True)})
    assert found == {"redis://127.0.0.1:26379": ("26379", "sentinel", True)}


def _answering(ping: bytes | Drip | Flood | Close) -> HostileServer:
    return HostileServer(
        {
            "PING": ping,
            "INFO": lambda words: resp(f"# {words[1]}\r\nrole:slave\r\nredis_mode:standalone\r\n"),
        }
    )


@pytest.mark.parametrize(
    ("ping", "expected"),
    [
        (b"+PONG\r\n", Probe("replica")),
        (resp(Error("NOAUTH Authentication required.")), Probe("unknown", needs_credential=True)),
        (resp(Error("WRONGPASS invalid username-password pair")),
         Probe("unknown", needs_credential=True)),
        (resp(Error("LOADING Redis is loading the dataset in memory")), Probe("replica")),
    ],
)  # fmt: skip
def test_probe_reads_redis_answers(ping: bytes, expected: Probe) -> None:
    """PONG, NOAUTH, WRONGPASS and LOADING are Redis; INFO gives the kind."""
    with _answering(ping) as server:
        assert probe(Endpoint("127.0.0.1", server.port), 2.0) == expected


@pytest.mark.parametrize(
    "ping",
    [b"HTTP/1.0 400 Bad Request\r\n", b":1\r\n", Close(), Flood(b"+", b"x" * 4096)],
    ids=["http", "wrong-shape", "close", "flood"],
)
def test_probe_refuses_what_is_not_redis(ping: bytes | Close | Flood) -> None:
    """Another protocol, a wrong shape, a hang-up or an endless line is not Redis."""
    with _answering(ping) as server, pytest.raises(NotRedisError):
        probe(Endpoint("127.0.0.1", server.port), 2.0)


def test_probe_keeps_its_deadline_against_a_drip() -> None:
    """A server dripping its reply byte by byte costs the probe its timeout, no more."""
    with _answering(Drip(b"+PONG\r\n", every=0.2)) as server:
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            probe(Endpoint("127.0.0.1", server.port), 0.3)
        assert time.monotonic() - started < 1.0


def test_probe_of_nothing_listening_raises_oserror() -> None:
    """A refused connection is an OSError, which discovery logs and drops."""
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    with pytest.raises(OSError, match="refused"):
        probe(Endpoint("127.0.0.1", port), 1.0)


def test_textfile_dir_from_node_exporters_flag(host: FakeHost, tmp_path: Path) -> None:
    """--flag=value, --flag value, a truncated comm and a relative path all give the directory."""
    host.process(300, "prometheus-node", "/usr/bin/prometheus-node-exporter",
                 "--collector.textfile.directory=/var/lib/a", title=False)  # fmt: skip
    host.process(200, "node_exporter", "node_exporter", "--collector.textfile.directory",
                 "/var/lib/b", title=False)  # fmt: skip
    base = host.process(400, "node_exporter", "node_exporter",
                        "--collector.textfile.directory=rel", title=False)  # fmt: skip
    (base / "cwd").symlink_to(tmp_path)
    host.process(100, "node_exporter", "node_exporter", "--web.listen-address=:9100", title=False)
    assert node_exporter_dirs(host.proc) == [
        (200, Path("/var/lib/b")),
        (300, Path("/var/lib/a")),
        (400, tmp_path / "rel"),
    ]
    chosen = textfile_dir(host.proc, tmp_path / "debian", tmp_path / "fallback")
    assert (str(chosen.path), chosen.reason) == (
        "/var/lib/b",
        "from node_exporter's --collector.textfile.directory (pid 200)",
    )


def test_a_node_exporter_any_user_could_start_chooses_nothing(
    host: FakeHost, tmp_path: Path
) -> None:
    """A node_exporter run by an ordinary user names no directory: ours stays Debian's."""
    base = host.process(150, "node_exporter", "node_exporter",
                        "--collector.textfile.directory=/tmp/theirs", title=False)  # fmt: skip
    os.chown(base, 1000, 1000)
    assert node_exporter_dirs(host.proc) == []
    (tmp_path / "debian").mkdir()
    assert textfile_dir(host.proc, tmp_path / "debian", tmp_path / "fallback").reason == (
        "Debian's default"
    )


def test_textfile_dir_debian_default_then_fallback(host: FakeHost, tmp_path: Path) -> None:
    """Without node_exporter: Debian's directory when it exists, else the fallback."""
    debian, fallback = tmp_path / "debian", tmp_path / "fallback"
    assert textfile_dir(host.proc, debian, fallback).reason == "the fallback"
    assert textfile_dir(host.proc, debian, fallback).path == fallback
    debian.mkdir()
    assert textfile_dir(host.proc, debian, fallback).reason == "Debian's default"
    assert textfile_dir(host.proc, debian, fallback).path == debian


def test_a_port_that_hangs_up_on_resp_is_tried_over_tls(host: FakeHost) -> None:
    """A title's port that resets plain RESP but answers over TLS is listed as rediss://."""
    host.process(100, "redis-server", "redis-server 127.0.0.1:6380")
    host.write_net()

    def tls_only(endpoint: Endpoint, _timeout: float) -> Probe:
        if not endpoint.tls:
            raise ConnectionResetError(104, "Connection reset by peer")
        return PRIMARY

    [server] = discover(host.proc, host.etc, prober=tls_only)
    assert (server.name, server.addr) == ("6380", "rediss://127.0.0.1:6380")
