"""Booted hosts: overlay copies of the tree, each in its own network namespace, reached over ssh."""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import os
import re
import shlex
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tests.support.fleet.tree import NSPAWN, NSPAWN_ENV, Cgroup, overlay, run
from tests.support.processes import wait_for

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

log = logging.getLogger(__name__)

TEST_RANGE = ipaddress.IPv4Network("198.18.0.0/15")  # RFC 2544 benchmarking range
BOOT_DEADLINE = 90.0  # seconds from nspawn's start to `systemctl is-system-running` = running
POWEROFF_DEADLINE = 30.0
SSH_OPTIONS = (
    "-o", "BatchMode=yes",
    "-o", "StrictHostKeyChecking=no",
    "-o", "UserKnownHostsFile=/dev/null",
    "-o", "LogLevel=ERROR",
    "-o", "ConnectTimeout=5",
)  # fmt: skip

# Run in the host's tree before it boots: what prometheus-community's node_exporter role leaves
# (group node-exp, /var/lib/node_exporter group-writable, node_exporter reading it), and a second
# Redis on port 6380 that wants a password.
PROVISION = r"""
echo "$HOST_NAME" > /etc/hostname
printf '127.0.1.1\t%s\n' "$HOST_NAME" >> /etc/hosts
ssh-keygen -A
install -d -m 0700 /root/.ssh
printf '%s\n' "$AUTHORIZED_KEY" > /root/.ssh/authorized_keys
chmod 0600 /root/.ssh/authorized_keys
groupadd --system node-exp
install -d -o root -g node-exp -m 0775 /var/lib/node_exporter
echo 'ARGS="--collector.textfile.directory=/var/lib/node_exporter"' \
    > /etc/default/prometheus-node-exporter
cat > /etc/redis/redis-second.conf <<EOF
include /etc/redis/redis.conf
port 6380
pidfile /run/redis-second/redis-server.pid
logfile ""
dbfilename second.rdb
requirepass $SECOND_PASSWORD
EOF
chown redis:redis /etc/redis/redis-second.conf
chmod 0640 /etc/redis/redis-second.conf
systemctl enable redis-server@second.service
"""


@dataclass(frozen=True)
class HostSpec:
    """Names and addresses of one host: controller side .1 and host .2 of its own /30."""

    name: str
    netns: str
    veth: str
    address: str
    gateway: str

    @classmethod
    def numbered(cls, prefix: str, index: int, subnet: ipaddress.IPv4Network) -> HostSpec:
        """Host index (0-based) in subnet: 198.18.N.4i+1 (controller) and .4i+2 (host)."""
        base = subnet.network_address + 4 * index
        return cls(
            name=f"{prefix}h{index + 1}",
            netns=f"{prefix}h{index + 1}",
            veth=f"{prefix}c{index + 1}",
            address=str(base + 2),
            gateway=str(base + 1),
        )


