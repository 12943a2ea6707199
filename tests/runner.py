"""Run the real command line in a child process, with a clean environment and a config file."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

# redis_exporter's variables, which the product reads: a developer's shell must not leak them in.
_PRODUCT_ENV = ("REDIS_ADDR", "REDIS_USER", "REDIS_PASSWORD", "REDIS_PASSWORD_FILE")


def clean_env(**extra: str) -> dict[str, str]:
    """The test process's environment without the product's variables, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if k not in _PRODUCT_ENV}
    env.update(extra)
    return env


def textfile_redis(
    *args: str, env: dict[str, str] | None = None, umask: int = -1, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run `python -m textfile_redis ARGS` to completion and capture its output."""
    return subprocess.run(
        [sys.executable, "-m", "textfile_redis", *args],
        capture_output=True,
        text=True,
        env=env if env is not None else clean_env(),
        umask=umask,
        timeout=timeout,
        check=False,
    )


def write_config(path: Path, textfile_dir: Path, targets: list[dict[str, str]], **top: str) -> Path:
    """Write a config.toml with the given [[target]] tables (string values only) and top keys."""
    lines = [f'textfile_dir = "{textfile_dir}"']
    lines += [f"{key} = {value}" for key, value in top.items()]
    for target in targets:
        lines.append("[[target]]")
        lines += [f'{key} = "{value}"' for key, value in target.items()]
    path.write_text("\n".join(lines) + "\n")
    return path
