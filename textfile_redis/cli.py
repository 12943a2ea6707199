"""Command line: arguments, logging, and the one place that maps errors to exit codes."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import __version__
from .config import (
    DEFAULT_CONFIG_PATH,
    DISCOVERED,
    Config,
    ConfigError,
    Overrides,
    load_config,
    with_servers,
)
from .cycle import Collector, budgeted
from .daemon import STOP_WRITERS_TIMEOUT, Daemon, remove_owned
from .discover import Server, TextfileDir, discover, textfile_dir
from .notify import Notifier
from .scrape import Scraper
from .textfile import conflict, remove_files, temp_files

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from .config import Target
    from .scrape import ScrapeResult

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_CONFIG = 78  # EX_CONFIG: systemd's RestartPreventExitStatus=78 stops a restart loop
EXIT_INTERRUPTED = 130  # a command other than run stopped by SIGINT or SIGTERM, as shells say

log = logging.getLogger("textfile_redis")


def main(argv: Sequence[str] | None = None, early_signals: list[int] | None = None) -> int:
    """Run the command line; returns the process exit code.

    early_signals: stop signals entry.py caught while this module was being imported. `run`
    acts on them (and on those still to come) once its own handlers are in.
    """
    args = _parser().parse_args(argv)
    args.early_signals = early_signals if early_signals is not None else []
    if args.handler is not _run:
        _interrupt_on_stop_signals()
        if args.early_signals:
            return EXIT_INTERRUPTED
    _setup_logging(args.log_level, args.log_format)
    try:
        return _dispatch(args)
    except KeyboardInterrupt:  # once, check or cleanup stopped by SIGINT or SIGTERM: quietly
        return EXIT_INTERRUPTED


def _dispatch(args: argparse.Namespace) -> int:
    """Load the configuration and run the command on it."""
    if args.command == "discover":  # the one command that needs no configuration
        return _discover(args)
    overrides = Overrides(
        config_path=args.config,
        textfile_dir=args.textfile_dir,
        redis_addrs=tuple(args.redis_addr or ()),
        interval=args.interval,
    )
    # cleanup needs only where the files are and whose they are: no password, no target
    cleaning = args.handler is _cleanup
    try:
        config = load_config(
            overrides, os.environ, read_secrets=not cleaning, allow_no_targets=cleaning
        )
    except ConfigError as exc:
        log.error("configuration error: %s", exc)  # noqa: TRY400 - one line, never a traceback
        return EXIT_CONFIG
    if args.handler is not _run:  # run logs them itself, at start and at every reload
        for warning in config.warnings:
            log.warning("%s", warning)
    command: Callable[[Config, argparse.Namespace, Overrides], int] = args.handler
    return command(config, args, overrides)


def _interrupt_on_stop_signals() -> None:
    """SIGTERM interrupts a one-shot command as SIGINT does: cleaned up, exit 130, not 143."""
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    signal.signal(signal.SIGINT, signal.default_int_handler)


def _run(config: Config, args: argparse.Namespace, overrides: Overrides) -> int:
    log.info(
        "textfile-redis %s: %d configured target(s) into %s (%s) every %gs; %s",
        __version__,
        len(config.targets),
        config.textfile_dir,
        config.textfile_reason,
        config.interval,
        _discovery_summary(config),
    )
    notifier = Notifier(os.environ)

    daemon = Daemon(config, reloader(config, overrides), notifier, discover=discover)
    return daemon.run(early_signals=args.early_signals)


def reloader(config: Config, overrides: Overrides) -> Callable[[], Config]:
    """How `run` loads its configuration again, keeping the directory it started with.

    A directory found from node_exporter, looked for again at a reload while node_exporter
    restarts, could move every file to where nothing reads it; one the file or a flag names is
    read again as usual.
    """
    started_in = TextfileDir(config.textfile_dir, "kept from start-up")

    def reload() -> Config:
        return load_config(
            overrides, os.environ, allow_no_targets=True, find_textfile_dir=lambda: started_in
        )

    return reload


def _discovery_summary(config: Config) -> str:
    if config.discovery is None:
        return "discovery off"
    discovery = config.discovery
    return f"discovery on ({discovery.reason}), every {discovery.interval:g}s"


def _with_discovered(config: Config) -> Config:
    """The configuration with the servers discovered now, when discovery is on."""
    return with_servers(config, discover()) if config.discovery is not None else config


def _once(config: Config, _args: argparse.Namespace, _overrides: Overrides) -> int:
    config = _with_discovered(config)
    if not config.targets:
        log.warning("nothing to collect: no target is configured and discovery found no server")
    collector = Collector(config)
    try:
        reports = collector.cycle()
    except KeyboardInterrupt:
        _abandon(collector, config)
        raise
    finally:
        collector.close()
    failed = [report for report in reports if not report.ok]
    for report in failed:
        log.error("%s", report.describe())
    return EXIT_FAILURE if failed else EXIT_OK


def _abandon(collector: Collector, config: Config) -> None:
    """An interrupted cycle: let writers in mid-write finish, then remove their temp files.

    Workers are daemon threads that die with the process; one killed between creating its
    temp file and renaming it would leave the file behind.
    """
    collector.stop(STOP_WRITERS_TIMEOUT)
    remove_files(temp_files(config.textfile_dir, config.owner), config.owner)


def _check(config: Config, args: argparse.Namespace, _overrides: Overrides) -> int:
    config = _with_discovered(config)
    print(  # noqa: T201
        f"configuration ok: {len(config.targets)} target(s), writing to {config.textfile_dir}"
        f" ({config.textfile_reason}); {_discovery_summary(config)}"
    )
    for target in config.targets:
        origin = "discovered" if target.source == DISCOVERED else f"from {target.source}"
        notes = "; ".join(note for note in (origin, target.advice) if note)
        print(f"  {target.name}\t{target.addr}\t{notes}")  # noqa: T201
    failures = _print_conflicts(config)
    if not args.connect:
        return EXIT_FAILURE if failures else EXIT_OK
    for target in config.targets:
        scraper = Scraper(target)
        result = scraper.scrape()
        scraper.close()
        failures += result.error is not None
        status = f"failed: {result.error}" if result.error else f"ok in {result.duration:.3f}s"
        status += f"; {_series(config, target, result)}"
        print(f"target {target.name} ({target.addr}): {status}")  # noqa: T201
    return EXIT_FAILURE if failures else EXIT_OK


def _series(config: Config, target: Target, result: ScrapeResult) -> str:
    """`412 of 10000 series`, and what the budget would leave out or cannot hold."""
    verdict = budgeted(config, target, result)
    text = f"{verdict.series} of {verdict.limit} series"
    if verdict.dropped:
        text += ", left out: " + ", ".join(f"{f} ({n})" for f, n in verdict.dropped.items())
    if verdict.over:
        text += ", over the budget in default families alone"
    return text


def _print_conflicts(config: Config) -> int:
    """Say which targets' files are held by someone else (their writes would fail); how many."""
    conflicts = 0
    for target in config.targets:
        problem = conflict(config.textfile_dir / target.filename, config.owner)
        if problem:
            conflicts += 1
            print(f"target {target.name}: cannot write {target.filename}: it is {problem}")  # noqa: T201
    return conflicts


