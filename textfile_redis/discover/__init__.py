"""Discovery: local Redis, Valkey and KeyDB servers and sentinels; node_exporter's directory."""

from .nodeexporter import DEBIAN_DIR, FALLBACK_DIR, TextfileDir, node_exporter_dirs, textfile_dir
from .probe import Endpoint, NotRedisError, Probe, probe
from .servers import Server, address_name, discover

__all__ = [
    "DEBIAN_DIR",
    "FALLBACK_DIR",
    "Endpoint",
    "NotRedisError",
    "Probe",
    "Server",
    "TextfileDir",
    "address_name",
    "discover",
    "node_exporter_dirs",
    "probe",
    "textfile_dir",
]
