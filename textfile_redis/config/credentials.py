"""What a file's target authenticates with: its password, from one place only, and TLS files."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .fields import NAME_RE, get_bool, get_path, get_str
from .model import TLS_KEYS, ConfigError, Secret, Tls
from .reading import read_bytes, read_secret

if TYPE_CHECKING:
    from collections.abc import Mapping

    from .addresses import Addr
    from .fields import Table, Where
    from .settings import Settings


def file_password(
    table: Table, where: Where, base: Path, in_addr: str | None, settings: Settings
) -> Secret | None:
    """The password from password, password_file, password_credential or addr: one of them.

    in_addr: the password the table's addr holds, if any.
    """
    if not settings.read_secrets:
        return None
    password = get_str(table, "password", where) or None
    path = get_path(table, "password_file", where, base)
    credential = _credential_path(table, where, settings.credentials_dir)
    sources = {
        "password": password,
        "password_file": path,
        "password_credential": credential,
        "addr": in_addr,
    }
    _check_given_once(where, sources)
    if path is not None:
        return Secret(read_secret(path, where, "password_file"))
    if credential is not None:
        return Secret(read_secret(credential, where, "password_credential"))
    value = password or in_addr
    return Secret(value) if value else None


def _check_given_once(where: Where, sources: Mapping[str, object]) -> None:
    given = [key for key, value in sources.items() if value is not None]
    if len(given) > 1:
        raise ConfigError(where.msg(given[1], f"conflicts with {given[0]}; give the password once"))


def _credential_path(table: Table, where: Where, credentials_dir: str | None) -> Path | None:
    """A systemd credential (LoadCredential=NAME:/path) by name, under $CREDENTIALS_DIRECTORY."""
    name = get_str(table, "password_credential", where)
    if name is None:
        return None
    if not NAME_RE.fullmatch(name):
        raise ConfigError(where.msg("password_credential", f"{name!r} is not a credential name"))
    if credentials_dir is None:
        msg = "needs systemd's LoadCredential= (CREDENTIALS_DIRECTORY is not set)"
        raise ConfigError(where.msg("password_credential", msg))
    return Path(credentials_dir) / name


def tls(table: Table, where: Where, base: Path, addr: Addr) -> Tls | None:
    """TLS options for a TLS addr; tls_* keys on any other addr are refused."""
    if not addr.tls:
        given = [key for key in TLS_KEYS if key in table]
        if given:
            raise ConfigError(where.msg(given[0], "needs a TLS addr (rediss:// or valkeys://)"))
        return None
    cert = _tls_file(table, "tls_cert_file", where, base)
    key = _tls_file(table, "tls_key_file", where, base)
    _check_pair(where, cert=cert, key=key)
    return Tls(
        ca_file=_tls_file(table, "tls_ca_file", where, base),
        cert_file=cert,
        key_file=key,
        skip_verify=get_bool(table, "tls_skip_verify", where) or False,
    )


def _tls_file(table: Table, key: str, where: Where, base: Path) -> Path | None:
    """Get a TLS file, opened once now so a typo fails at load rather than every cycle."""
    path = get_path(table, key, where, base)
    if path is not None:
        read_bytes(path, where, key)
    return path


def _check_pair(where: Where, *, cert: Path | None, key: Path | None) -> None:
    if cert is not None and key is None:
        raise ConfigError(where.msg("tls_key_file", "missing; tls_cert_file needs it"))
    if key is not None and cert is None:
        raise ConfigError(where.msg("tls_cert_file", "missing; tls_key_file needs it"))
