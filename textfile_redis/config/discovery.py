"""Discovery's settings and [[credential]] tables, and discovered servers made into targets."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from textfile_redis.discover import address_name

from .addresses import parse_addr
from .credentials import file_password
from .fields import NAME_RE, Where, check_keys, get_bool, get_seconds, get_str, type_msg
from .model import (
    CREDENTIAL_KEYS,
    DISCOVER_INTERVAL_MIN,
    DISCOVER_INTERVALS,
    DISCOVERED,
    ConfigError,
    Credential,
    Discovery,
    Target,
    Tls,
)

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from pathlib import Path

    from textfile_redis.discover import Server

    from .fields import Table
    from .model import Config
    from .settings import Settings

HIGHEST_PORT = 65535
_LOOPBACK_HOSTS = {"127.0.0.1": "localhost", "[::1]": "localhost"}


def read_discovery(
    main: Table, where: Where, base: Path, settings: Settings, *, configured: bool
) -> Discovery | None:
    """Discovery's settings; None when it is off. Unset, it is on when no target is configured.

    Every key is checked either way, so a mistake shows before discovery is turned on.
    """
    explicit = get_bool(main, "discover", where)
    discovery = Discovery(
        reason=f"discover = true in {where.source}" if explicit else "no target configured",
        interval=_discover_interval(main, where, settings.interval),
        timeout=settings.timeout,
        config_command=settings.config_command,
        options=settings.options,
        credentials=_credentials(main, where, base, settings),
        only=_matches(main, "discover_only", where),
        exclude=_matches(main, "discover_exclude", where),
    )
    on = explicit if explicit is not None else not configured
    return discovery if on else None


def _discover_interval(main: Table, where: Where, interval: float) -> float:
    seconds = get_seconds(main, "discover_interval", where)
    if seconds is None:
        return max(DISCOVER_INTERVALS * interval, DISCOVER_INTERVAL_MIN)
    if seconds < interval:
        problem = f"must be at least interval ({interval:g}s), got {seconds:g}"
        raise ConfigError(where.msg("discover_interval", problem))
    return seconds


def _matches(main: Table, key: str, where: Where) -> tuple[str, ...]:
    value = main.get(key, [])
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ConfigError(type_msg(where, key, "a list of strings", value))
    return tuple(parse_match(item, where, key) for item in value)


def parse_match(text: str, where: Where, key: str) -> str:
    """A server as a credential or a filter names it, normalised; refusals naming the key.

    A port ("6379"), a socket path ("/run/redis/redis-server.sock"), an address
    ("redis://127.0.0.1:6379", normalised) or a discovered name ("cache_sock").
    """
    if text.isdigit():
        if not 0 < int(text) <= HIGHEST_PORT:
            raise ConfigError(where.msg(key, f"port must be from 1 to {HIGHEST_PORT}, got {text}"))
        return str(int(text))
    if text.startswith("/"):
        if "\0" in text:
            raise ConfigError(where.msg(key, "a path must not hold a NUL character"))
        return text
    if ":" in text:
        addr = parse_addr(text, where, key)
        if addr.password is not None or addr.username is not None:
            problem = "names a server, not how to log in: use username and password_file"
            raise ConfigError(where.msg(key, problem))
        return addr.url
    if not NAME_RE.fullmatch(text):
        problem = f"expected a port, a socket path, an address or a discovered name, got {text!r}"
        raise ConfigError(where.msg(key, problem))
    return text


def _credentials(
    main: Table, where: Where, base: Path, settings: Settings
) -> tuple[Credential, ...]:
    tables = main.get("credential", [])
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise ConfigError(
            type_msg(where, "credential", "an array of tables ([[credential]])", tables)
        )
    found: list[Credential] = []
    seen: dict[str, Where] = {}
    for index, table in enumerate(tables, start=1):
        place = Where(where.source, f"credential[{index}]")
        credential = _credential(table, place, base, settings)
        if credential.match in seen:
            problem = f"{credential.match!r} is already used by {seen[credential.match].describe()}"
            raise ConfigError(place.msg("match", problem))
        seen[credential.match] = place
        found.append(credential)
    return tuple(found)


def _credential(table: Table, where: Where, base: Path, settings: Settings) -> Credential:
    check_keys(table, CREDENTIAL_KEYS, where)
    written = get_str(table, "match", where)
    if written is None:
        raise ConfigError(where.msg("match", "missing; every [[credential]] needs one"))
    if not {"password_file", "password_credential"} & table.keys():
        problem = "missing; a [[credential]] needs password_file or password_credential"
        raise ConfigError(where.msg("password_file", problem))
    return Credential(
        match=parse_match(written, where, "match"),
        username=get_str(table, "username", where) or None,
        password=file_password(table, where, base, None, settings),
        source=where.describe(),
    )


# --- discovered servers as targets -----------------------------------------------------------


def with_servers(config: Config, servers: Iterable[Server]) -> Config:
    """The configuration with a target for each discovered server no configured target covers.

    Targets discovered before are replaced: the servers given are all there is now.
    """
    configured = [t for t in config.targets if t.source != DISCOVERED]
    discovery = config.discovery
    if discovery is None:
        return dataclasses.replace(config, targets=tuple(configured))
    covered = {key for target in configured for key in _aliases(target.addr)}
    names = {target.name for target in configured}
    added: list[Target] = []
    for server in servers:
        keys = server_keys(server)
        if covered & keys or not _wanted(discovery, keys):
            continue
        covered |= keys
        added.append(_target(discovery, server, _free_name(server, names)))
        names.add(added[-1].name)
    return dataclasses.replace(config, targets=(*configured, *added))


def discovered(config: Config) -> list[Target]:
    """The targets that came from discovery."""
    return [target for target in config.targets if target.source == DISCOVERED]


def server_keys(server: Server) -> set[str]:
    """Every form a match may take for this server: name, addresses, ports, socket paths."""
    keys = {server.name}
    for url in (server.addr, *server.other_addrs):
        keys |= _aliases(url)
        scheme, _, location = url.partition("://")
        if scheme == "unix":
            keys.add(location)
        else:
            keys.add(location.rpartition(":")[2])
    return keys


def _aliases(url: str) -> set[str]:
    """An address and its spelling with localhost for a loopback host."""
    scheme, _, location = url.partition("://")
    host, _, port = location.rpartition(":")
    alias = _LOOPBACK_HOSTS.get(host)
    return {url, f"{scheme}://{alias}:{port}"} if alias else {url}


def _wanted(discovery: Discovery, keys: set[str]) -> bool:
    if discovery.only and not keys.intersection(discovery.only):
        return False
    return not keys.intersection(discovery.exclude)


def _free_name(server: Server, taken: set[str]) -> str:
    """The discovered name, or the address's full name when a configured target has it."""
    if server.name not in taken:
        return server.name
    name = address_name(server.addr)
    while name in taken:
        name += "_discovered"
    return name


def _target(discovery: Discovery, server: Server, name: str) -> Target:
    credential = _credential_for(discovery.credentials, server_keys(server))
    advice = ""
    if server.needs_credential and credential is None:
        advice = (
            f"it needs a credential: add a [[credential]] with match = {server.name!r}"
            " and password_file or password_credential"
        )
    return Target(
        name=name,
        addr=server.addr,
        timeout=discovery.timeout,
        username=credential.username if credential else None,
        password=credential.password if credential else None,
        tls=Tls() if server.addr.startswith("rediss://") else None,
        config_command=discovery.config_command,
        options=discovery.options,
        source=DISCOVERED,
        advice=advice,
    )


def _credential_for(credentials: Sequence[Credential], keys: set[str]) -> Credential | None:
    """The first credential, in file order, that matches the server."""
    return next((c for c in credentials if c.match in keys), None)
