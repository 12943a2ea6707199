"""The hosts' root tree: a cached debootstrap of Debian, overlay copies of it, cgroups, nspawn."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import shutil
import subprocess
import time
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from tests.support.processes import wait_for

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping, Sequence

log = logging.getLogger(__name__)

SUITE = "bookworm"
MIRROR = os.environ.get("TEXTFILE_REDIS_FLEET_MIRROR", "http://deb.debian.org/debian")
CACHE_DIR = Path(os.environ.get("TEXTFILE_REDIS_FLEET_CACHE", "/var/cache/textfile-redis-fleet"))
# What a host of the fleet has before the role runs: systemd, sshd, Python for Ansible (and venv
# for the role), the Redis server it scrapes and the node_exporter that serves the textfiles.
PACKAGES = (
    "dbus",
    "iproute2",
    "openssh-server",
    "prometheus-node-exporter",
    "python3",
    "python3-venv",
    "redis-server",
    "systemd",
    "systemd-sysv",
)
DEBOOTSTRAP_TIMEOUT = 900  # seconds; about one minute here
NSPAWN = ("systemd-nspawn", "--register=no", "--keep-unit", "--quiet")
# On a host whose /sys/fs/cgroup is the legacy or hybrid layout, give each container a pure
# cgroup v2 tree, as a booted bookworm host has.
NSPAWN_ENV = {"SYSTEMD_NSPAWN_UNIFIED_HIERARCHY": "1"}


def tree_key() -> str:
    """The cache key: suite, mirror and package list decide what debootstrap makes."""
    recipe = json.dumps([SUITE, MIRROR, sorted(PACKAGES), "minbase"]).encode()
    return hashlib.sha256(recipe).hexdigest()[:16]


def debian_tree(cache_dir: Path = CACHE_DIR) -> Path:
    """The debootstrapped tree for this package list, built once and then taken from the cache."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    tree = cache_dir / f"{SUITE}-{tree_key()}"
    with _locked(cache_dir / ".lock"):
        if tree.is_dir():
            log.info("host tree from cache: %s", tree)
            return tree
        partial = cache_dir / f".{tree.name}.partial"
        shutil.rmtree(partial, ignore_errors=True)
        _debootstrap(partial, cache_dir / f"{tree.name}.log")
        _prepare_image(partial)
        partial.rename(tree)  # whole or absent: a killed build never looks finished
    return tree


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _debootstrap(target: Path, log_path: Path) -> None:
    argv = [
        "debootstrap",
        "--variant=minbase",
        f"--include={','.join(PACKAGES)}",
        SUITE,
        str(target),
        MIRROR,
    ]
    log.info("debootstrap: %s", " ".join(argv))
    started = time.monotonic()
    with log_path.open("wb") as output:
        done = subprocess.run(
            argv, stdout=output, stderr=subprocess.STDOUT, timeout=DEBOOTSTRAP_TIMEOUT, check=False
        )
    if done.returncode != 0:
        tail = log_path.read_text(errors="replace")[-3000:]
        msg = f"debootstrap failed ({done.returncode}), log {log_path}:\n{tail}"
        raise RuntimeError(msg)
    log.info("debootstrap took %.0f s", time.monotonic() - started)


def _prepare_image(root: Path) -> None:
    """Make the tree a template: every copy gets its own machine id and ssh host keys."""
    (root / "etc/machine-id").write_text("")
    for key in (root / "etc/ssh").glob("ssh_host_*"):
        key.unlink()


@contextlib.contextmanager
def overlay(lower: Path, workdir: Path) -> Iterator[Path]:
    """A writable copy of lower at workdir/root (overlayfs; a plain copy where that fails)."""
    root, upper, work = workdir / "root", workdir / "upper", workdir / "work"
    for directory in (root, upper, work):
        directory.mkdir(parents=True)
    options = f"lowerdir={lower},upperdir={upper},workdir={work}"
    mounted = run(["mount", "-t", "overlay", "overlay", "-o", options, str(root)], check=False)
    if mounted.returncode != 0:
        log.warning("overlayfs refused (%s); copying the tree", mounted.stderr.strip())
        run(["cp", "-a", "--reflink=auto", f"{lower}/.", str(root)])
    try:
        yield root
    finally:
        if mounted.returncode == 0:
            _unmount(root)
        shutil.rmtree(workdir, ignore_errors=True)


