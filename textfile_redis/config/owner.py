"""Owner ids: which instance may replace or remove a file, written in every file's marker."""

from __future__ import annotations

import hashlib
import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path


def config_owner(config_path: Path) -> str:
    """Return the owner id of a configuration whose targets come from its file.

    The owner id, written in every file's marker, says which instance may replace or remove a
    file. The rule:
    - targets from the configuration file (main file and conf.d): a hash of the file's resolved
      path, so a deployment keeps owning its files across restarts, edits and upgrades;
    - targets from --redis-addr or REDIS_ADDR (with or without a config file): a hash of that
      path, the resolved textfile directory and the sorted normalised target addresses (see
      command_line_owner), so instances started without a config file of their own never share
      an id, and `cleanup` with the same addresses finds the same id.
    """
    resolved = os.fsencode(config_path.absolute().resolve())
    return hashlib.sha256(resolved).hexdigest()[:12]


def command_line_owner(config_path: Path, textfile_dir: Path, addrs: Iterable[str]) -> str:
    """Return the owner id of a configuration whose targets come from flags or environment."""
    paths = (os.fsencode(path.absolute().resolve()) for path in (config_path, textfile_dir))
    names = sorted(addr.encode(errors="surrogateescape") for addr in addrs)
    return hashlib.sha256(b"\0".join([*paths, *names])).hexdigest()[:12]
