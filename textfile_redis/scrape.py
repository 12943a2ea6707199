"""Scrape: the only module that talks to Redis; one pipelined round trip in, plain replies out."""

from __future__ import annotations

import logging
import re
import ssl
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

if TYPE_CHECKING:
    from collections.abc import Callable

    from .config import Target

log = logging.getLogger(__name__)

# Every reply a cycle asks for, by the name translation knows it under. Commands that only newer
# servers know are sent once INFO has shown the server has them: an unknown command would count
# as an error reply in the user's own error metrics (errorstat_ERR) on every cycle.
BASE_COMMANDS: dict[str, tuple[str, ...]] = {
    "info": ("INFO", "ALL"),
    "config": ("CONFIG", "GET", "*"),
    "slowlog_len": ("SLOWLOG", "LEN"),
    "slowlog_get": ("SLOWLOG", "GET", "1"),
    "latency_latest": ("LATENCY", "LATEST"),
}
LATENCY_HISTOGRAM: dict[str, tuple[str, ...]] = {"latency_histogram": ("LATENCY", "HISTOGRAM")}
COMMANDLOG: dict[str, tuple[str, ...]] = {
    "commandlog_slow": ("COMMANDLOG", "LEN", "slow"),
    "commandlog_large_request": ("COMMANDLOG", "LEN", "large-request"),
    "commandlog_large_reply": ("COMMANDLOG", "LEN", "large-reply"),
}

# After a failure, connecting again waits 1 s, then 2, 4, ... up to 30 s: a server that is down
# or restarting is not hammered, while each cycle still writes its file (redis_up 0) at once.
BACKOFF_FIRST = 1.0
BACKOFF_MAX = 30.0

