"""Run the real command line in a child process, with a clean environment and a config file."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence
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


class RunningDaemon:
    """`textfile-redis run` in a child process, its stderr kept in a file for assertions."""

    def __init__(
        self,
        config: Path,
        log_path: Path,
        *,
        env: dict[str, str] | None = None,
        argv_prefix: Sequence[str] = (),
    ) -> None:
        self.log_path = log_path
        with log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [
                    *argv_prefix,
                    sys.executable,
                    "-m",
                    "textfile_redis",
                    "run",
                    "--config",
                    str(config),
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                env=env if env is not None else clean_env(),
            )

    @property
    def pid(self) -> int:
        """The child's process id."""
        return self.process.pid

    def log(self) -> str:
        """Everything the daemon logged so far."""
        return self.log_path.read_text(errors="replace")

    def send(self, signum: int) -> None:
        """Send a signal to the daemon."""
        self.process.send_signal(signum)

    def wait(self, timeout: float) -> int:
        """Wait for the daemon to exit; its exit status."""
        return self.process.wait(timeout)

    def kill(self) -> None:
        """SIGKILL the daemon if it still runs, and reap it (for test teardown)."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(10)
