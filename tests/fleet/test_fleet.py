"""The role deployed over ssh to booted systemd hosts, and the service's life there."""

from __future__ import annotations

import hashlib
import re
from functools import partial
from typing import TYPE_CHECKING

import pytest

from tests.support.consumers import (
    Prometheus,
    instances,
    node_job,
    prometheus_config,
)
from tests.support.fleet.ansible import REPO, build_package_wheel
from tests.support.fleet.hosts import quote
from tests.support.processes import wait_for
from tests.support.tools import require_tool

if TYPE_CHECKING:
    from pathlib import Path

    from tests.support.fleet.deploy import Fleet
    from tests.support.fleet.hosts import Host

pytestmark = [pytest.mark.fleet, pytest.mark.timeout(1500)]

SERVICE = "textfile-redis.service"
TEXTFILE_DIR = "/var/lib/node_exporter"
CONFD = "/etc/textfile-redis/conf.d"
METRICS_DEADLINE = 20.0  # seconds for a change to show in node_exporter (interval is 1 s)
REMOVAL_DEADLINE = 5.0  # seconds for a removed target's metrics file to go
WATCHDOG_DEADLINE = 30.0  # WatchdogSec=3s, then RestartSec=5s, then a start
POLL_S = 0.25  # seconds between looks at a host: each look is an ssh round trip
WATCHDOG_DROPIN = "/etc/systemd/system/textfile-redis.service.d/90-fleet-test-watchdog.conf"
MAX_EXPOSURE = 1.2
SCRAPE = (
    "python3 -c 'import urllib.request as u; "
    'print(u.urlopen("http://127.0.0.1:9100/metrics", timeout=5).read().decode())\''
)


def show(host: Host, *properties: str) -> dict[str, str]:
    """The service's properties, as `systemctl show -p` reports them."""
    done = host.ssh(f"systemctl show {SERVICE} " + " ".join(f"-p {p}" for p in properties))
    return dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)


def main_pid(host: Host) -> str:
    """The service's MainPID ("0" when it has none)."""
    return show(host, "MainPID")["MainPID"]


def prom_files(host: Host) -> list[str]:
    """The redis_*.prom files in the textfile directory."""
    done = host.ssh(f"find {TEXTFILE_DIR} -maxdepth 1 -name 'redis_*.prom' -printf '%f\\n'")
    return sorted(done.stdout.split())


def node_metrics(host: Host) -> str:
    """What node_exporter serves on the host."""
    return host.ssh(SCRAPE).stdout


def redis_up(metrics: str) -> dict[str, str]:
    """The value of redis_up by addr, from node_exporter's output."""
    return dict(re.findall(r'^redis_up\{[^}]*addr="([^"]+)"[^}]*\} (\S+)$', metrics, re.MULTILINE))


def serves_every_target(host: Host, addrs: set[str]) -> bool:
    """node_exporter shows redis_up 1 for exactly addrs and read the textfiles without error."""
    metrics = node_metrics(host)
    up = redis_up(metrics)
    return (
        set(up) == addrs
        and set(up.values()) == {"1"}
        and ("\nnode_textfile_scrape_error 0\n" in metrics)
    )


def addrs_of(fleet: Fleet, host: Host) -> set[str]:
    """The addresses the inventory gives host."""
    return {target["addr"] for target in fleet.targets[host.name]}


def start_and_wait_for_files(host: Host, fleet: Fleet) -> None:
    """Start the service (Type=notify: after the first cycle) and wait for its metrics."""
    host.ssh(f"systemctl start {SERVICE}")
    expected = {f"redis_{t['name']}.prom" for t in fleet.targets[host.name]}
    wait_for(
        lambda: set(prom_files(host)) == expected,
        METRICS_DEADLINE,
        interval=POLL_S,
        message=f"{host.name}: files back",
    )


