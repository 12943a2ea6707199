"""A probe of one endpoint over plain RESP2: is it Redis, which kind, does it need a credential.

A raw socket rather than redis-py: the probe runs before any target exists, needs one deadline
for connect, TLS and all replies, must read `-NOAUTH` as an answer rather than an exception, and
keeps scrape.py the only redis importer. Three inline commands need twenty lines of RESP2.
"""

from __future__ import annotations

import socket
import ssl
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

TIMEOUT_S = 0.5
REPLY_MAX = 1 << 16  # INFO server and replication are a few KiB
# PING, then two sections one at a time: Redis 6.2 refuses several sections in one INFO.
REQUEST = b"".join(
    b"*%d\r\n%s" % (len(words), b"".join(b"$%d\r\n%s\r\n" % (len(w), w) for w in words))
    for words in ((b"PING",), (b"INFO", b"server"), (b"INFO", b"replication"))
)
CREDENTIAL_ERRORS = ("-NOAUTH", "-WRONGPASS", "-NOPERM")
REDIS_ERRORS = (*CREDENTIAL_ERRORS, "-LOADING", "-BUSY", "-MASTERDOWN", "-ERR")
ROLES = {"master": "primary", "primary": "primary", "slave": "replica", "replica": "replica"}
MODES = {"sentinel": "sentinel", "cluster": "cluster node"}
UNKNOWN = "unknown"
HANG_UPS = (ConnectionResetError, BrokenPipeError, ssl.SSLEOFError, ssl.SSLZeroReturnError)


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where to connect: a TCP host and port (TLS or not) or a unix socket path."""

    host: str = ""
    port: int = 0
    path: str = ""
    tls: bool = False

    @property
    def url(self) -> str:
        """The address as the configuration writes it, normalised."""
        if self.path:
            return f"unix://{self.path}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'rediss' if self.tls else 'redis'}://{host}:{self.port}"


@dataclass(frozen=True, slots=True)
class Probe:
    """What a server said: its kind, its run_id (to tell servers apart), whether it wants auth."""

    kind: str
    run_id: str | None = None
    needs_credential: bool = False


class NotRedisError(Exception):
    """The endpoint answered, but not as Redis does."""


class HungUpError(NotRedisError):
    """The endpoint closed the connection before answering."""


def probe(endpoint: Endpoint, timeout: float = TIMEOUT_S) -> Probe:
    """Ask the endpoint; raise OSError or NotRedisError when it is not a Redis server."""
    deadline = time.monotonic() + timeout
    try:
        with _connect(endpoint, deadline) as conn:
            try:
                conn.sendall(REQUEST)
                return _classify(_Reader(conn, deadline))
            except (*HANG_UPS, HungUpError):
                # After a TLS handshake, Redis drops a client without a certificate; the alert
                # saying so races the reset.
                if endpoint.tls:
                    return Probe(UNKNOWN, needs_credential=True)
                raise
    except ssl.SSLError as exc:
        if "CERTIFICATE" in str(exc.reason or ""):  # it speaks TLS and wants a client certificate
            return Probe(UNKNOWN, needs_credential=True)
        raise


def _connect(endpoint: Endpoint, deadline: float) -> socket.socket:
    if endpoint.path:
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            conn.settimeout(_left(deadline))
            conn.connect(endpoint.path)
        except BaseException:
            conn.close()
            raise
        return conn
    conn = socket.create_connection((endpoint.host, endpoint.port), timeout=_left(deadline))
    if not endpoint.tls:
        return conn
    # Only to learn whether it is Redis: no secret is sent, so the peer is not verified.
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    conn.settimeout(_left(deadline))
    return context.wrap_socket(conn)


def _left(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("probe deadline passed")
    return left


def _classify(reader: _Reader) -> Probe:
    pong = reader.line()
    if pong.startswith(CREDENTIAL_ERRORS):
        return Probe(UNKNOWN, needs_credential=True)
    if pong != "+PONG" and not pong.startswith(REDIS_ERRORS):
        raise NotRedisError(f"PING answered {pong[:40]!r}")
    server, replication = _fields(reader.reply()), _fields(reader.reply())
    mode = MODES.get(server.get("redis_mode", ""))
    kind = mode or ROLES.get(replication.get("role", ""), UNKNOWN)
    return Probe(kind, server.get("run_id"))


def _fields(info: str | None) -> dict[str, str]:
    if info is None:
        return {}
    pairs = (line.partition(":") for line in info.splitlines() if not line.startswith("#"))
    return {key: value.strip() for key, sep, value in pairs if sep}


class _Reader:
    """RESP2 replies from a socket, under one deadline and a byte cap."""

    def __init__(self, conn: socket.socket, deadline: float) -> None:
        self._conn = conn
        self._deadline = deadline
        self._buffer = b""
        self._read = 0

    def line(self) -> str:
        """The next CRLF-terminated line, without the CRLF."""
        return self._until(lambda: self._buffer.find(b"\r\n"), 2).decode("utf-8", "replace")

    def reply(self) -> str | None:
        """A bulk string's text; None for an error or a nil reply; NotRedisError otherwise."""
        header = self.line()
        if header.startswith("-"):
            return None
        if not header.startswith("$") or not header[1:].lstrip("-").isdigit():
            raise NotRedisError(f"expected a bulk string, got {header[:40]!r}")
        size = int(header[1:])
        if size < 0:
            return None
        body = self._until(lambda: size if len(self._buffer) >= size + 2 else -1, 2)
        return body.decode("utf-8", "replace")

    def _until(self, end: Callable[[], int], skip: int) -> bytes:
        while (at := end()) < 0:
            self._fill()
        found, self._buffer = self._buffer[:at], self._buffer[at + skip :]
        return found

    def _fill(self) -> None:
        if self._read >= REPLY_MAX:
            raise NotRedisError(f"more than {REPLY_MAX} bytes")
        self._conn.settimeout(_left(self._deadline))
        chunk = self._conn.recv(REPLY_MAX - self._read)
        if not chunk:
            raise HungUpError("closed the connection")
        self._read += len(chunk)
        self._buffer += chunk
