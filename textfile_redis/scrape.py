"""Scrape: the only module that talks to Redis; one pipelined round trip in, plain replies out."""

from __future__ import annotations

import logging
import ssl
import time
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import redis
from redis.backoff import NoBackoff
from redis.connection import (
    AbstractConnection,
    Connection,
    SSLConnection,
    UnixDomainSocketConnection,
)
from redis.retry import Retry

from .allowance import Allowance, BoundedSocket
from .commands import (
    INFO,
    INFO_BUT_LATENCYSTATS,
    LATENCYSTATS_HEADER,
    SCRIPT_PREFIX,
    SLOT_STATS,
    SLOT_TRAFFIC_ORDERS,
    Command,
    ServerFeatures,
    cycle_commands,
    latencystats_section,
    run_id,
    section_headers,
    sentinel_master_commands,
    slot_stats_command,
    with_latencystats,
)
from .histograms import EVERY_COMMAND, LatencyHistograms
from .keyscan import KeyInspector, Refused
from .replies import as_dict

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from .config import Target

log = logging.getLogger(__name__)

# After a failure, connecting again waits 1 s, then 2, 4, ... up to 30 s: a server that is down
# or restarting is not hammered, while each cycle still writes its file (redis_up 0) at once.
BACKOFF_FIRST = 1.0
BACKOFF_MAX = 30.0
# Replies asked only every Nth cycle: CONFIG GET's settings seldom change, and LATENCY HISTOGRAM
# costs the server more than INFO (it walks every command's histogram). In between, the last
# reply stands in, so every cycle's file is whole; translation reuses the families it made from
# that very reply (histogram _sum included, so the histogram stays consistent, if older).
ASKED_EVERY: dict[str, int] = {"config": 4, "latency_histogram": 4}
# INFO's Latencystats section (three percentiles of every command ever called) is asked every
# Nth cycle too, where INFO takes several section names: on the others INFO names every section
# but it, and the section last received is added, so translation always sees a whole INFO ALL.
# It is a large share of what INFO ALL costs the server (bench/RESULTS.md).
LATENCYSTATS_EVERY = 4
# A cycle's pipeline is one of a few command sets (with or without the seldom-asked commands),
# so its bytes are packed once: packing in place cost more than the lookup (bench/RESULTS.md,
# issue 17). Past this many sets, start again.
MAX_PACKED = 16


@dataclass(frozen=True, slots=True)
class ScrapeResult:
    """What one cycle got from one server: replies by name, refusals by name, or a failure."""

    replies: dict[str, Any] = field(default_factory=dict)
    refused: dict[str, str] = field(default_factory=dict)
    error: str | None = None
    duration: float = 0.0