def test_deploy_runs_the_service_and_node_exporter_serves_every_target(fleet: Fleet) -> None:
    """After the first run each host runs the unit from systemd/, redis_up 1 for every target."""
    unit = hashlib.sha256((REPO / "systemd" / SERVICE).read_bytes()).hexdigest()
    for host in fleet.hosts:
        assert host.ssh(f"systemctl is-active {SERVICE}").stdout.strip() == "active"
        deployed = host.ssh(f"sha256sum /etc/systemd/system/{SERVICE}").stdout.split()[0]
        assert deployed == unit, "the role must install systemd/textfile-redis.service as it is"
        addrs = addrs_of(fleet, host)
        wait_for(
            partial(serves_every_target, host, addrs),
            METRICS_DEADLINE,
            interval=POLL_S,
            message=host.name,
        )


def test_prometheus_tells_apart_the_hosts_redis_at_the_same_address(
    fleet: Fleet, tmp_path: Path
) -> None:
    """Prometheus here, with prometheus/'s relabel block, sees each host's 127.0.0.1:6379 apart."""
    binary = require_tool("prometheus", installed_by="Debian's prometheus package")
    # Named as an inventory would name them; node_exporter listens on every address (:9100).
    hosts = {f"{host.spec.address}:9100": f"{host.name}:9100" for host in fleet.hosts}
    config = tmp_path / "prometheus.yml"
    config.write_text(prometheus_config([node_job("node", hosts)]), encoding="utf-8")
    with Prometheus.start(binary, config, tmp_path / "prometheus") as prometheus:
        expected = {f"{host.name}:{port}" for host in fleet.hosts for port in (6379, 6380)}
        prometheus.wait_for_query(
            'redis_up{job="node"} == 1', lambda found: set(instances(found)) == expected
        )
        assert len({f"{host.name}:6379" for host in fleet.hosts}) == 2
        nodes = prometheus.query('node_textfile_scrape_error{job="node"}')
        assert set(instances(nodes)) == set(hosts.values())
        assert prometheus.query('{addr=~".+"}') == []


def test_password_file_is_the_service_users_alone(fleet: Fleet) -> None:
    """The target's password lands in a 0600 file of the service user and in no conf.d file."""
    for host in fleet.hosts:
        path = "/etc/textfile-redis/secrets/second.password"
        stat = host.ssh(f"stat -c '%a %U %G' {path}").stdout.split()
        assert stat == ["600", "textfile-redis", "textfile-redis"]
        assert host.ssh(f"cat {path}").stdout == fleet.password
        leaks = host.ssh(f"grep -rlF -- {fleet.password} /etc/textfile-redis/conf.d || true")
        assert leaks.stdout == ""
    first_run = fleet.runs[0].output
    assert fleet.password not in first_run, "no_log must keep the password out of the output"


def test_hosts_have_no_way_out(fleet: Fleet) -> None:
    """Each host knows only its own /30 to the controller: no default route, so no network."""
    for host in fleet.hosts:
        assert host.ssh("ip -4 route show default").stdout.strip() == ""
        assert host.ssh("ip -6 route show default").stdout.strip() == ""


def test_second_run_changes_nothing(fleet: Fleet) -> None:
    """The role is idempotent: a check run and a second run report changed=0, restart nothing."""
    before = {host.name: main_pid(host) for host in fleet.hosts}
    for options in (("--check", "--diff"), ()):
        played = fleet.play(*options)
        assert fleet.password not in played.output, "no_log must hide the password from --diff"
        for host in fleet.hosts:
            assert played.changed(host.name) == 0, played.describe()
            assert main_pid(host) == before[host.name]


def test_security_exposure_is_at_most_1_2(fleet: Fleet) -> None:
    """systemd-analyze security rates the running unit 1.2 or better (lower is better)."""
    for host in fleet.hosts:
        report = host.ssh(f"systemd-analyze security --no-pager {SERVICE}").stdout
        found = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", report)
        assert found, report
        assert float(found.group(1)) <= MAX_EXPOSURE, report


