"""Families computed from INFO fields: link down time, save age, TLS expiry, scripting engines."""

from __future__ import annotations

import itertools
import math
import re
from typing import TYPE_CHECKING

from textfile_redis import catalog

if TYPE_CHECKING:
    from collections.abc import Mapping

    from .families import Families

TLS_EXPIRY = {
    "server": catalog.TLS_SERVER_CERT_EXPIRES_IN_SECONDS,
    "client": catalog.TLS_CLIENT_CERT_EXPIRES_IN_SECONDS,
    "ca": catalog.TLS_CA_CERT_EXPIRES_IN_SECONDS,
}
NO_CERTIFICATE = "none"  # Valkey's serial when no certificate of that kind is loaded
MAX_SERIAL = 128  # an X.509 serial is at most 20 bytes: 40 hex digits
MAX_ENGINES = 64  # Valkey 9.1 has one (LUA); each engine is a loaded module
MAX_ENGINE_NAME = 64
_ENGINE = re.compile(r"^engine_[0-9]{1,6}$")


def health_metrics(families: Families, fields: Mapping[str, str], now: float) -> None:
    """The health families INFO's fields allow; each is left out when its field is absent."""
    _link_down(families, fields)
    _last_save_age(families, fields, now)
    for cert, metric in TLS_EXPIRY.items():
        _tls_certificate(families, fields, cert, metric)
    _scripting_engines(families, fields)


def _link_down(families: Families, fields: Mapping[str, str]) -> None:
    """master_link_down_since_seconds: on a replica whose link is down, labelled as link_up."""
    seconds = _number(fields.get("master_link_down_since_seconds", ""))
    if seconds is not None:
        host, port = fields.get("master_host", ""), fields.get("master_port", "")
        families.gauge(
            catalog.MASTER_LINK_DOWN_SINCE_SECONDS, seconds, master_host=host, master_port=port
        )


def _last_save_age(families: Families, fields: Mapping[str, str], now: float) -> None:
    """The scrape's time less rdb_last_save_time, which only a successful save (or start) moves."""
    saved = _number(fields.get("rdb_last_save_time", ""))
    if saved is not None and saved > 0 and now > 0:
        families.gauge(catalog.RDB_LAST_SAVE_AGE_SECONDS, float(int(now) - saved))


def _tls_certificate(
    families: Families, fields: Mapping[str, str], cert: str, metric: catalog.Metric
) -> None:
    """A loaded certificate's expiry and serial; a kind with serial "none" has no certificate.

    Valkey reports 0 seconds for a certificate it does not have: written, that would read as
    "expires now" and fire every expiry alert on servers without TLS.
    """
    serial = fields.get(f"tls_{cert}_cert_serial")
    if serial == NO_CERTIFICATE:
        return
    seconds = _number(fields.get(f"tls_{cert}_cert_expires_in_seconds", ""))
    if seconds is not None:
        families.gauge(metric, seconds)
    if serial and len(serial) <= MAX_SERIAL:
        families.gauge(catalog.TLS_CERTIFICATE_INFO, 1.0, cert=cert, serial=serial)


def _scripting_engines(families: Families, fields: Mapping[str, str]) -> None:
    """engine_0:name=LUA,module=lua,abi_version=4,used_memory=69632,memory_overhead=56."""
    # The cheap test first: INFO has a few hundred fields and a handful of engines.
    engines = (v for k, v in fields.items() if k.startswith("engine_") and _ENGINE.match(k))
    lines = list(itertools.islice(engines, MAX_ENGINES))
    for line in lines:
        parts = dict(part.partition("=")[::2] for part in line.split(",", 16)[:16])
        name = parts.get("name", "")
        if not name or len(name) > MAX_ENGINE_NAME:
            continue
        for field, metric in (
            ("used_memory", catalog.SCRIPTING_ENGINE_MEMORY_USED_BYTES),
            ("memory_overhead", catalog.SCRIPTING_ENGINE_MEMORY_OVERHEAD_BYTES),
        ):
            value = _number(parts.get(field, ""))
            if value is not None:
                families.gauge(metric, value, engine=name)


def _number(text: str) -> float | None:
    """A finite number, else None: INFO is the server's to write."""
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None
