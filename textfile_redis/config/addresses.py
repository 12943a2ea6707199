"""Addresses: parsed, checked and normalised, credentials taken out, redacted for messages."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, unquote, urlsplit

from textfile_redis.discover import address_name

from .model import DEFAULT_PORT, ConfigError

if TYPE_CHECKING:
    from collections.abc import Callable

    from .fields import Where

_SCHEMES = {
    "redis": "redis",
    "rediss": "rediss",
    "valkey": "redis",
    "valkeys": "rediss",
    "unix": "unix",
}
_HOST_RE = re.compile(r"[A-Za-z0-9_.:%-]+")
_DB_PATH_RE = re.compile(r"/?|/\d+")


@dataclass(frozen=True, slots=True)
class Addr:
    """A parsed address: the normalised URL, the name it suggests, and any credentials in it."""

    url: str
    name: str
    tls: bool
    username: str | None = None
    password: str | None = field(default=None, repr=False)


def _split_scheme(text: str) -> tuple[str, str]:
    scheme, sep, rest = text.partition("://")
    return (scheme.lower(), rest) if sep else ("redis", text)


def _split_userinfo(scheme: str, rest: str) -> tuple[str | None, str]:
    """Userinfo and the rest; by hand, as a raw '/' or '@' in a password confuses urlsplit."""
    if scheme == "unix":
        if rest.startswith("/"):
            return None, rest
        userinfo, sep, path = rest.partition("@/")
        if sep:
            return userinfo, "/" + path
        # No absolute path after the userinfo: still userinfo, so that a message about the bad
        # path never shows the password in it.
        userinfo, sep, location = rest.rpartition("@")
        return (userinfo, location) if sep else (None, rest)
    userinfo, sep, location = rest.rpartition("@")
    return (userinfo, location) if sep else (None, rest)


def redact(text: str) -> str:
    """Show the address as written, any password (in userinfo or query) replaced by ***."""
    scheme, rest = _split_scheme(text)
    userinfo, location = _split_userinfo(scheme, rest)
    if "?" in location:
        location = location.partition("?")[0] + "?***"
    if userinfo is not None:
        user, sep, _ = userinfo.partition(":")
        location = f"{user}{sep and ':***'}@{location}"
    return text[: len(text) - len(rest)] + location


def has_password(addr: object) -> bool:
    """Whether a value written as an addr carries a password, whatever else is wrong with it."""
    if not isinstance(addr, str):
        return False
    scheme, rest = _split_scheme(addr)
    return _credentials(_split_userinfo(scheme, rest)[0])[1] is not None


def parse_addr(text: str, where: Where, key: str) -> Addr:
    """Check and normalise an address; `key` is what messages name ("addr", or "" for flags)."""

    def say(problem: str) -> str:
        return where.msg(key, f"{problem}: {redact(text)}")

    scheme, rest = _split_scheme(text)
    kind = _SCHEMES.get(scheme)
    if kind is None:
        supported = "redis://, rediss://, unix://, valkey:// or valkeys://"
        raise ConfigError(say(f"unsupported scheme {scheme!r}, expected {supported}"))
    userinfo, location = _split_userinfo(scheme, rest)
    username, password = _credentials(userinfo)
    parse = _parse_unix if kind == "unix" else _parse_tcp
    url, name = parse(kind, location, say)
    return Addr(url, name, kind == "rediss", username, password)


def _credentials(userinfo: str | None) -> tuple[str | None, str | None]:
    if userinfo is None:
        return None, None
    user, _, password = userinfo.partition(":")
    return unquote(user) or None, unquote(password) or None


def _check_query(query: str, say: Callable[[str], str]) -> None:
    if any(name != "db" for name, _ in parse_qsl(query, keep_blank_values=True)):
        raise ConfigError(say("the only query parameter accepted is db"))


def _parse_tcp(kind: str, location: str, say: Callable[[str], str]) -> tuple[str, str]:
    try:
        split = urlsplit(f"//{location}")
        port = split.port
    except ValueError:
        raise ConfigError(say("port must be a number from 1 to 65535")) from None
    host = split.hostname
    if not host or not _HOST_RE.fullmatch(host):
        raise ConfigError(say("empty or invalid host"))
    if port == 0:
        raise ConfigError(say("port must be a number from 1 to 65535"))
    if not _DB_PATH_RE.fullmatch(split.path):
        raise ConfigError(say("the path may only be a database number such as /0"))
    _check_query(split.query, say)
    port = port or DEFAULT_PORT
    shown_host = f"[{host}]" if ":" in host else host
    url = f"{kind}://{shown_host}:{port}"
    return url, address_name(url)


def _parse_unix(kind: str, location: str, say: Callable[[str], str]) -> tuple[str, str]:
    path, _, query = location.partition("?")
    if not path.startswith("/"):
        raise ConfigError(say("a unix socket address has no host; write unix:///path/redis.sock"))
    path = unquote(path)
    if "\0" in path:
        raise ConfigError(say("a socket path must not hold a NUL character"))
    if path.endswith("/"):
        raise ConfigError(say("expected the path of a socket, got a directory"))
    _check_query(query, say)
    url = f"{kind}://{path}"
    return url, address_name(url)