def test_stop_exits_0_and_removes_the_files(fleet: Fleet) -> None:
    """A stop: the daemon exits 0 (ExecMainStatus=0) and leaves no metrics file."""
    for host in fleet.hosts:
        assert prom_files(host)
        host.ssh(f"systemctl stop {SERVICE}")
        state = show(host, "ExecMainCode", "ExecMainStatus", "Result", "ActiveState")
        assert state == {
            "ExecMainCode": "1",  # CLD_EXITED
            "ExecMainStatus": "0",
            "Result": "success",
            "ActiveState": "inactive",
        }
        assert prom_files(host) == []
        start_and_wait_for_files(host, fleet)


def test_sigkill_then_stop_leaves_no_file(fleet: Fleet) -> None:
    """A daemon killed with SIGKILL cannot clean up; ExecStopPost's cleanup does."""
    for host in fleet.hosts:
        assert prom_files(host)
        host.ssh(f"systemctl kill -s KILL {SERVICE} && systemctl stop {SERVICE}")
        state = show(host, "ExecMainCode", "ExecMainStatus", "Result", "ActiveState")
        assert state["ExecMainCode"] == "2"  # CLD_KILLED
        assert state["ExecMainStatus"] == "9"
        assert state["Result"] == "signal"
        assert state["ActiveState"] in {"inactive", "failed"}
        assert prom_files(host) == []
        start_and_wait_for_files(host, fleet)


def test_watchdog_restarts_a_frozen_daemon(fleet: Fleet) -> None:
    """A daemon frozen with SIGSTOP stops pinging; systemd's watchdog replaces it."""
    for host in fleet.hosts:
        host.ssh(
            f"printf '[Service]\\nWatchdogSec=3s\\n' > {WATCHDOG_DROPIN}"
            f" && systemctl daemon-reload && systemctl restart {SERVICE}"
        )
        frozen = main_pid(host)
        host.ssh(f"systemctl kill -s STOP {SERVICE}")

        def replaced(h: Host = host, old: str = frozen) -> bool:
            state = show(h, "MainPID", "ActiveState")
            return state["MainPID"] not in {"0", old} and state["ActiveState"] == "active"

        wait_for(
            replaced,
            WATCHDOG_DEADLINE,
            interval=POLL_S,
            message=f"{host.name}: a new MainPID after the watchdog",
        )
        journal = host.ssh(f"journalctl -u {SERVICE} --no-pager -o cat").stdout
        assert "Watchdog timeout" in journal
        host.ssh(f"rm {WATCHDOG_DROPIN} && systemctl daemon-reload && systemctl restart {SERVICE}")
        wait_for(
            partial(serves_every_target, host, addrs_of(fleet, host)),
            METRICS_DEADLINE,
            interval=POLL_S,
            message=host.name,
        )


# A server that accepts and answers every command with a reply sent one byte every 0.1 s.
DRIP_SERVER = """
import socket, threading, time
def serve(client):
    while client.recv(65536):
        for byte in b"$100000\\r\\n" + b"x" * 100000:
            time.sleep(0.1)
            client.sendall(bytes([byte]))
listener = socket.create_server(("127.0.0.1", 7000))
while True:
    threading.Thread(target=serve, args=(listener.accept()[0],), daemon=True).start()
"""
DRIP_TARGET = f"{CONFD}/50-fleet-test-drip.toml"
DRIP_CONF = '[[target]]\nname = "drip"\naddr = "redis://127.0.0.1:7000"\n'
DRIP_WATCH = 10.0  # seconds: more than three watchdog periods of 3 s


def drip_file_mtime(host: Host) -> int:
    """When the dripping target's file was last written, in whole seconds."""
    return int(host.ssh(f"stat -c %Y {TEXTFILE_DIR}/redis_drip.prom").stdout)


