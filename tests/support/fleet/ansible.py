"""The controller's side: the wheelhouse for the hosts' Python, the inventory, ansible-playbook."""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tests.support.fleet.tree import overlay, run_in_tree

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

log = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[3]
ANSIBLE_DIR = REPO / "ansible"
PLAYBOOK_TIMEOUT = 600  # seconds
# What a source copy for `pip wheel` leaves out: nothing of it is part of the package.
_NOT_SOURCE = shutil.ignore_patterns(
    ".git", ".venv", "*_cache", "__pycache__", "build", "dist", "*.egg-info", ".benchmarks"
)
# The controller's settings pip needs to reach an index (proxy, CA, mirror) inside the tree.
_PIP_ENV = (
    "PIP_INDEX_URL",
    "PIP_CERT",
    "PIP_TRUSTED_HOST",
    "PIP_DEFAULT_TIMEOUT",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
)


def build_wheelhouse(tree: Path, workdir: Path) -> Path:
    """textfile-redis's wheel plus its dependencies as the hosts' own Python resolves them.

    The package wheel is pure and built here. The dependencies are resolved by pip running on
    the hosts' interpreter in a throwaway copy of their tree: markers such as redis-py's
    `async-timeout; python_full_version < "3.11.3"` hold for bookworm's 3.11.2 and not for a
    newer controller, and `pip download --python-version` does not evaluate markers for the target.
    """
    started = time.monotonic()
    wheelhouse = workdir / "wheelhouse"
    wheelhouse.mkdir(parents=True)
    package = build_package_wheel(wheelhouse, workdir / "source")
    script = (
        "python3 -m venv /opt/resolver\n"
        "/opt/resolver/bin/python -m pip download --disable-pip-version-check -q"
        f" --only-binary=:all: --dest /wheelhouse /wheelhouse/{package.name}\n"
    )
    env = {key: os.environ[key] for key in _PIP_ENV if key in os.environ}
    with overlay(tree, workdir / "resolver") as root:
        done = run_in_tree(
            root,
            f"textfile-redis-fleet-resolver-{os.getpid()}",
            script,
            binds={wheelhouse: "/wheelhouse"},
            binds_ro=[Path("/etc/ssl/certs")],
            env=env,
        )
    if done.returncode != 0:
        msg = f"resolving the wheelhouse failed:\n{done.stdout}{done.stderr}"
        raise RuntimeError(msg)
    names = sorted(p.name for p in wheelhouse.iterdir())
    log.info("wheelhouse in %.1f s: %s", time.monotonic() - started, ", ".join(names))
    return wheelhouse


def build_package_wheel(wheelhouse: Path, source: Path, epoch: int | None = None) -> Path:
    """Build textfile-redis's wheel into wheelhouse from a copy of the checkout at source.

    The copy keeps the build's files (build/, *.egg-info) out of the checkout. epoch, when given,
    is SOURCE_DATE_EPOCH: the same code, a wheel with other bytes (a developer's rebuild).
    """
    if not source.exists():
        shutil.copytree(REPO, source, ignore=_NOT_SOURCE)
    env = {**os.environ, **({"SOURCE_DATE_EPOCH": str(epoch)} if epoch is not None else {})}
    build = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheelhouse)]
    subprocess.run([*build, str(source)], check=True, timeout=300, env=env)
    (package,) = wheelhouse.glob("textfile_redis-*.whl")
    return package


def write_inventory(
    path: Path, hosts: Mapping[str, Mapping[str, Any]], group_vars: Mapping[str, Any]
) -> Path:
    """An inventory (JSON is YAML) of the textfile_redis group: host name -> its variables."""
    inventory = {"textfile_redis": {"vars": dict(group_vars), "hosts": dict(hosts)}}
    path.write_text(json.dumps(inventory, indent=2) + "\n")
    return path


@dataclass(frozen=True)
class PlaybookRun:
    """One ansible-playbook run: its exit status, its output, the PLAY RECAP per host."""

    returncode: int
    output: str
    recap: dict[str, dict[str, int]]
    seconds: float

    def changed(self, host: str) -> int:
        """The recap's changed= for host."""
        return self.recap[host]["changed"]

    def task(self, name: str) -> str:
        """The output of the task (or handler) named name: its per-host result lines."""
        start = self.output.find(f" [textfile_redis : {name}]")
        if start < 0:
            return ""
        end = self.output.find("\n\n", self.output.find("\n", start) + 1)
        return self.output[start:end]

    def describe(self) -> str:
        """The recap lines, and the whole output when it failed, for assertion messages."""
        recap = self.output[self.output.rfind("PLAY RECAP") :]
        return recap if self.returncode == 0 else self.output[-20000:]


_RECAP_LINE = re.compile(r"^(\S+)\s+:\s+((?:\w+=\d+\s*)+)$", re.MULTILINE)


def parse_recap(output: str) -> dict[str, dict[str, int]]:
    """{host: {"ok": n, "changed": n, ...}} from the PLAY RECAP at the end of the output."""
    recap = output[output.rfind("PLAY RECAP") :]
    return {
        host: {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", counts)}
        for host, counts in _RECAP_LINE.findall(recap)
    }


def run_playbook(inventory: Path, log_path: Path, options: Sequence[str] = ()) -> PlaybookRun:
    """Run ansible/playbook.yml with the repository's ansible.cfg against inventory."""
    env = {
        **os.environ,
        "ANSIBLE_CONFIG": str(ANSIBLE_DIR / "ansible.cfg"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_RETRY_FILES_ENABLED": "0",
        "ANSIBLE_LOCAL_TEMP": str(log_path.parent / "ansible-tmp"),
    }
    argv = ["ansible-playbook", *options, "-i", str(inventory), str(ANSIBLE_DIR / "playbook.yml")]
    started = time.monotonic()
    done = subprocess.run(
        argv,
        cwd=ANSIBLE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=PLAYBOOK_TIMEOUT,
        check=False,
    )
    seconds = time.monotonic() - started
    output = done.stdout + done.stderr
    log_path.write_text(output)
    played = PlaybookRun(done.returncode, output, parse_recap(done.stdout), seconds)
    log.info("ansible-playbook in %.1f s (log %s):\n%s", seconds, log_path, played.describe())
    return played