class Scraper:
    """Scrapes one target over one kept-open connection; reconnects after a failure."""

    def __init__(self, target: Target, clock: Callable[[], float] = time.monotonic) -> None:
        self.target = target
        self._clock = clock
        self._connection: AbstractConnection | None = None
        self._allowance = Allowance(clock)
        self._features: ServerFeatures | None = None
        self._latencystats: _Latencystats | None = None  # None: INFO ALL every cycle
        self._histograms = LatencyHistograms()
        self._last_info: object = None  # the last cycle's INFO: which commands were called
        # Kept across connections, forgotten when run_id changes: the server answering.
        self._run_id = ""
        # INFO without Latencystats met NOPERM: the user's ACL allows INFO ALL alone. It is not
        # asked again of this server run, so its ACL LOG and errorstats show one denial at most.
        self._sub_info_denied = False
        self._refused: dict[str, str] = {}
        self._sent: dict[str, Command] = {}  # what each reply name was asked with, for logs
        self._script_errors: dict[str, str | None] = {}
        options = target.options
        self._inspector = KeyInspector(options, clock) if options.inspects_keys else None
        self._failures = 0
        self._retry_at = 0.0
        self._last_error = ""
        self._kept: dict[
            str, tuple[Any, int]
        ] = {}  # reply name -> (last reply, cycles to reuse it)
        self._packed = _Packed()

    def scrape(self) -> ScrapeResult:
        """Run one cycle's commands; never raises for server or network trouble."""
        started = self._clock()
        if self._connection is None and started < self._retry_at:
            wait = self._retry_at - started
            return ScrapeResult(error=f"{self._last_error} (next attempt in {wait:.0f}s)")
        self._allowance.renew(self.target.timeout, self.target.options.max_scrape_bytes)
        try:
            replies, refused = self._scrape_once()
        except (redis.RedisError, OSError, ValueError) as exc:
            self._note_failure(self._allowance.exceeded or _describe(exc))
            return ScrapeResult(error=self._last_error, duration=self._clock() - started)
        self._failures = 0
        return ScrapeResult(
            replies, refused, _info_problem(replies, refused), self._clock() - started
        )

    def _note_failure(self, error: str) -> None:
        self.close()
        self._failures += 1
        backoff = min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** (self._failures - 1))
        self._retry_at = self._clock() + backoff
        self._last_error = error

    def close(self) -> None:
        """Drop the connection; the next scrape connects afresh and re-learns the server."""
        if self._connection is not None:
            self._connection.disconnect()  # type: ignore[no-untyped-call]  # untyped in redis-py
        self._connection = None
        self._forget_server()

    def _forget_server(self) -> None:
        """Forget what was learned of the server: another may answer next, or this one restarted.

        Not a NOPERM to INFO without Latencystats, which holds until run_id changes.
        """
        self._refused = {}
        self._features = None  # another server, of another version or kind, may answer next
        self._latencystats = None
        self._histograms.forget()
        self._last_info = None
        self._kept = {}
        if self._inspector is not None:  # no sweep of the old server goes on, or is published
            self._inspector = KeyInspector(self.target.options, self._clock)

    def _scrape_once(self) -> tuple[dict[str, Any], dict[str, str]]:
        connection = self._connect()
        replies: dict[str, Any] = {}
        refused: dict[str, str] = {}
        if self._features is None:  # a new connection: learn what the server is first
            _merge(replies, refused, _run_pipeline(connection, INFO))
            self._learn(replies)
        commands = self._commands(skip=replies)
        reused = self._reused(commands)
        asked = {name: command for name, command in commands.items() if name not in reused}
        if "info" in asked and self._latencystats is not None:
            asked["info"] = self._latencystats.next_command()
        histogram_due = "latency_histogram" in asked
        histogram = self._histogram_command(asked, replies) if histogram_due else None
        server, denied = self._run_id, set[str]()
        # A pipeline naming commands for LATENCY HISTOGRAM is one of a kind: packed, not kept.
        packed = self._packed if histogram in (None, EVERY_COMMAND) else None
        _merge(replies, refused, _run_pipeline(connection, asked, packed, denied))
        self._whole_info(connection, replies, refused, asked.get("info"), denied="info" in denied)
        same_server = self._run_id == server
        if not same_server:  # a proxy's new backend: nothing kept from the old one stands in
            reused = {}
        if histogram_due:
            self._whole_histogram(replies, refused, histogram, same_server=same_server)
        self._last_info = replies.get("info")
        self._keep(replies, reused)
        self._after_pipeline(connection, replies, refused)
        self._remember_refusals(refused)
        return replies, {**self._refused, **refused}

    def _histogram_command(
        self, asked: dict[str, Command], replies: dict[str, Any]
    ) -> Command | None:
        """LATENCY HISTOGRAM, due this cycle, for the commands called since (by the last INFO).

        None: nothing was called since, so nothing is asked and the kept histograms stand.
        """
        command = self._histograms.command(replies.get("info", self._last_info))
        if command is None:
            del asked["latency_histogram"]
        else:
            asked["latency_histogram"] = command
        return command

    def _whole_histogram(
        self,
        replies: dict[str, Any],
        refused: dict[str, str],
        asked: Command | None,
        *,
        same_server: bool,
    ) -> None:
        """The whole LATENCY HISTOGRAM reply of this cycle, from its answer and the kept ones.

        Left out when another server answered than the one its commands were chosen for (a
        proxy's new backend): the next cycle asks that server for every histogram.
        """
        if "latency_histogram" in refused:
            self._histograms.forget()
        elif same_server or asked == EVERY_COMMAND:
            whole = self._histograms.reply(asked, replies.get("latency_histogram"))
            replies["latency_histogram"] = whole
        else:
            replies.pop("latency_histogram", None)

    def _learn(self, replies: dict[str, Any]) -> None:
        """Read the server's features from INFO ALL: a connection's first, or another server's.

        Only a restart changes them (versions, the mode, cluster-enabled are read at start). A
        restart breaks a direct connection, but a proxy may keep it while the server behind it
        changes: INFO's run_id tells (a str.find), and what was learned of the old one goes.
        """
        info = replies.get("info")
        if not isinstance(info, str):
            return
        server = run_id(info)
        if self._features is not None:
            if server == self._run_id:
                return
            log.info("%s: another server answers (run_id changed), learning it", self.target.name)
            self._forget_server()
        if server != self._run_id:  # its ACL may differ: INFO without Latencystats is tried again
            self._run_id, self._sub_info_denied = server, False
        self._features = ServerFeatures.from_info(info)
        sections = self._features.info_sections and not self._sub_info_denied
        self._latencystats = _Latencystats() if sections else None

    def _whole_info(
        self,
        connection: AbstractConnection,
        replies: dict[str, Any],
        refused: dict[str, str],
        asked: Command | None,
        *,
        denied: bool,
    ) -> None:
        """Make the cycle's INFO a whole INFO ALL of the server answering; learn from INFO ALL."""
        if asked != INFO_BUT_LATENCYSTATS:
            self._learn(replies)
        elif self._with_kept_latencystats(replies):
            return
        else:
            self._info_all_instead(connection, replies, refused, denied=denied)
        if self._latencystats is not None and isinstance(replies.get("info"), str):
            self._latencystats.keep(replies["info"])

    def _with_kept_latencystats(self, replies: dict[str, Any]) -> bool:
        """Add the kept Latencystats to INFO asked without it; False when it cannot stand in."""
        info = replies.get("info")
        if self._latencystats is None or not isinstance(info, str) or run_id(info) != self._run_id:
            return False
        whole = self._latencystats.added_to(info)
        if whole is not None:
            replies["info"] = whole
        return whole is not None

    def _info_all_instead(
        self,
        connection: AbstractConnection,
        replies: dict[str, Any],
        refused: dict[str, str],
        *,
        denied: bool,
    ) -> None:
        """Ask INFO ALL at once: INFO without Latencystats was refused, or cannot stand in.

        Refused, or with other sections than INFO ALL's, the connection keeps to INFO ALL: after
        a NOPERM until run_id changes, after anything else (a passing BUSY, say) for this
        connection only, the next one asks again. A reply from another server (run_id) is no
        verdict: that server is learned afresh.
        """
        before, reason = self._run_id, refused.pop("info", None)
        replies.pop("info", None)  # other sections: no part of it stays, should INFO ALL fail
        self._latencystats = None
        _merge(replies, refused, _run_pipeline(connection, INFO))
        self._learn(replies)
        if self._run_id != before:
            return
        self._sub_info_denied = denied
        log.info(
            "%s: INFO %s %s; INFO ALL is asked instead, %s",
            self.target.name,
            " ".join(str(word) for word in INFO_BUT_LATENCYSTATS[1:]),
            f"was refused: {reason}" if reason is not None else "answered with other sections",
            "until the server restarts" if denied else "on this connection",
        )

    def _commands(self, skip: dict[str, Any]) -> dict[str, Command]:
        commands = cycle_commands(self.target, self._features or ServerFeatures())
        if self._inspector is not None:  # inspection leaves another database selected
            commands = {"select": ("SELECT", 0), **commands}
        self._sent.update(commands)
        return {n: c for n, c in commands.items() if n not in self._refused and n not in skip}

    def _reused(self, commands: dict[str, Command]) -> dict[str, Any]:
        """The kept replies that stand in for their commands this cycle, by name."""
        reused = {}
        for name in commands.keys() & self._kept.keys():
            reply, cycles_left = self._kept[name]
            if cycles_left > 0:
                reused[name] = reply
                self._kept[name] = (reply, cycles_left - 1)
        return reused

    def _keep(self, replies: dict[str, Any], reused: dict[str, Any]) -> None:
        """Keep the fresh replies of commands asked every Nth cycle; add the reused ones."""
        for name, every in ASKED_EVERY.items():
            if name in replies:
                self._kept[name] = (replies[name], every - 1)
            elif name not in reused:
                self._kept.pop(name, None)  # refused, or no longer asked: ask afresh next time
        replies.update(reused)

    def _after_pipeline(
        self, connection: AbstractConnection, replies: dict[str, Any], refused: dict[str, str]
    ) -> None:
        """What needs the pipeline's answers first: sentinel masters, slot stats, key inspection."""
        masters = replies.get("sentinel_masters")
        if isinstance(masters, list):
            names = [as_dict(master).get("name") for master in masters]
            commands = {  # a name that is not text would fail the whole pipeline, not one master
                k: c
                for name in names
                if isinstance(name, str) and name
                for k, c in sentinel_master_commands(name).items()
            }
            _merge(replies, refused, _run_pipeline(connection, commands))
        if SLOT_STATS in replies:
            replies["slot_stats"] = self._slot_stats(connection, replies.pop(SLOT_STATS))
        if self._inspector is not None and isinstance(replies.get("info"), str):
            try:
                replies.update(self._inspect(connection, replies["info"]))
                refused.update(self._inspector.refused)  # kept by it until the next connection
            except (ValueError, TypeError, KeyError, IndexError) as exc:
                # A reply of a shape inspection cannot use costs the key families, not the
                # target: the pipeline's replies are whole and the file is still written.
                refused["keys"] = f"malformed reply to key inspection ({type(exc).__name__})"

    def _slot_stats(self, connection: AbstractConnection, by_keys: object) -> dict[str, Any]:
        """The busiest slots by keys, and by CPU and network when the server tracks those.

        Only with cluster-slot-stats-enabled do entries carry cpu-usec, and only then does
        ORDERBY take it: asked otherwise, it would be an error reply on every cycle.
        """
        limit = self.target.options.insight_top_n
        stats: dict[str, Any] = {"limit": limit, "key-count": by_keys}
        if _tracks_slot_traffic(by_keys):
            orders = {order: slot_stats_command(order, limit) for order in SLOT_TRAFFIC_ORDERS}
            stats.update(_run_pipeline(connection, orders)[0])  # refused: switched off since
        return stats

    def _inspect(self, connection: AbstractConnection, info: str) -> dict[str, Any]:
        """Key inspection within the scrape's allowance.

        Sweeps take half of what is left of the time and of the bytes, so that the lookups
        after them fit in the rest.
        """
        assert self._inspector is not None  # noqa: S101 - the caller checked
        allowance = self._allowance
        half_the_bytes = allowance.bytes_left() / 2
        return self._inspector.inspect(
            partial(_execute, connection),
            info,
            seconds=allowance.seconds_left() / 2,
            room=lambda: allowance.bytes_left() > half_the_bytes,
        )

    def _remember_refusals(self, refused: dict[str, str]) -> None:
        """Log each refusal once and stop sending that command on this connection.

        Scripts and per-master sentinel answers are not remembered: they fail for reasons that
        pass (a script's own error, a quorum not reached) and their metrics say so.
        """
        self._log_script_changes(refused)
        for name, message in refused.items():
            if name in self._refused or name == "info" or ":" in name:
                continue
            words = " ".join(str(word) for word in self._sent.get(name, (name,)))
            log.warning(
                "%s: server refused %s, its metrics are skipped: %s",
                self.target.name,
                words,
                message,
            )
            self._refused[name] = message

    def _log_script_changes(self, refused: dict[str, str]) -> None:
        """A script that starts failing, or fails differently, is logged once; recovery too."""
        for name in self._sent:
            if not name.startswith(SCRIPT_PREFIX):
                continue
            error = refused.get(name)
            if error != self._script_errors.get(name):
                if error is None:
                    log.info("%s: %s runs again", self.target.name, name)
                else:
                    log.warning("%s: %s failed: %s", self.target.name, name, error)
            self._script_errors[name] = error

    def _connect(self) -> AbstractConnection:
        if self._connection is None:
            self._connection = _make_connection(self.target, self._allowance)
        return self._connection