def test_a_dripping_server_does_not_starve_the_watchdog(fleet: Fleet) -> None:
    """A target that drips gets redis_up 0; cycles still complete, so systemd never restarts."""
    host = fleet.hosts[0]
    host.ssh(
        f"printf '[Service]\\nWatchdogSec=3s\\n' > {WATCHDOG_DROPIN}"
        f" && systemctl daemon-reload && systemctl restart {SERVICE}"
        f" && printf %s {quote(DRIP_SERVER)} > /tmp/drip.py"
        " && systemd-run --unit=fleet-test-drip python3 /tmp/drip.py"
        f" && printf %s {quote(DRIP_CONF)} > {DRIP_TARGET}"
    )
    running = show(host, "MainPID", "NRestarts")
    try:
        wait_for(
            lambda: "redis_drip.prom" in prom_files(host),
            METRICS_DEADLINE,
            interval=POLL_S,
            message="the drip's file",
        )
        first = drip_file_mtime(host)
        wait_for(
            lambda: drip_file_mtime(host) >= first + DRIP_WATCH,
            DRIP_WATCH + METRICS_DEADLINE,
            interval=POLL_S,
            message="the drip's file rewritten over three watchdog periods",
        )
        assert show(host, "MainPID", "NRestarts") == running
        up = redis_up(node_metrics(host))
        assert up.pop("redis://127.0.0.1:7000") == "0"
        assert set(up.values()) == {"1"}
    finally:
        host.ssh(
            f"rm -f {DRIP_TARGET} {WATCHDOG_DROPIN} && systemctl stop fleet-test-drip"
            f" && systemctl daemon-reload && systemctl restart {SERVICE}"
        )
    wait_for(
        lambda: serves_every_target(host, addrs_of(fleet, host)),
        METRICS_DEADLINE,
        interval=POLL_S,
        message=host.name,
    )


def test_unit_change_restarts_the_service(fleet: Fleet) -> None:
    """A change to the unit's drop-in (here IPAddressAllow=) restarts the service, only there."""
    changed, untouched = fleet.hosts[0], fleet.hosts[-1]
    before = {host.name: main_pid(host) for host in fleet.hosts}
    fleet.host_vars[changed.name]["textfile_redis_ip_address_allow"] = [changed.spec.gateway]
    played = fleet.play()
    assert played.changed(untouched.name) == 0, played.describe()
    assert main_pid(untouched) == before[untouched.name]
    assert main_pid(changed) not in {"0", before[changed.name]}
    assert changed.spec.gateway in show(changed, "IPAddressAllow")["IPAddressAllow"]
    addrs = addrs_of(fleet, changed)
    wait_for(
        lambda: serves_every_target(changed, addrs),
        METRICS_DEADLINE,
        interval=POLL_S,
        message=changed.name,
    )


def test_rebuilt_wheel_is_reinstalled_and_restarts_the_service(fleet: Fleet) -> None:
    """A new wheel of the installed version is installed again and restarts the service, once."""
    before = {host.name: main_pid(host) for host in fleet.hosts}
    (old,) = fleet.wheelhouse.glob("textfile_redis-*.whl")
    old_bytes = old.read_bytes()
    old.unlink()
    source = fleet.workdir / "controller" / "source"
    rebuilt = build_package_wheel(fleet.wheelhouse, source, epoch=1_700_000_000)
    assert rebuilt.name == old.name
    assert rebuilt.read_bytes() != old_bytes
    played = fleet.play()
    for host in fleet.hosts:
        assert played.changed(host.name) > 0, played.describe()
        assert main_pid(host) not in {"0", before[host.name]}
        digest = hashlib.sha256(rebuilt.read_bytes()).hexdigest()
        shipped = host.ssh(f"sha256sum /var/cache/textfile-redis/wheelhouse/{rebuilt.name}")
        assert shipped.stdout.split()[0] == digest
        wait_for(
            partial(serves_every_target, host, addrs_of(fleet, host)),
            METRICS_DEADLINE,
            interval=POLL_S,
            message=host.name,
        )
    reinstall = played.task(
        "Reinstall textfile-redis from a rebuilt wheel of the installed version"
    )
    for host in fleet.hosts:
        assert f"changed: [{host.name}]" in reinstall, played.describe()
    again = fleet.play()
    for host in fleet.hosts:
        assert again.changed(host.name) == 0, again.describe()


