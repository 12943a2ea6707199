"""The fleet under test: its hosts, their inventory, and the playbook runs made against them."""

from __future__ import annotations

import os
import shutil
from typing import TYPE_CHECKING, Any

from tests.support.fleet.ansible import run_playbook, write_inventory
from tests.support.tools import unavailable

if TYPE_CHECKING:
    from pathlib import Path

    from tests.support.fleet.ansible import PlaybookRun
    from tests.support.fleet.hosts import Host

HOSTS = 2
SERVICE = "textfile-redis.service"
INTERVAL = 1  # seconds: fast cycles, so a watchdog of 3 s is two intervals and more
FLEET_TOOLS = ("debootstrap", "systemd-nspawn", "ip", "mount", "chroot", "ssh", "ssh-keygen")
ANSIBLE_TOOLS = ("ansible-playbook",)
INSTALLED_BY = "./scripts/test.sh (apt-get install debootstrap systemd-container ...)"


def require_tools(tools: tuple[str, ...], *, root: bool) -> None:
    """Skip when a tool (or root) is missing (fail on CI, tests.support.tools' one rule)."""
    missing = [tool for tool in tools if shutil.which(tool) is None]
    problems = [f"missing {', '.join(missing)}; {INSTALLED_BY}"] if missing else []
    if root and os.geteuid() != 0:
        problems.append("must run as root (it mounts, boots containers and makes netns)")
    if problems:
        unavailable("; ".join(problems))


class Fleet:
    """The booted hosts, their inventory, and the playbook runs made against them."""

    def __init__(self, hosts: list[Host], workdir: Path, wheelhouse: Path, password: str) -> None:
        self.hosts = hosts
        self.workdir = workdir
        self.wheelhouse = wheelhouse
        self.password = password
        self.targets = {host.name: self.default_targets(host) for host in hosts}
        self.host_vars: dict[str, dict[str, Any]] = {host.name: {} for host in hosts}
        self.runs: list[PlaybookRun] = []

    def default_targets(self, host: Host) -> list[dict[str, Any]]:
        """Both servers on the host: the package's Redis and the password-protected second."""
        return [
            {
                "name": "main",
                "addr": "redis://127.0.0.1:6379",
                "labels": {"cluster": "fleet", "fleet_host": host.name},
            },
            {"name": "second", "addr": "redis://127.0.0.1:6380", "password": self.password},
        ]

    def play(self, *options: str) -> PlaybookRun:
        """Run the playbook with the current targets; a failed run fails the test with its log."""
        number = len(self.runs) + 1
        hosts = {
            host.name: {
                "ansible_host": host.spec.address,
                "textfile_redis_targets": self.targets[host.name],
                **self.host_vars[host.name],
            }
            for host in self.hosts
        }
        inventory = write_inventory(
            self.workdir / f"inventory-{number}.yml",
            hosts,
            {
                "ansible_user": "root",
                "ansible_python_interpreter": "/usr/bin/python3",
                "ansible_ssh_private_key_file": str(self.workdir / "id_ed25519"),
                "ansible_ssh_common_args": (
                    "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR"
                ),
                "textfile_redis_install_source": "wheelhouse",
                "textfile_redis_wheelhouse_dir": str(self.wheelhouse),
                "textfile_redis_interval": INTERVAL,
                "textfile_redis_timeout": INTERVAL / 2,
            },
        )
        played = run_playbook(inventory, self.workdir / f"playbook-{number}.log", options)
        self.runs.append(played)
        assert played.returncode == 0, played.describe() + self.journals()
        return played

    def journals(self) -> str:
        """Each host's service status and journal, for failure messages."""
        command = (
            f"systemctl status --no-pager -l {SERVICE}; journalctl -b -u {SERVICE} -n 60 -o cat"
        )
        return "".join(
            f"\n--- {host.name}:\n{host.ssh(command, check=False).stdout}" for host in self.hosts
        )
