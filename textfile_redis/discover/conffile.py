"""Where a server listens, from its config file or command line: port, bind, unixsocket, tls-port.

Only those directives are read. Passwords (requirepass, masterauth, ACL files) are never parsed.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from .procfs import read_text

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

DEFAULT_PORT = 6379
SENTINEL_PORT = 26379
HIGHEST_PORT = 65535
LINES_MAX = 1 << 15
DIRECTIVES = frozenset({"port", "bind", "unixsocket", "tls-port", "sentinel"})


@dataclass(frozen=True, slots=True)
class Listening:
    """What a config says about listening; None where it says nothing."""

    port: int | None = None
    tls_port: int | None = None
    binds: tuple[str, ...] = ()
    unixsocket: str | None = None
    sentinel: bool = False
    complete: bool = True  # False when part of it (a config file) could not be read
    sources: tuple[str, ...] = field(default=())

    def effective_port(self) -> int | None:
        """The TCP port, with the server's default when the whole config was read."""
        if self.port is not None or not self.complete:
            return self.port
        return SENTINEL_PORT if self.sentinel else DEFAULT_PORT


def parse(text: str) -> Listening:
    """Read the listening directives of a config text; malformed lines are skipped."""
    found = Listening()
    for line in text.splitlines()[:LINES_MAX]:
        words = _words(line)
        if words and words[0].lower() in DIRECTIVES:
            found = _apply(found, words[0].lower(), words[1:])
    return found


def _words(line: str) -> list[str]:
    stripped = line.strip()
    if not stripped or stripped.startswith("#"):
        return []
    try:
        return shlex.split(stripped)
    except ValueError:  # an unbalanced quote: redis-server would refuse it too
        return []


def _apply(found: Listening, name: str, values: Sequence[str]) -> Listening:
    if name == "sentinel":
        return replace(found, sentinel=True)
    if name == "bind":
        return replace(found, binds=tuple(values))
    if not values:
        return found
    if name == "unixsocket":
        return replace(found, unixsocket=values[0])
    port = _port(values[0])
    if port is None:
        return found
    return replace(found, port=port) if name == "port" else replace(found, tls_port=port)


def _port(text: str) -> int | None:
    if not text.isdigit() or int(text) > HIGHEST_PORT:
        return None
    return int(text)


def merge(base: Listening, override: Listening) -> Listening:
    """The config file's values with the command line's options over them."""
    return Listening(
        port=override.port if override.port is not None else base.port,
        tls_port=override.tls_port if override.tls_port is not None else base.tls_port,
        binds=override.binds or base.binds,
        unixsocket=override.unixsocket or base.unixsocket,
        sentinel=base.sentinel or override.sentinel,
        complete=base.complete and override.complete,
        sources=(*base.sources, *override.sources),
    )


def from_file(path: Path) -> Listening | None:
    """A server config file's listening directives; None when it is unreadable."""
    text = read_text(path)
    if text is None:
        return None
    return replace(parse(text), sources=(f"config {path}",))


def from_argv(argv: Sequence[str], cwd: Path | None) -> Listening | None:
    """What an untitled command line (`set-proc-title no`) says: its config file and options.

    The file, when not readable (another user's), leaves the defaults unknown. None when the
    command line says nothing about listening.
    """
    args = list(argv[1:])
    config: Listening | None = None
    if args and not args[0].startswith("-"):
        name = args.pop(0)
        # A server's config file ends in .conf; a script an impostor runs does not count.
        config = _argv_file(name, cwd) if name.endswith(".conf") else None
    options = parse("\n".join(_option_lines(args)))
    if config is None and options == Listening():
        return None
    options = replace(options, sources=("argv",))
    return merge(config, options) if config is not None else options


def _argv_file(name: str, cwd: Path | None) -> Listening:
    path = Path(name) if name.startswith("/") else (cwd / name if cwd is not None else None)
    read = from_file(path) if path is not None else None
    return read if read is not None else Listening(complete=False)


def _option_lines(args: Iterable[str]) -> list[str]:
    """`--port 7000 --bind a b` as config lines, the way redis-server reads them."""
    lines: list[list[str]] = []
    for arg in args:
        if arg.startswith("--"):
            lines.append([arg[2:]])
        elif lines:
            lines[-1].append(arg)
    return [shlex.join(line) for line in lines]