def _unmount(path: Path) -> None:
    # A container's last processes may still hold it for a moment.
    try:
        wait_for(lambda: run(["umount", str(path)], check=False).returncode == 0, 5.0, 0.1)
    except TimeoutError:
        run(["umount", "--lazy", str(path)], check=False)


def run(
    argv: Sequence[str], *, check: bool = True, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run a controller-side command and capture its output; raise with it when check fails."""
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    if check and done.returncode != 0:
        msg = f"{' '.join(argv)} exited {done.returncode}:\n{done.stdout}{done.stderr}"
        raise RuntimeError(msg)
    return done


class Cgroup:
    """A cgroup of our own for one systemd-nspawn, in every hierarchy a container needs.

    With --keep-unit (there is no system bus to ask for a scope), nspawn splits the cgroup it was
    started in into supervisor/ and payload/. Started side by side from one cgroup, two containers
    would share payload/ and so each other's service cgroups: a stop in one kills the other's.
    """

    def __init__(self, name: str) -> None:
        self.paths = [base / name for base in _cgroup_bases()]

    def create(self) -> None:
        """Make the cgroup in each hierarchy."""
        for path in self.paths:
            path.mkdir(exist_ok=True)

    def wrap(self, argv: Sequence[str]) -> list[str]:
        """The command line that runs argv from inside this cgroup."""
        procs = " ".join(str(path / "cgroup.procs") for path in self.paths)
        script = f'for procs in {procs}; do echo $$ > "$procs" || exit 1; done; exec "$@"'
        return ["/bin/sh", "-c", script, "sh", *argv]

    def remove(self) -> None:
        """Remove the cgroup and what the container left below it, once they are empty."""
        for path in self.paths:
            with contextlib.suppress(TimeoutError):  # left for the host to reap, as before
                wait_for(partial(_gone_or_removed, path), timeout=5.0, interval=0.1)


def _cgroup_bases() -> list[Path]:
    top = Path("/sys/fs/cgroup")
    if (top / "cgroup.controllers").exists():  # pure cgroup v2
        return [top]
    return [top / name for name in ("unified", "systemd") if (top / name).is_dir()]


def _gone_or_removed(path: Path) -> bool:
    return not path.exists() or _rmdir_tree(path)


def _rmdir_tree(path: Path) -> bool:
    """Remove every cgroup below path, deepest first; True when path is gone."""
    for directory, _subdirs, _files in sorted(os.walk(path), key=lambda w: -len(w[0])):
        with contextlib.suppress(OSError):
            Path(directory).rmdir()
    return not path.exists()


def run_in_tree(  # noqa: PLR0913 - each option is one nspawn flag
    root: Path,
    machine: str,
    script: str,
    *,
    binds: Mapping[Path, str] | None = None,
    binds_ro: Sequence[Path] = (),
    env: Mapping[str, str] | None = None,
    timeout: float = 300,
) -> subprocess.CompletedProcess[str]:
    """Run a shell script inside the tree (not booted) with the controller's network."""
    cgroup = Cgroup(machine)
    cgroup.create()
    argv = [*NSPAWN, f"--machine={machine}", "-D", str(root)]
    argv += [f"--bind={source}:{target}" for source, target in (binds or {}).items()]
    argv += [f"--bind-ro={source}" for source in binds_ro]
    argv += [f"--setenv={key}={value}" for key, value in (env or {}).items()]
    argv += ["/bin/sh", "-ec", script]
    try:
        return subprocess.run(
            cgroup.wrap(argv),
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, **NSPAWN_ENV},
            check=False,
        )
    finally:
        cgroup.remove()