class _Latencystats:
    """INFO's Latencystats section on one connection: asked every Nth cycle, kept in between."""

    def __init__(self) -> None:
        self._section: str | None = None  # None: nothing kept, INFO ALL is asked
        self._cycles_left = 0
        # INFO ALL's other section headers, until a reply without Latencystats has shown the
        # same: sections are the server's build's, so one reply proves the connection's.
        self._expected: list[str] | None = None
        self._checked = False

    def next_command(self) -> Command:
        """INFO without Latencystats while a kept section stands in (one cycle less), else ALL."""
        if self._section is not None and self._cycles_left > 0:
            self._cycles_left -= 1
            return INFO_BUT_LATENCYSTATS
        return INFO["info"]

    def keep(self, info: str) -> None:
        """Keep an INFO ALL's Latencystats section for the next cycles."""
        self._section, self._cycles_left = latencystats_section(info), LATENCYSTATS_EVERY - 1
        if not self._checked:
            self._expected = [h for h in section_headers(info) if h != LATENCYSTATS_HEADER]

    def added_to(self, info: object) -> str | None:
        """INFO ALL from a reply without Latencystats; None when the reply is not that."""
        if not isinstance(info, str) or self._section is None:
            return None
        if not self._checked:
            if section_headers(info) != self._expected:
                return None
            self._checked, self._expected = True, None
        return with_latencystats(info, self._section)


