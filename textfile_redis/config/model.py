"""The configuration's values: frozen Config, Target, Options and friends, defaults, key lists."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from textfile_redis.catalog import LABEL_NAMES

DEFAULT_CONFIG_PATH = Path("/etc/textfile-redis/config.toml")
DEFAULT_INTERVAL = 15.0
DEFAULT_TIMEOUT = 5.0
DEFAULT_PORT = 6379
DEFAULT_CONFIG_COMMAND = "CONFIG"
DEFAULT_MAX_SCRAPE_BYTES = 16 * 1024 * 1024
# The series budget (docs/operations.md): per file, and for all files together. A busy primary's
# default families are ~1,300 series; Prometheus's sample_limit is per scrape of the whole host.
DEFAULT_MAX_SERIES = 10_000
DEFAULT_MAX_SERIES_TOTAL = 50_000
# Insight families (client load, ACL denials, biggest keys, busiest slots) keep the top N.
DEFAULT_INSIGHT_TOP_N = 10
MAX_INSIGHT_TOP_N = 100
CONFD_NAME = "conf.d"

# redis_exporter's opt-in families; at the top level they are every target's default.
KEY_PATTERN_KEYS = (
    "check_keys",
    "check_single_keys",
    "count_keys",
    "check_streams",
    "check_single_streams",
)
BOOL_OPTION_KEYS = (
    "exclude_latency_histogram_metrics",
    "export_client_list",
    "export_client_port",
    "export_client_load",
    "export_acl_log",
    "include_config_metrics",
    "include_system_metrics",
    "export_biggest_keys",
    "export_cluster_slot_stats",
)
OPTION_KEYS = (
    *KEY_PATTERN_KEYS,
    *BOOL_OPTION_KEYS,
    "check_key_groups",
    "max_distinct_key_groups",
    "check_keys_batch_size",
    "scan_budget",
    "lua_scripts",
    "max_scrape_bytes",
    "max_series",
    "insight_top_n",
)
DISCOVERY_KEYS = ("discover", "discover_interval", "discover_only", "discover_exclude")
TOP_KEYS = (
    "textfile_dir",
    "interval",
    "timeout",
    "config_command",
    "target",
    "credential",
    "max_series_total",
    *DISCOVERY_KEYS,
    *OPTION_KEYS,
)
CREDENTIAL_KEYS = ("match", "username", "password_file", "password_credential")
# Rediscovery: every DISCOVER_INTERVALS intervals, never more often than DISCOVER_INTERVAL_MIN.
DISCOVER_INTERVALS = 4
DISCOVER_INTERVAL_MIN = 30.0
DISCOVERED = "discovery"  # the source of a discovered target
TLS_KEYS = ("tls_ca_file", "tls_cert_file", "tls_key_file", "tls_skip_verify")
TARGET_KEYS = (
    "name",
    "addr",
    "username",
    "password",
    "password_file",
    "password_credential",
    "timeout",
    "labels",
    "config_command",
    *TLS_KEYS,
    *OPTION_KEYS,
)
# Label names the metrics carry themselves, from the catalogue: a static label of the same name
# would clash.
METRIC_LABELS = LABEL_NAMES
SECRET_KEYS = frozenset({"password"})


class ConfigError(Exception):
    """A configuration problem, its message naming the file and the key."""


@dataclass(frozen=True, slots=True)
class Secret:
    """A password that never shows itself in repr, str, logs or tracebacks."""

    value: str = field(repr=False)

    def __repr__(self) -> str:
        return "Secret('***')"

    def __str__(self) -> str:
        return "***"


@dataclass(frozen=True, slots=True)
class Tls:
    """TLS client options for a rediss:// target."""

    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    skip_verify: bool = False


@dataclass(frozen=True, slots=True)
class KeyPattern:
    """A database and a key name or SCAN pattern, as redis_exporter writes them: db0=session:*."""

    db: int
    pattern: str