_VERSION_RE = re.compile(r"^(redis|valkey)_version:(\d+)\.(\d+)", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class ScrapeResult:
    """What one cycle got from one server: replies by name, refusals by name, or a failure."""

    replies: dict[str, Any] = field(default_factory=dict)
    refused: dict[str, str] = field(default_factory=dict)
    error: str | None = None
    duration: float = 0.0


@dataclass(frozen=True, slots=True)
class ServerFeatures:
    """Version-dependent commands a server answers, learnt from its INFO."""

    latency_histogram: bool = False
    commandlog: bool = False

    @classmethod
    def from_info(cls, info: str) -> ServerFeatures:
        """Read the redis_version and valkey_version fields of an INFO reply."""
        versions = {m[1]: (int(m[2]), int(m[3])) for m in _VERSION_RE.finditer(info)}
        return cls(
            latency_histogram=versions.get("redis", (0, 0)) >= (7, 0),
            commandlog=versions.get("valkey", (0, 0)) >= (8, 1),
        )


class Scraper:
    """Scrapes one target over one kept-open connection; reconnects after a failure."""

    def __init__(self, target: Target, clock: Callable[[], float] = time.monotonic) -> None:
        self.target = target
        self._clock = clock
        self._client: redis.Redis | None = None
        self._features: ServerFeatures | None = None
        self._refused: dict[str, str] = {}
        self._failures = 0
        self._retry_at = 0.0
        self._last_error = ""

    def scrape(self) -> ScrapeResult:
        """Run one cycle's commands; never raises for server or network trouble."""
        started = self._clock()
        if self._client is None and started < self._retry_at:
            wait = self._retry_at - started
            return ScrapeResult(error=f"{self._last_error} (next attempt in {wait:.0f}s)")
        try:
            replies, refused = self._scrape_once()
        except (redis.RedisError, OSError, ValueError) as exc:
            self._note_failure(_describe(exc))
            return ScrapeResult(error=self._last_error, duration=self._clock() - started)
        self._failures = 0
        error = refused.get("info")
        return ScrapeResult(replies, refused, error, self._clock() - started)

    def _note_failure(self, error: str) -> None:
        self.close()
        self._failures += 1
        backoff = min(BACKOFF_MAX, BACKOFF_FIRST * 2 ** (self._failures - 1))
        self._retry_at = self._clock() + backoff
        self._last_error = error

    def close(self) -> None:
        """Drop the connection; the next scrape connects afresh and re-learns the server."""
        if self._client is not None:
            self._client.close()
        self._client = None
        self._refused = {}

    def _scrape_once(self) -> tuple[dict[str, Any], dict[str, str]]:
        client = self._connect()
        commands = self._commands()
        replies, refused = _run_pipeline(client, commands)
        if self._features is None and "info" in replies:
            self._features = ServerFeatures.from_info(replies["info"])
            extra = self._feature_commands()
            if extra:  # the first cycle on a new server pays a second round trip, once
                more_replies, more_refused = _run_pipeline(client, extra)
                replies.update(more_replies)
                refused.update(more_refused)
        self._remember_refusals(refused)
        return replies, {**self._refused, **refused}

    def _commands(self) -> dict[str, tuple[str, ...]]:
        commands = dict(BASE_COMMANDS)
        if self.target.config_command == "-":
            del commands["config"]
        else:
            commands["config"] = (self.target.config_command, "GET", "*")
        commands.update(self._feature_commands())
        return {name: cmd for name, cmd in commands.items() if name not in self._refused}

    def _feature_commands(self) -> dict[str, tuple[str, ...]]:
        features = self._features or ServerFeatures()
        commands: dict[str, tuple[str, ...]] = {}
        if features.latency_histogram:
            commands.update(LATENCY_HISTOGRAM)
        if features.commandlog:
            commands.update(COMMANDLOG)
        return commands

    def _remember_refusals(self, refused: dict[str, str]) -> None:
        """Log each refusal once and stop sending that command on this connection."""
        for name, message in refused.items():
            if name == "info" or name in self._refused:
                continue
            log.warning(
                "%s: server refused %s, its metrics are skipped: %s",
                self.target.name,
                " ".join(self._command_words(name)),
                message,
            )
            self._refused[name] = message

    def _command_words(self, name: str) -> tuple[str, ...]:
        every = {**BASE_COMMANDS, **LATENCY_HISTOGRAM, **COMMANDLOG}
        if name == "config":
            return (self.target.config_command, "GET", "*")
        return every[name]

    def _connect(self) -> redis.Redis:
        if self._client is None:
            self._client = _make_client(self.target)
        return self._client


def _run_pipeline(
    client: redis.Redis, commands: dict[str, tuple[str, ...]]
) -> tuple[dict[str, Any], dict[str, str]]:
    """Send every command in one write, read every reply; refusals are kept per command."""
    pipe = client.pipeline(transaction=False)
    for words in commands.values():
        pipe.execute_command(*words)  # type: ignore[no-untyped-call]  # redis-py leaves it untyped
    results = pipe.execute(raise_on_error=False)
    replies: dict[str, Any] = {}
    refused: dict[str, str] = {}
    for name, result in zip(commands, results, strict=True):
        if isinstance(result, redis.ResponseError):
            refused[name] = str(result)
        elif isinstance(result, Exception):
            raise result
        else:
            replies[name] = result
    return replies, refused


def _make_client(target: Target) -> redis.Redis:
    """Build a client that returns raw replies and never retries behind our deadline."""
    client = redis.Redis(
        **_address_options(target),
        username=target.username,
        password=target.password.value if target.password else None,
        socket_timeout=target.timeout,
        socket_connect_timeout=target.timeout,
        decode_responses=True,
        encoding_errors="backslashreplace",
        retry=Retry(NoBackoff(), 0),
        driver_info=None,  # no CLIENT SETINFO: two round trips saved on every connect
        single_connection_client=True,
        protocol=2,  # RESP2: plain arrays, the replies recorded in tests, and no HELLO on connect
    )
    # Translation parses replies itself, from the same data the recorded fixtures hold.
    client.response_callbacks.clear()
    return client


def _address_options(target: Target) -> dict[str, Any]:
    url = urlsplit(target.addr)
    if url.scheme == "unix":
        return {"unix_socket_path": url.path}
    options: dict[str, Any] = {"host": url.hostname, "port": url.port or 6379}
    if url.scheme == "rediss":
        options.update(_tls_options(target))
    return options


def _tls_options(target: Target) -> dict[str, Any]:
    tls = target.tls
    options: dict[str, Any] = {"ssl": True}
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