def _info_problem(replies: dict[str, Any], refused: dict[str, str]) -> str | None:
    """Why this scrape has no INFO to go on, or None: without INFO a server is not up."""
    if "info" in refused:
        return f"INFO refused: {refused['info'] or 'an empty error reply'}"
    info = replies.get("info")
    if not isinstance(info, str):
        return f"INFO answered with {type(info).__name__}, not text"
    return None


def _tracks_slot_traffic(reply: object) -> bool:
    """True when a SLOT-STATS reply's first entry, [slot, [name, value, ...]], has cpu-usec."""
    first = reply[0] if isinstance(reply, list) and reply else None
    fields = first[1] if isinstance(first, list) and len(first) == 2 else None  # noqa: PLR2004
    return isinstance(fields, list) and "cpu-usec" in fields[::2]


def _merge(
    replies: dict[str, Any], refused: dict[str, str], more: tuple[dict[str, Any], dict[str, str]]
) -> None:
    replies.update(more[0])
    refused.update(more[1])


def _round_trip(
    connection: AbstractConnection, commands: Sequence[Command], packed: _Packed | None = None
) -> list[Any]:
    """Write every command at once, then read every reply: one round trip.

    An error reply comes back in its command's place; trouble with the connection raises.
    """
    wire = _pack(connection, commands) if packed is None else packed.of(connection, commands)
    connection.send_packed_command(wire, check_health=False)  # type: ignore[no-untyped-call]
    replies: list[Any] = []
    for _ in commands:
        try:
            replies.append(connection.read_response())
        except redis.ResponseError as exc:  # noqa: PERF203 - read whole, the stream stays in step
            replies.append(exc)
    return replies


