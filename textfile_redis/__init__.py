"""textfile-redis: Redis and Valkey metrics for node_exporter's textfile collector."""

from __future__ import annotations

from ._version import __version__

__all__ = ["__version__"]
