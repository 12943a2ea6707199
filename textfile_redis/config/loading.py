"""load_config: files, flags and environment in order, into one Config or one ConfigError."""

from __future__ import annotations

import dataclasses
import stat
from typing import TYPE_CHECKING

from textfile_redis.discover import textfile_dir

from .addresses import has_password
from .discovery import read_discovery
from .environment import command_line_targets
from .fields import Where, blamed_on
from .model import CONFD_NAME, DEFAULT_CONFIG_PATH, Config, ConfigError
from .owner import command_line_owner, config_owner
from .reading import read_main
from .settings import check_textfile_dir, read_settings
from .targets import file_targets

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from pathlib import Path

    from .fields import Table
    from .model import Overrides, Target
    from .reading import ConfigFile
    from .settings import FindTextfileDir, Settings


def load_config(
    overrides: Overrides,
    environ: Mapping[str, str],
    *,
    read_secrets: bool = True,
    allow_no_targets: bool = False,
    find_textfile_dir: FindTextfileDir = textfile_dir,
) -> Config:
    """Load and validate the configuration; raise ConfigError naming file and key.

    Without read_secrets no password is read, for `cleanup`: systemd hands LoadCredential=
    secrets to ExecStart= but not to ExecStopPost=, where cleanup runs. allow_no_targets is for
    cleanup and reloads: when the last target goes, its file must go too. find_textfile_dir
    says where node_exporter reads textfiles when neither the file nor --textfile-dir does.
    Discovered targets are not in it: see with_servers.

    A configuration is loaded or refused, nothing else: any unexpected exception (RecursionError
    from absurd nesting, a path the OS rejects...) becomes a ConfigError naming the file.
    """
    main_path = (overrides.config_path or DEFAULT_CONFIG_PATH).absolute()
    with blamed_on(main_path):
        main = read_main(main_path, explicit=overrides.config_path is not None)
        settings = read_settings(main.table, main_path, overrides, environ, find_textfile_dir)
        if not read_secrets:
            settings = dataclasses.replace(settings, read_secrets=False)
        targets, owner, files = _targets(main, overrides, environ, settings)
        where = Where(str(main_path))
        discovery = read_discovery(
            main.table, where, main_path.parent, settings, configured=bool(targets)
        )
        if not targets and discovery is None and not allow_no_targets:
            msg = (
                f"{main_path}: no targets: add [[target]] to {main_path}, give --redis-addr"
                " or set discover = true"
            )
            raise ConfigError(msg)
        check_textfile_dir(settings.textfile_dir, settings.textfile_origin)
    return Config(
        textfile_dir=settings.textfile_dir,
        interval=settings.interval,
        timeout=settings.timeout,
        targets=tuple(targets),
        owner=owner,
        config_path=main_path,
        watched_paths=config_paths(main_path),
        warnings=_exposure_warnings(files),
        textfile_reason=settings.textfile_reason,
        discovery=discovery,
        max_series_total=settings.max_series_total,
    )


def config_paths(config_path: Path) -> tuple[Path, Path]:
    """Return the main file and its conf.d directory: what a reload watches."""
    main = config_path.absolute()
    return main, main.parent / CONFD_NAME


def _targets(
    main: ConfigFile, overrides: Overrides, environ: Mapping[str, str], settings: Settings
) -> tuple[list[Target], str, list[ConfigFile]]:
    """The targets, the owner id they imply (see config_owner), and the files read for them."""
    flagged = command_line_targets(overrides, environ, settings)
    if flagged is not None:
        addrs = (target.addr for target in flagged)
        return flagged, command_line_owner(main.path, settings.textfile_dir, addrs), [main]
    targets, files = file_targets(main, config_paths(main.path)[1], settings)
    return targets, config_owner(main.path), files


def _exposure_warnings(files: Iterable[ConfigFile]) -> tuple[str, ...]:
    """A line for each file that holds a password and that every user may read."""
    return tuple(
        f"{file.path} holds a password and every user may read it: chmod o-r {file.path}"
        for file in files
        if file.mode & stat.S_IROTH and _holds_password(file.table)
    )


def _holds_password(table: Table) -> bool:
    tables = table.get("target")
    if not isinstance(tables, list):
        return False
    return any(
        isinstance(t, dict) and ("password" in t or has_password(t.get("addr"))) for t in tables
    )
