"""A hostile RESP server on a real loopback socket: drips, floods, wrong shapes, as a test says.

It answers like a Redis 7.0 primary (the recorded replies) unless a test scripts a command
otherwise, so that one misbehaving reply is tested with everything else as a real server sends
it. Each connection gets a thread; stop() closes every socket, which ends every drip and flood.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping
    from types import TracebackType

    from typing_extensions import Self

RECORDED = Path(__file__).resolve().parents[1] / "fixtures" / "replies" / "redis-7.0-primary.json"
# Commands a scrape sends, by their first words, to the recorded reply they get.
_RECORDED_FOR = {
    "INFO": "info",
    "CONFIG GET": "config",
    "SLOWLOG LEN": "slowlog_len",
    "SLOWLOG GET": "slowlog_get",
    "LATENCY LATEST": "latency_latest",
    "LATENCY HISTOGRAM": "latency_histogram",
}
_FLOOD_LIMIT = 1 << 30  # a flood ends by itself after 1 GiB, should a client never hang up


def resp(value: object) -> bytes:
    """A value in RESP2: str as a bulk string, int, list, None as a nil bulk, Error as error."""
    if isinstance(value, Error):
        return f"-{value.message}\r\n".encode()
    if isinstance(value, bool):
        value = int(value)
    if isinstance(value, int):
        return f":{value}\r\n".encode()
    if value is None:
        return b"$-1\r\n"
    if isinstance(value, (str, bytes)):
        data = value.encode() if isinstance(value, str) else value
        return b"$%d\r\n%s\r\n" % (len(data), data)
    if isinstance(value, list):
        return b"*%d\r\n" % len(value) + b"".join(resp(item) for item in value)
    msg = f"no RESP form for {value!r}"
    raise TypeError(msg)


@dataclass(frozen=True, slots=True)
class Error:
    """An error reply, as RESP sends it: '-' and the message."""

    message: str


@dataclass(frozen=True, slots=True)
class Drip:
    """Send these bytes one at a time, `every` seconds apart."""

    data: bytes
    every: float = 0.2


@dataclass(frozen=True, slots=True)
class Flood:
    """Send a header, then repeat a chunk for as long as the client reads (1 GiB at most)."""

    header: bytes
    chunk: bytes


@dataclass(frozen=True, slots=True)
class Hang:
    """Read the command, never answer."""


@dataclass(frozen=True, slots=True)
class Close:
    """Close the connection instead of answering."""


Answer = bytes | Drip | Flood | Hang | Close


def recorded_replies() -> dict[str, Any]:
    """The Redis 7.0 primary's recorded replies, by reply name."""
    replies: dict[str, Any] = json.loads(RECORDED.read_text())["replies"]
    return replies


class HostileServer:
    """A RESP server on 127.0.0.1 answering each command as `script` says, else as Redis 7.0.

    script maps a command's first word or two ("INFO", "CONFIG GET") to an Answer, or to a
    callable taking the command's words and returning one.
    """

    def __init__(self, script: Mapping[str, Answer | Callable[[list[str]], Answer]]) -> None:
        self.script = dict(script)
        self._recorded = recorded_replies()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._clients: list[socket.socket] = []
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self.commands: list[list[str]] = []  # every command received, in order
        self.connections = 0
        threading.Thread(target=self._accept, daemon=True, name="hostile-accept").start()

    @property
    def addr(self) -> str:
        """The address a target gives for this server."""
        return f"redis://127.0.0.1:{self.port}"

    def stop(self) -> None:
        """Close the listener and every connection: drips and floods end at once."""
        self._stopped.set()
        self._listener.close()
        with self._lock:
            for client in self._clients:
                with contextlib.suppress(OSError):
                    client.shutdown(socket.SHUT_RDWR)
                client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                self._clients.append(client)
                self.connections += 1
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        with contextlib.suppress(OSError, ValueError), client.makefile("rb") as reader:
            for words in _commands(reader):
                self.commands.append(words)
                if not self._answer(client, self._answer_for(words)):
                    return

    def _answer_for(self, words: list[str]) -> Answer:
        keys = (" ".join(words[:2]).upper(), words[0].upper())
        for key in keys:
            if key in self.script:
                scripted = self.script[key]
                return scripted(words) if callable(scripted) else scripted
        for key in keys:
            if key in _RECORDED_FOR:
                return resp(self._recorded[_RECORDED_FOR[key]])
        return resp(Error(f"ERR unknown command '{words[0]}'"))

    def _answer(self, client: socket.socket, answer: Answer) -> bool:
        """Send the answer; False when the connection is over."""
        if isinstance(answer, bytes):
            client.sendall(answer)
        elif isinstance(answer, Drip):
            self._drip(client, answer)
        elif isinstance(answer, Flood):
            self._flood(client, answer)
        elif isinstance(answer, Hang):
            self._stopped.wait()
            return False
        else:
            client.close()
            return False
        return True

    def _drip(self, client: socket.socket, drip: Drip) -> None:
        for index in range(len(drip.data)):
            if self._stopped.wait(drip.every):
                return
            client.sendall(drip.data[index : index + 1])

    def _flood(self, client: socket.socket, flood: Flood) -> None:
        client.sendall(flood.header)
        sent = 0
        while sent < _FLOOD_LIMIT and not self._stopped.is_set():
            client.sendall(flood.chunk)
            sent += len(flood.chunk)


def _commands(reader: BinaryIO) -> Iterator[list[str]]:
    """Commands as clients send them: arrays of bulk strings."""
    while line := reader.readline():
        if not line.startswith(b"*"):
            continue
        words = []
        for _ in range(int(line[1:])):
            length = int(reader.readline()[1:])
            words.append(reader.read(length + 2)[:-2].decode(errors="replace"))
        yield words