def _pack(connection: AbstractConnection, commands: Sequence[Command]) -> list[bytes]:
    wire = [tuple(_to_wire(word) for word in command) for command in commands]
    packed: list[bytes] = connection.pack_commands(wire)  # type: ignore[no-untyped-call]
    return packed


class _Packed(dict[tuple[Command, ...], list[bytes]]):
    """The bytes of the cycle's pipelines, by their commands."""

    def of(self, connection: AbstractConnection, commands: Sequence[Command]) -> list[bytes]:
        """The commands' bytes, packed the first time they are sent together."""
        key = tuple(commands)
        packed = self.get(key)
        if packed is None:
            if len(self) >= MAX_PACKED:
                self.clear()
            packed = self[key] = _pack(connection, commands)
        return packed


def _to_wire(word: str | int) -> bytes | int:
    """A key name read back from the server returns as the same bytes, UTF-8 or not.

    Replies keep undecodable bytes as lone surrogates; hiredis's packer, which redis-py uses
    when it is installed, would refuse them.
    """
    return word.encode("utf-8", "surrogateescape") if isinstance(word, str) else word


def _execute(connection: AbstractConnection, commands: Sequence[Command]) -> list[Any]:
    """A round trip for key inspection: Refused in place of error replies."""
    replies = _round_trip(connection, commands)
    return [Refused(str(r)) if isinstance(r, redis.ResponseError) else r for r in replies]


