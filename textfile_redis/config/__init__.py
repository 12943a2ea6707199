"""Configuration: the TOML file, conf.d, flags and environment, loaded into frozen values."""

from .discovery import discovered, server_keys, with_servers
from .loading import config_paths, load_config
from .model import (
    DEFAULT_CONFIG_PATH,
    DISCOVERED,
    METRIC_LABELS,
    Config,
    ConfigError,
    Credential,
    Discovery,
    KeyPattern,
    LuaScript,
    Options,
    Overrides,
    Secret,
    Target,
    Tls,
)
from .owner import command_line_owner, config_owner

__all__ = [
    "DEFAULT_CONFIG_PATH",
    "DISCOVERED",
    "METRIC_LABELS",
    "Config",
    "ConfigError",
    "Credential",
    "Discovery",
    "KeyPattern",
    "LuaScript",
    "Options",
    "Overrides",
    "Secret",
    "Target",
    "Tls",
    "command_line_owner",
    "config_owner",
    "config_paths",
    "discovered",
    "load_config",
    "server_keys",
    "with_servers",
]
