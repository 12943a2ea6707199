"""Targets from --redis-addr or REDIS_ADDR, with REDIS_USER and REDIS_PASSWORD(_FILE)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .addresses import parse_addr, redact
from .fields import Where
from .model import ConfigError, Secret, Target
from .reading import read_secret
from .targets import check_unique

if TYPE_CHECKING:
    from collections.abc import Mapping

    from .model import Overrides
    from .settings import Settings


@dataclass(frozen=True, slots=True)
class _EnvCredentials:
    """REDIS_USER, REDIS_PASSWORD and REDIS_PASSWORD_FILE, as redis_exporter reads them."""

    username: str | None = None
    password: str | None = field(default=None, repr=False)
    password_map: Mapping[str, str] = field(default_factory=dict, repr=False)

    def password_for(self, written: str, url: str) -> str | None:
        """Look the address up in the map (as written, or normalised), else the default."""
        for key in (written, written.rstrip("/"), written + "/", url, url + "/"):
            if key in self.password_map:
                return self.password_map[key]
        return self.password


def command_line_targets(
    overrides: Overrides, environ: Mapping[str, str], settings: Settings
) -> list[Target] | None:
    """Targets from --redis-addr, else REDIS_ADDR, which replace the files'; None if neither."""
    if overrides.redis_addrs:
        source, texts = "--redis-addr", list(overrides.redis_addrs)
    elif environ.get("REDIS_ADDR", "").strip():
        source, texts = "REDIS_ADDR", environ["REDIS_ADDR"].split(",")
    else:
        return None
    credentials = _env_credentials(environ) if settings.read_secrets else _EnvCredentials()
    where = Where(source)
    texts = [text.strip() for text in texts if text.strip()]
    placed = [(_command_line_target(t, where, credentials, settings), where) for t in texts]
    check_unique(placed)
    return [target for target, _ in placed]


def _command_line_target(
    text: str, where: Where, credentials: _EnvCredentials, settings: Settings
) -> Target:
    addr = parse_addr(text, where, "")
    if addr.password is not None and where.source == "--redis-addr":
        problem = "secrets do not belong on the command line, where any user can read them"
        hint = "use REDIS_PASSWORD or REDIS_PASSWORD_FILE"
        raise ConfigError(where.msg("", f"{redact(text)}: {problem}; {hint}"))
    password = addr.password or credentials.password_for(text, addr.url)
    return Target(
        name=addr.name,
        addr=addr.url,
        timeout=settings.timeout,
        username=addr.username or credentials.username,
        password=Secret(password) if password else None,
        config_command=settings.config_command,
        options=settings.options,
        source=where.source,
    )


def _env_credentials(environ: Mapping[str, str]) -> _EnvCredentials:
    username = environ.get("REDIS_USER") or None
    password = environ.get("REDIS_PASSWORD") or None
    path = environ.get("REDIS_PASSWORD_FILE")
    if not path:
        return _EnvCredentials(username, password)
    content = read_secret(Path(path), Where("REDIS_PASSWORD_FILE"), "")
    password_map = _password_map(content)
    if password_map is not None:
        return _EnvCredentials(username, password, password_map)
    if password is not None:
        msg = "REDIS_PASSWORD_FILE: holds a password and so does REDIS_PASSWORD; set only one"
        raise ConfigError(msg)
    return _EnvCredentials(username, content)


def _password_map(content: str) -> dict[str, str] | None:
    """redis_exporter's JSON map of address -> password, or None when the file is a password."""
    try:
        data = json.loads(content)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    if not all(isinstance(value, str) for value in data.values()):
        msg = "REDIS_PASSWORD_FILE: the JSON map's values must be password strings"
        raise ConfigError(msg)
    return {str(key): str(value) for key, value in data.items()}