def test_removed_target_loses_its_conf_and_metrics_without_a_restart(fleet: Fleet) -> None:
    """A target dropped from the inventory loses its conf.d file, then its metrics file."""
    kept, pruned = fleet.hosts[0], fleet.hosts[-1]
    before = main_pid(pruned)
    fleet.targets[pruned.name] = [t for t in fleet.targets[pruned.name] if t["name"] != "second"]
    played = fleet.play()
    assert played.changed(pruned.name) > 0
    assert played.changed(kept.name) == 0, played.describe()
    assert pruned.ssh(f"ls {CONFD}").stdout.split() == ["main.toml"]
    assert pruned.ssh("ls /etc/textfile-redis/secrets").stdout.split() == []
    wait_for(
        lambda: prom_files(pruned) == ["redis_main.prom"],
        REMOVAL_DEADLINE,
        interval=POLL_S,
        message=f"{pruned.name}: redis_second.prom removed by the daemon",
    )
    assert main_pid(pruned) == before, "a conf.d change must reload the service, not restart it"
    journal = pruned.ssh(f"journalctl -u {SERVICE} --no-pager -o cat").stdout
    assert "removed: second" in journal, "the daemon's reload retires the target"
    wait_for(
        lambda: serves_every_target(pruned, addrs_of(fleet, pruned)),
        METRICS_DEADLINE,
        interval=POLL_S,
        message="pruned",
    )
    assert prom_files(kept) == ["redis_main.prom", "redis_second.prom"]


def test_no_target_listed_discovers_each_hosts_servers(fleet: Fleet) -> None:
    """With no target listed the role deploys discovery, and the hardened unit finds the servers.

    Each host's Debian redis-server (6379, running as redis) is found from its title and served by
    node_exporter with redis_up 1; the password server (6380) too, through the credential the
    inventory maps to its port.
    """
    for host in fleet.hosts:
        fleet.targets[host.name] = []
        credential = {"match": "6380", "password": fleet.password}
        fleet.host_vars[host.name]["textfile_redis_credentials"] = [credential]
    fleet.play()
    found = {"redis://127.0.0.1:6379", "redis://127.0.0.1:6380"}
    for host in fleet.hosts:
        wait_for(
            partial(serves_every_target, host, found),
            METRICS_DEADLINE,
            interval=POLL_S,
            message=host.name,
        )
        assert prom_files(host) == ["redis_6379.prom", "redis_6380.prom"]
        assert host.ssh(f"ls {CONFD}").stdout.split() == []
        secrets = host.ssh("ls /etc/textfile-redis/secrets").stdout.split()
        assert secrets == ["credential-6380.password"]


def test_no_target_left_stops_and_disables_the_service(fleet: Fleet) -> None:
    """A host whose inventory lists no target and turns discovery off keeps no service running."""
    host = fleet.hosts[-1]
    fleet.targets[host.name] = []
    fleet.host_vars[host.name].update(textfile_redis_discover=False, textfile_redis_credentials=[])
    played = fleet.play()
    assert played.changed(host.name) > 0
    assert host.ssh(f"systemctl is-active {SERVICE}", check=False).stdout.strip() == "inactive"
    assert host.ssh(f"systemctl is-enabled {SERVICE}", check=False).stdout.strip() == "disabled"
    assert host.ssh(f"ls {CONFD}").stdout.split() == []
    assert prom_files(host) == []
    assert show(host, "ExecMainStatus")["ExecMainStatus"] == "0"