@dataclass(frozen=True, slots=True)
class LuaScript:
    """A user's Lua script whose name/value pairs become redis_script_values."""

    path: Path
    source: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class Options:
    """redis_exporter's opt-in families, named after its flags; all off by default."""

    check_keys: tuple[KeyPattern, ...] = ()
    check_single_keys: tuple[KeyPattern, ...] = ()
    count_keys: tuple[KeyPattern, ...] = ()
    check_key_groups: tuple[str, ...] = ()
    max_distinct_key_groups: int = 100
    check_streams: tuple[KeyPattern, ...] = ()
    check_single_streams: tuple[KeyPattern, ...] = ()
    check_keys_batch_size: int = 1000
    scan_budget: float = 1.0
    exclude_latency_histogram_metrics: bool = False  # drops LATENCY LATEST and HISTOGRAM
    export_client_list: bool = False
    export_client_port: bool = False
    export_client_load: bool = False  # connections, commands, bytes per ACL user, per client name
    export_acl_log: bool = False  # ACL LOG's denials per reason and user
    insight_top_n: int = DEFAULT_INSIGHT_TOP_N  # label values kept by those; the rest is `other`
    lua_scripts: tuple[LuaScript, ...] = ()
    include_config_metrics: bool = False
    include_system_metrics: bool = False
    # Bytes one server may send in one cycle before its scrape is abandoned (redis_up 0): a
    # server's replies must not decide how much memory we use. A busy primary's cycle is ~50 KB.
    max_scrape_bytes: int = DEFAULT_MAX_SCRAPE_BYTES
    # Series the target's file may hold; past it, whole opt-in families are left out.
    max_series: int = DEFAULT_MAX_SERIES
    # Bounded insight families: the N largest keys per database, the N busiest cluster slots.
    export_biggest_keys: bool = False
    export_cluster_slot_stats: bool = False

    @property
    def inspects_keys(self) -> bool:
        """True when a cycle must look at keys or streams, beyond the one pipeline."""
        return bool(
            self.check_keys
            or self.check_single_keys
            or self.count_keys
            or self.check_key_groups
            or self.check_streams
            or self.check_single_streams
            or self.export_biggest_keys
        )


@dataclass(frozen=True, slots=True)
class Target:
    """One Redis or Valkey server to scrape into one file."""

    name: str
    addr: str  # normalised, without credentials; also the `addr` label
    timeout: float
    username: str | None = None
    password: Secret | None = None
    labels: tuple[tuple[str, str], ...] = ()
    tls: Tls | None = None
    config_command: str = DEFAULT_CONFIG_COMMAND
    options: Options = Options()
    source: str = "<command line>"  # the file (or flag) that defined it, for messages
    advice: str = ""  # said with its failures: what a discovered server still needs

    @property
    def filename(self) -> str:
        """The metrics file this target owns in the textfile directory."""
        return f"redis_{self.name}.prom"


@dataclass(frozen=True, slots=True)
class Credential:
    """A [[credential]] table: what a discovered server it matches authenticates with."""

    match: str  # as written: a discovered name, a port, a socket path or an address
    username: str | None = None
    password: Secret | None = None
    source: str = ""  # "credential[1] in /etc/textfile-redis/config.toml", for messages


@dataclass(frozen=True, slots=True)
class Discovery:
    """Discovery's settings: how often, which servers, and what discovered targets inherit."""

    reason: str  # why it is on, in a few words: `discover = true` or the default
    interval: float  # seconds between rediscoveries
    timeout: float
    config_command: str = DEFAULT_CONFIG_COMMAND
    options: Options = Options()
    credentials: tuple[Credential, ...] = ()
    only: tuple[str, ...] = ()  # match forms; empty: every server found
    exclude: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Config:
    """Everything a run needs: where to write, how often, and what to scrape."""

    textfile_dir: Path
    interval: float
    timeout: float
    targets: tuple[Target, ...]
    owner: str  # stable id of this configuration, written in each file's marker line
    config_path: Path
    watched_paths: tuple[Path, ...] = ()
    warnings: tuple[str, ...] = ()  # one line each, for the operator; never a secret
    textfile_reason: str = ""  # where textfile_dir came from, in a few words
    discovery: Discovery | None = None  # None: discovery is off
    max_series_total: int = DEFAULT_MAX_SERIES_TOTAL  # series of all targets' files together


@dataclass(frozen=True, slots=True)
class Overrides:
    """Values given on the command line; None means not given."""

    config_path: Path | None = None
    textfile_dir: Path | None = None
    redis_addrs: tuple[str, ...] = ()
    interval: float | None = None