def _cleanup(config: Config, _args: argparse.Namespace, _overrides: Overrides) -> int:
    removed = remove_owned(config)
    log.info("removed %d file(s) from %s", len(removed), config.textfile_dir)
    return EXIT_OK


def _discover(args: argparse.Namespace) -> int:
    servers = discover()
    directory = textfile_dir()
    if args.toml:
        print(_discovered_toml(servers, directory), end="")  # noqa: T201
        return EXIT_OK
    for server in servers:
        credential = "needs a credential" if server.needs_credential else "no credential needed"
        columns = [server.name, server.addr, server.kind, f"found by {', '.join(server.found_by)}"]
        columns.append(credential)
        if server.other_addrs:
            columns.append(f"also at {', '.join(server.other_addrs)}")
        print("\t".join(columns))  # noqa: T201
    print(f"textfile directory: {directory.path} ({directory.reason})")  # noqa: T201
    return EXIT_OK


def _discovered_toml(servers: Sequence[Server], directory: TextfileDir) -> str:
    """[[target]] tables to paste into a configuration, what is not in them as comments."""
    lines = [f"# textfile directory: {directory.path} ({directory.reason})"]
    for server in servers:
        lines += ["", f"# {server.kind}, found by {', '.join(server.found_by)}"]
        if server.needs_credential:
            lines.append("# needs a credential: add username and password_file for it")
        if server.other_addrs:
            lines.append(f"# also at {', '.join(server.other_addrs)}")
        lines += ["[[target]]", f"name = {_toml_string(server.name)}"]
        lines.append(f"addr = {_toml_string(server.addr)}")
    return "\n".join(lines) + "\n"