class Host:
    """One booted host; every method that reaches into it goes through ssh."""

    def __init__(self, spec: HostSpec, root: Path, ssh_key: Path, console_log: Path) -> None:
        self.spec = spec
        self.root = root
        self.ssh_key = ssh_key
        self.console_log = console_log
        self._nspawn: subprocess.Popen[bytes] | None = None
        self._cgroup = Cgroup(f"textfile-redis-fleet-{spec.name}")

    @property
    def name(self) -> str:
        """The host's name: machine, hostname and netns."""
        return self.spec.name

    def ssh(
        self, command: str, *, check: bool = True, timeout: float = 60
    ) -> subprocess.CompletedProcess[str]:
        """Run a shell command on the host as root."""
        argv = ["ssh", "-i", str(self.ssh_key), *SSH_OPTIONS, f"root@{self.spec.address}", command]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
        if check and done.returncode != 0:
            msg = f"{self.name}: {command!r} exited {done.returncode}:\n{done.stdout}{done.stderr}"
            raise AssertionError(msg)
        return done

    def boot(self) -> None:
        """Start systemd-nspawn --boot in the host's netns and cgroup; returns at once."""
        self._cgroup.create()
        argv = [
            *NSPAWN,
            "--boot",
            "--console=read-only",
            "--resolv-conf=off",
            f"--machine={self.name}",
            f"--network-namespace-path=/run/netns/{self.spec.netns}",
            "-D",
            str(self.root),
        ]
        with self.console_log.open("wb") as console:
            self._nspawn = subprocess.Popen(
                self._cgroup.wrap(argv),
                stdin=subprocess.DEVNULL,
                stdout=console,
                stderr=subprocess.STDOUT,
                env={**os.environ, **NSPAWN_ENV},
                start_new_session=True,
            )

    def wait_until_running(self) -> None:
        """Wait for ssh and for systemd to report the boot finished with no failed unit."""
        state = ""

        def running() -> bool:
            nonlocal state
            if self._nspawn is not None and self._nspawn.poll() is not None:
                msg = f"{self.name}: systemd-nspawn exited {self._nspawn.returncode}"
                raise AssertionError(f"{msg}:\n{self.console_tail()}")
            done = self.ssh("systemctl is-system-running", check=False, timeout=10)
            state = done.stdout.strip()
            return state in {"running", "degraded"}

        wait_for(running, timeout=BOOT_DEADLINE, interval=0.5, message=f"{self.name} booted")
        if state != "running":
            failed = self.ssh("systemctl --failed --no-legend --plain", check=False).stdout
            msg = f"{self.name} booted {state}; failed units:\n{failed}"
            raise AssertionError(msg)

    def console_tail(self, size: int = 3000) -> str:
        """The end of the container's console output, for failure messages."""
        return self.console_log.read_text(errors="replace")[-size:]

    def poweroff(self) -> None:
        """Ask the container's systemd to power off (nspawn turns SIGTERM into that); else kill."""
        process = self._nspawn
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(POWEROFF_DEADLINE)
            except subprocess.TimeoutExpired:
                log.warning("%s did not power off in time; killing it", self.name)
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(POWEROFF_DEADLINE)
        self._cgroup.remove()
        # nspawn removes this itself on a clean exit, not after a kill.
        shutil.rmtree(f"/run/systemd/nspawn/propagate/{self.name}", ignore_errors=True)

    def provision(self, authorized_key: str, second_password: str) -> None:
        """Set the host up before it boots (chroot into its tree)."""
        env = {
            "HOST_NAME": self.name,
            "AUTHORIZED_KEY": authorized_key,
            "SECOND_PASSWORD": second_password,
            "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
        }
        done = subprocess.run(
            ["chroot", str(self.root), "/bin/sh", "-ec", PROVISION],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
            check=False,
        )
        if done.returncode != 0:
            msg = f"provisioning {self.name} failed:\n{done.stdout}{done.stderr}"
            raise RuntimeError(msg)


@contextlib.contextmanager
def network(spec: HostSpec) -> Iterator[None]:
    """The host's netns and the veth pair to it; the host gets no route beyond its /30."""
    run(["ip", "netns", "add", spec.netns])
    try:
        peer = ["peer", "name", "eth0", "netns", spec.netns]
        run(["ip", "link", "add", spec.veth, "type", "veth", *peer])
        run(["ip", "addr", "add", f"{spec.gateway}/30", "dev", spec.veth])
        run(["ip", "link", "set", spec.veth, "up"])
        inside = ["ip", "-n", spec.netns]
        run([*inside, "addr", "add", f"{spec.address}/30", "dev", "eth0"])
        run([*inside, "link", "set", "eth0", "up"])
        run([*inside, "link", "set", "lo", "up"])
        yield
    finally:
        run(["ip", "link", "del", spec.veth], check=False)
        run(["ip", "netns", "del", spec.netns], check=False)


def free_subnet() -> ipaddress.IPv4Network:
    """A /24 of the test range that no interface here uses (another fleet may be running)."""
    used = run(["ip", "-o", "-4", "addr", "show"]).stdout
    taken = {ipaddress.ip_network(m, strict=False) for m in re.findall(r"inet (\S+)", used)}
    for subnet in TEST_RANGE.subnets(new_prefix=24):
        if not any(subnet.overlaps(net) for net in taken):
            return subnet
    msg = "every /24 of 198.18.0.0/15 is in use"
    raise RuntimeError(msg)


@contextlib.contextmanager
def booted_fleet(
    tree: Path,
    workdir: Path,
    count: int,
    ssh_key: Path,
    second_password: str,
) -> Iterator[list[Host]]:
    """Boot count hosts from tree; power them off and remove every trace on exit, even on error."""
    prefix = f"tfr{os.getpid() % 100000}"
    subnet = free_subnet()
    authorized_key = ssh_key.with_suffix(".pub").read_text().strip()
    with contextlib.ExitStack() as teardown:
        hosts: list[Host] = []
        started = time.monotonic()
        for index in range(count):
            spec = HostSpec.numbered(prefix, index, subnet)
            root = teardown.enter_context(overlay(tree, workdir / spec.name))
            host = Host(spec, root, ssh_key, workdir / f"{spec.name}.console.log")
            host.provision(authorized_key, second_password)
            teardown.enter_context(network(spec))
            teardown.callback(host.poweroff)
            host.boot()
            hosts.append(host)
        for host in hosts:
            host.wait_until_running()
        log.info(
            "%d hosts booted in %.1f s: %s",
            count,
            time.monotonic() - started,
            ", ".join(f"{h.name}={h.spec.address}" for h in hosts),
        )
        yield hosts


def quote(text: str) -> str:
    """Shell-quote one word for a command run over ssh."""
    return shlex.quote(text)
