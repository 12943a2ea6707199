"""A loopback TCP proxy that delays each direction and counts round trips, for the benchmarks.

Run as its own process, so that its CPU time is charged to neither side of a comparison:

    python -m bench.proxy --upstream-port 6379 --delay-ms 10

It listens on a free loopback port and prints `listening PORT` once bound. Each line `stats` on
stdin is answered with one JSON line of counters; end of stdin stops it.

A round trip is a burst of client writes followed by a server reply: the count goes up when the
client sends after the server last spoke (or first, on a new connection), so a pipeline of ten
commands is one round trip and ten commands sent one by one are ten. Every chunk is held back
`delay` before it is passed on, in each direction, and a new connection's first bytes wait a
further two delays, the TCP handshake a real network would cost.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

LOOPBACK = "127.0.0.1"
CHUNK = 65536
# Each direction is a queue of (deliver_at, data); None closes that side after the data before it.
_Item = tuple[float, bytes] | None


@dataclass(slots=True)
class Counters:
    """What the proxy saw since it started; the benchmarks subtract two snapshots."""

    connections: int = 0
    round_trips: int = 0
    bytes_to_server: int = 0
    bytes_to_client: int = 0


class _Exchange:
    """Which side of one connection spoke last, to tell a new round trip from more of the same."""

    def __init__(self, counters: Counters) -> None:
        self._counters = counters
        self._client_speaking = False

    def client_sent(self, size: int) -> None:
        if not self._client_speaking:
            self._counters.round_trips += 1
            self._client_speaking = True
        self._counters.bytes_to_server += size

    def server_sent(self, size: int) -> None:
        self._client_speaking = False
        self._counters.bytes_to_client += size


class Proxy:
    """Relays every accepted connection to one upstream port, late by `delay` each way."""

    def __init__(self, upstream_port: int, delay: float) -> None:
        self.upstream_port = upstream_port
        self.delay = delay
        self.counters = Counters()

    async def handle(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        """Relay one client connection until either side closes."""
        self.counters.connections += 1
        loop = asyncio.get_running_loop()
        # The client's connect() returned at once; its handshake is paid on the first bytes.
        handshake_done = loop.time() + 2 * self.delay
        try:
            server_r, server_w = await asyncio.open_connection(LOOPBACK, self.upstream_port)
        except OSError:
            client_w.close()
            return
        exchange = _Exchange(self.counters)
        await asyncio.gather(
            self._direction(client_r, server_w, exchange.client_sent, handshake_done),
            self._direction(server_r, client_w, exchange.server_sent, 0.0),
        )

    async def _direction(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        count: Callable[[int], None],
        not_before: float,
    ) -> None:
        queue: asyncio.Queue[_Item] = asyncio.Queue()
        delivery = asyncio.create_task(_deliver(queue, writer, not_before))
        loop = asyncio.get_running_loop()
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(CHUNK):
                count(len(data))
                queue.put_nowait((loop.time() + self.delay, data))
        queue.put_nowait(None)
        await delivery


async def _deliver(
    queue: asyncio.Queue[_Item], writer: asyncio.StreamWriter, not_before: float
) -> None:
    """Write each chunk once its time has come, in order; close the writer at the end."""
    loop = asyncio.get_running_loop()
    try:
        while (item := await queue.get()) is not None:
            deliver_at, data = item
            wait = max(deliver_at, not_before) - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


async def _answer_stats(proxy: Proxy) -> None:
    """Print the counters for every `stats` line on stdin; return at end of stdin."""
    loop = asyncio.get_running_loop()
    stdin = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)
    while line := await stdin.readline():
        if line.strip() == b"stats":
            print(json.dumps(asdict(proxy.counters)), flush=True)


async def serve(upstream_port: int, delay_ms: float) -> None:
    """Listen on a free loopback port, say which, and relay until stdin ends."""
    proxy = Proxy(upstream_port, delay_ms / 1000)
    server = await asyncio.start_server(proxy.handle, LOOPBACK, 0)
    port = server.sockets[0].getsockname()[1]
    print(f"listening {port}", flush=True)
    async with server:
        await _answer_stats(proxy)


def main() -> None:
    """Parse the options and serve."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upstream-port", type=int, required=True)
    parser.add_argument("--delay-ms", type=float, default=0.0, help="added to each direction")
    args = parser.parse_args()
    asyncio.run(serve(args.upstream_port, args.delay_ms))


if __name__ == "__main__":
    main()