def _run_pipeline(
    connection: AbstractConnection,
    commands: dict[str, Command],
    packed: _Packed | None = None,
    denied: set[str] | None = None,
) -> tuple[dict[str, Any], dict[str, str]]:
    """A round trip of named commands: replies and refusals, each by name.

    The names of commands refused with NOPERM (the user's ACL) are added to `denied`: redis-py
    leaves the code out of the message.
    """
    if not commands:
        return {}, {}
    replies: dict[str, Any] = {}
    refused: dict[str, str] = {}
    answers = _round_trip(connection, list(commands.values()), packed)
    for name, reply in zip(commands, answers, strict=True):
        if isinstance(reply, redis.ResponseError):
            refused[name] = str(reply)
            if denied is not None and isinstance(reply, redis.exceptions.NoPermissionError):
                denied.add(name)
        else:
            replies[name] = reply
    return replies, refused


class _TcpConnection(Connection):
    """A TCP connection whose socket keeps to the scrape's allowance."""

    def __init__(self, allowance: Allowance, **options: Any) -> None:  # noqa: ANN401 - redis-py's
        self.allowance = allowance
        super().__init__(**options)  # type: ignore[no-untyped-call]  # untyped in redis-py

    def _connect(self) -> BoundedSocket:
        return _bounded(self, super()._connect, self.allowance)


class _TlsConnection(SSLConnection):
    """A TLS connection whose socket, handshake included, keeps to the scrape's allowance."""

    def __init__(self, allowance: Allowance, **options: Any) -> None:  # noqa: ANN401 - redis-py's
        self.allowance = allowance
        super().__init__(**options)

    def _connect(self) -> BoundedSocket:
        return _bounded(self, super()._connect, self.allowance)


class _UnixConnection(UnixDomainSocketConnection):
    """A unix socket connection that keeps to the scrape's allowance."""

    def __init__(self, allowance: Allowance, **options: Any) -> None:  # noqa: ANN401 - redis-py's
        self.allowance = allowance
        super().__init__(**options)  # type: ignore[no-untyped-call]  # untyped in redis-py

    def _connect(self) -> BoundedSocket:
        return _bounded(self, super()._connect, self.allowance)


def _bounded(
    connection: AbstractConnection, connect: Callable[[], Any], allowance: Allowance
) -> BoundedSocket:
    """Connect (and shake hands) within what is left of the deadline; bound the socket."""
    connection.socket_connect_timeout = allowance.seconds_left()
    return BoundedSocket(connect(), allowance)


def _make_connection(target: Target, allowance: Allowance) -> AbstractConnection:
    """One connection that returns raw replies and never retries behind our deadline."""
    options: dict[str, Any] = {
        "username": target.username,
        "password": target.password.value if target.password else None,
        "socket_timeout": target.timeout,
        "socket_connect_timeout": target.timeout,
        "decode_responses": True,
        # Key names need not be UTF-8: undecodable bytes become lone surrogates, which encode
        # back to the same bytes when the name is sent again (rendering escapes them).
        "encoding_errors": "surrogateescape",
        "retry": Retry(NoBackoff(), 0),
        "driver_info": None,  # no CLIENT SETINFO: two round trips saved on every connect
        "protocol": 2,  # RESP2: plain arrays, the replies recorded in tests, and no HELLO
    }
    url = urlsplit(target.addr)
    if url.scheme == "unix":
        # redis-py's own annotations: untyped, and an abstract `host` it never needs here.
        return _UnixConnection(allowance, path=url.path, **options)  # type: ignore[abstract]
    options.update(host=url.hostname, port=url.port or 6379)
    if url.scheme == "rediss":
        return _TlsConnection(allowance, **options, **_tls_options(target))
    return _TcpConnection(allowance, **options)


def _tls_options(target: Target) -> dict[str, Any]:
    tls = target.tls
    options: dict[str, Any] = {}
    if tls is None:
        return options
    options["ssl_ca_certs"] = str(tls.ca_file) if tls.ca_file else None
    options["ssl_certfile"] = str(tls.cert_file) if tls.cert_file else None
    options["ssl_keyfile"] = str(tls.key_file) if tls.key_file else None
    if tls.skip_verify:
        options["ssl_cert_reqs"] = ssl.CERT_NONE
        options["ssl_check_hostname"] = False
    return options


def _describe(exc: BaseException) -> str:
    """One line naming what went wrong; redis-py's messages carry the address, never a password."""
    text = str(exc).strip().splitlines()
    detail = text[0] if text else ""
    return f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__