def _toml_string(text: str) -> str:
    # A JSON string without ASCII escaping is a TOML basic string, but for DEL.
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def _parser() -> argparse.ArgumentParser:
    """The command line; options go before or after the command, each command lists its own."""
    parser = argparse.ArgumentParser(
        prog="textfile-redis",
        description="Write Redis and Valkey metrics into node_exporter's textfile directory.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    _add_options(parser, _OPTIONS, given_only=False)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, handler, summary, options in _commands():
        sub = commands.add_parser(name, help=summary, description=summary)
        sub.set_defaults(handler=handler)
        # Given after the command, an option overrides; not given, it leaves the value as set
        # before the command (or the default) alone.
        _add_options(sub, options, given_only=True)
        if name == "check":
            sub.add_argument("--connect", action="store_true", help="also scrape every target")
        if name == "discover":
            sub.add_argument("--toml", action="store_true", help="print [[target]] tables")
    return parser


def _commands() -> tuple[tuple[str, Callable[..., int], str, tuple[str, ...]], ...]:
    """Each command: its handler, what it does, and the options it uses."""
    everywhere = ("--config", "--textfile-dir", "--redis-addr", "--log-level", "--log-format")
    return (
        ("run", _run, "collect every interval until SIGTERM or SIGINT, then remove the files",
         (*everywhere, "--interval")),
        ("once", _once, "collect once and exit: 0 when every target's file is fresh, else 1",
         everywhere),
        ("check", _check, "validate the configuration (and with --connect, every target)",
         (*everywhere, "--interval")),
        ("cleanup", _cleanup, "remove the files this configuration owns", everywhere),
        ("discover", _discover, "list the local servers and the textfile directory found",
         ("--log-level", "--log-format")),
    )  # fmt: skip


_OPTIONS = (
    "--config",
    "--textfile-dir",
    "--redis-addr",
    "--interval",
    "--log-level",
    "--log-format",
)


def _add_options(
    parser: argparse.ArgumentParser, names: Sequence[str], *, given_only: bool
) -> None:
    specs = _option_specs()
    for name in names:
        spec = dict(specs[name])
        if given_only:
            spec["default"] = argparse.SUPPRESS
        parser.add_argument(name, **spec)


def _option_specs() -> dict[str, dict[str, Any]]:
    return {
        "--config": {
            "type": Path,
            "help": f"main configuration file (default {DEFAULT_CONFIG_PATH})",
        },
        "--textfile-dir": {"type": Path, "help": "node_exporter's textfile directory"},
        "--redis-addr": {
            "action": "append",
            "metavar": "URL",
            "help": "server to scrape, instead of the file's targets (repeatable); no passwords"
            " here: use REDIS_PASSWORD or REDIS_PASSWORD_FILE",
        },
        "--interval": {"type": _positive_seconds, "help": "seconds between cycles"},
        "--log-level": {"default": "info", "choices": ("debug", "info", "warning", "error")},
        "--log-format": {"default": "text", "choices": ("text", "json")},
    }


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        msg = f"expected a number of seconds > 0, got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return value


class _JsonFormatter(logging.Formatter):
    """One JSON object per line, for journald and log shippers."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def _setup_logging(level: str, log_format: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(_JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("textfile-redis: %(levelname)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
