"""What one scrape may spend, a deadline and a byte cap, enforced on the socket itself."""

from __future__ import annotations

import math
import time
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import socket
    from collections.abc import Callable, Iterator


class OverBudgetError(OSError):
    """The server sent more than the scrape may read: the connection must be dropped."""


class Allowance:
    """Time until a scrape's deadline and bytes until its cap, renewed for every scrape.

    Checked on every socket operation, so that a server that drips its reply one byte a second,
    or streams a reply without end, is cut off at the deadline or the cap: a timeout on each
    read alone would let it go on for as long as it keeps sending.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._deadline = math.inf
        self._bytes_left = math.inf
        self.seconds = math.inf
        self.max_bytes = math.inf
        self.exceeded: str | None = None  # what ran out, once something has

    def renew(self, seconds: float, max_bytes: float) -> None:
        """Start a new scrape: `seconds` from now, and `max_bytes` to read."""
        self.seconds, self.max_bytes = seconds, max_bytes
        self._deadline = self._clock() + seconds
        self._bytes_left = max_bytes
        self.exceeded = None

    def seconds_left(self) -> float:
        """Time left; raises TimeoutError, as a socket would, once the deadline has passed."""
        left = self._deadline - self._clock()
        if left <= 0:
            self.note_timeout()
            raise TimeoutError(self.exceeded)  # what socket.timeout is
        return left

    def note_timeout(self) -> None:
        """A socket timed out: say so in the deadline's words when it was the deadline."""
        if self._clock() >= self._deadline:
            self.exceeded = f"no complete reply within the timeout ({self.seconds:g}s)"

    def bytes_left(self) -> float:
        """Bytes the scrape may still read."""
        return self._bytes_left

    def spend(self, count: int) -> None:
        """Count bytes read; raises OverBudgetError once the cap is passed."""
        self._bytes_left -= count
        if self._bytes_left < 0:
            self.exceeded = (
                f"the server sent more than max_scrape_bytes ({self.max_bytes:.0f} bytes)"
            )
            raise OverBudgetError(self.exceeded)


class BoundedSocket:
    """A connected socket whose reads and writes stop at the allowance's deadline and cap.

    Everything else is the wrapped socket's own. A timeout the client library asks for is
    kept, but never allowed past the deadline.
    """

    def __init__(self, sock: socket.socket, allowance: Allowance) -> None:
        self._sock = sock
        self._allowance = allowance
        self._timeout = sock.gettimeout()

    def __getattr__(self, name: str) -> Any:  # noqa: ANN401 - whatever the socket has
        return getattr(self._sock, name)

    def settimeout(self, timeout: float | None) -> None:
        """Remember the timeout asked for; each operation applies it under the deadline."""
        self._timeout = timeout

    def gettimeout(self) -> float | None:
        """The timeout asked for, as a socket would say it."""
        return self._timeout

    # Arguments pass through as given: an SSL socket refuses flags it was not given.
    def recv(self, size: int, *flags: int) -> bytes:
        """Read, within the deadline and the cap."""
        with self._armed():
            data = self._sock.recv(size, *flags)
        self._allowance.spend(len(data))
        return data

    def recv_into(self, buffer: Any, *sizes_and_flags: int) -> int:  # noqa: ANN401 - any writable buffer
        """Read into a buffer, within the deadline and the cap."""
        with self._armed():
            count = self._sock.recv_into(buffer, *sizes_and_flags)
        self._allowance.spend(count)
        return count

    def sendall(self, data: Any, *flags: int) -> None:  # noqa: ANN401 - any bytes-like
        """Send, within the deadline: a server that stops reading cannot hold us either."""
        with self._armed():
            self._sock.sendall(data, *flags)

    @contextmanager
    def _armed(self) -> Iterator[None]:
        """The socket's timeout for one operation: the one asked for, cut at the deadline."""
        left = self._allowance.seconds_left()
        asked = self._timeout
        self._sock.settimeout(left if asked is None else min(asked, left))
        try:
            yield
        except TimeoutError:
            self._allowance.note_timeout()
            raise
