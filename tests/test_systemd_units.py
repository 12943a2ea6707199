"""The systemd units in systemd/: the product's contract, the sandbox, systemd's own checks."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.tools import require_tool

SYSTEMD_DIR = Path(__file__).resolve().parent.parent / "systemd"
BINARY = "/opt/textfile-redis/bin/textfile-redis"
RUN = "textfile-redis.service"
ONCE = "textfile-redis-once.service"
CLEANUP = "textfile-redis-once-cleanup.service"
TIMER = "textfile-redis-once.timer"
SERVICES = (RUN, ONCE, CLEANUP)
MAX_EXPOSURE = 1.2  # what Debian's own redis-server.service scores
DEFAULT_INTERVAL = 15.0  # seconds; textfile-redis's default `interval`

# What makes each service what it is; every other [Service] line is sandboxing, kept the same.
BEHAVIOUR = {
    "Type",
    "NotifyAccess",
    "ExecStart",
    "ExecReload",
    "ExecStop",
    "ExecStopPost",
    "Restart",
    "RestartSec",
    "RestartPreventExitStatus",
    "SuccessExitStatus",
    "RemainAfterExit",
    "KillSignal",
    "TimeoutStartSec",
    "TimeoutStopSec",
    "WatchdogSec",
}
NETWORK = {"PrivateNetwork", "RestrictAddressFamilies", "IPAddressDeny", "IPAddressAllow"}

_TIME_UNITS = {"ms": 0.001, "s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0}


def directives(unit: str, section: str) -> dict[str, list[str]]:
    """Every Key=value line of one section of a unit file, values in order."""
    found: dict[str, list[str]] = {}
    current = ""
    for raw in (SYSTEMD_DIR / unit).read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = line.strip("[]")
        elif current == section:
            key, _, value = line.partition("=")
            found.setdefault(key.strip(), []).append(value.strip())
    return found


def one(unit: str, section: str, key: str) -> str:
    """The single value of a key that a unit sets exactly once."""
    values = directives(unit, section).get(key, [])
    assert len(values) == 1, f"{unit} [{section}] sets {key}= {len(values)} times, not once"
    return values[0]


def seconds(timespan: str) -> float:
    """A systemd time span ("60s", "1min 30s", "500ms", "45") in seconds."""
    total = 0.0
    for number, unit in re.findall(r"(\d+(?:\.\d+)?)\s*([a-z]*)", timespan):
        total += float(number) * _TIME_UNITS[unit or "s"]
    return total


def without_ignore_prefix(command: str) -> str:
    """An Exec*= command line without the "-" that tells systemd to ignore its failure."""
    return command.removeprefix("-")


@pytest.fixture(scope="module")
def systemd_analyze() -> str:
    """Return systemd-analyze's path; skip without it (fail on CI, where it must be there)."""
    return str(require_tool("systemd-analyze", installed_by="Debian's systemd package"))


def test_run_service_speaks_sd_notify() -> None:
    """The run service is Type=notify and takes notifications from the main process only."""
    assert one(RUN, "Service", "Type") == "notify"
    assert one(RUN, "Service", "NotifyAccess") == "main"


def test_run_service_commands() -> None:
    """The run service runs the loop, reloads with SIGHUP and cleans up after every stop."""
    assert one(RUN, "Service", "ExecStart") == f"{BINARY} run"
    assert one(RUN, "Service", "ExecReload") == "/bin/kill -HUP $MAINPID"
    assert without_ignore_prefix(one(RUN, "Service", "ExecStopPost")) == f"{BINARY} cleanup"
    assert one(RUN, "Service", "KillSignal") == "SIGTERM"


def test_run_service_restarts_but_not_on_configuration_errors() -> None:
    """A failure restarts the service, except exit 78 (a configuration error)."""
    assert one(RUN, "Service", "Restart") == "on-failure"
    assert one(RUN, "Service", "RestartPreventExitStatus") == "78"


def test_watchdog_allows_two_default_intervals() -> None:
    """WatchdogSec= is at least two default intervals, below which the program warns."""
    assert seconds(one(RUN, "Service", "WatchdogSec")) >= 2 * DEFAULT_INTERVAL


def test_stop_timeout_is_small() -> None:
    """TimeoutStopSec= is short: the program stops within a second, even with a hung server."""
    assert 1 < seconds(one(RUN, "Service", "TimeoutStopSec")) <= 30


@pytest.mark.parametrize("unit", SERVICES)
def test_services_run_as_their_own_user(unit: str) -> None:
    """Each service runs as textfile-redis, in the textfile directory's group, writes only there."""
    assert one(unit, "Service", "User") == "textfile-redis"
    assert one(unit, "Service", "Group") == "textfile-redis"
    assert one(unit, "Service", "SupplementaryGroups") == "node-exp"
    assert one(unit, "Service", "ReadWritePaths") == "/var/lib/node_exporter"
    assert one(unit, "Service", "ProtectSystem") == "strict"


@pytest.mark.parametrize("unit", [RUN, ONCE])
def test_scraping_services_reach_local_redis(unit: str) -> None:
    """The scraping services keep the host's loopback and sockets, and IP only to localhost."""
    found = directives(unit, "Service")
    assert "PrivateNetwork" not in found
    assert one(unit, "Service", "RestrictAddressFamilies").split() == [
        "AF_UNIX",
        "AF_INET",
        "AF_INET6",
    ]
    assert one(unit, "Service", "IPAddressDeny") == "any"
    assert one(unit, "Service", "IPAddressAllow") == "localhost"


@pytest.mark.parametrize("unit", [RUN, ONCE])
def test_scraping_services_see_the_servers_discovery_looks_for(unit: str) -> None:
    """Other users' process titles stay visible; ProcSubset=pid keeps /proc/self/net readable."""
    assert directives(unit, "Service").get("ProtectProc", ["default"]) == ["default"]
    assert one(unit, "Service", "ProcSubset") == "pid"


@pytest.mark.parametrize(("unit", "differs_in"), [(ONCE, set()), (CLEANUP, NETWORK)])
def test_services_share_one_sandbox(unit: str, differs_in: set[str]) -> None:
    """The oneshot services are sandboxed as the run service is, but for what they do not need."""

    def sandbox(name: str) -> dict[str, list[str]]:
        ignored = BEHAVIOUR | differs_in
        return {k: v for k, v in directives(name, "Service").items() if k not in ignored}

    assert sandbox(unit) == sandbox(RUN)


def test_once_service_runs_one_cycle() -> None:
    """The oneshot service runs `textfile-redis once` and stops with the timer."""
    assert one(ONCE, "Service", "Type") == "oneshot"
    assert one(ONCE, "Service", "ExecStart") == f"{BINARY} once"
    assert seconds(one(ONCE, "Service", "TimeoutStartSec")) > 0
    assert one(ONCE, "Unit", "PartOf") == TIMER
    assert CLEANUP in directives(ONCE, "Unit")["After"]


def test_timer_runs_once_every_default_interval() -> None:
    """The timer starts the oneshot service every 15 s, to the second, and from boot."""
    assert one(TIMER, "Timer", "Unit") == ONCE
    assert seconds(one(TIMER, "Timer", "OnUnitActiveSec")) == DEFAULT_INTERVAL
    assert seconds(one(TIMER, "Timer", "AccuracySec")) == 1
    assert "OnBootSec" in directives(TIMER, "Timer")
    assert one(TIMER, "Install", "WantedBy") == "timers.target"


def test_stopping_the_timer_removes_the_files() -> None:
    """The timer pulls in the cleanup service, whose stop (with the timer's) runs cleanup."""
    assert one(TIMER, "Unit", "Wants") == CLEANUP
    assert one(CLEANUP, "Unit", "PartOf") == TIMER
    assert one(CLEANUP, "Service", "Type") == "oneshot"
    assert one(CLEANUP, "Service", "RemainAfterExit") == "yes"
    assert one(CLEANUP, "Service", "ExecStop") == f"{BINARY} cleanup"


@pytest.mark.parametrize("unit", SERVICES)
def test_security_exposure_at_most_debians_redis(systemd_analyze: str, unit: str) -> None:
    """systemd-analyze security rates each service at most 1.2, as exposed as redis-server."""
    result = subprocess.run(
        [systemd_analyze, "security", "--offline=yes", "--no-pager", str(SYSTEMD_DIR / unit)],
        capture_output=True,
        text=True,
        errors="replace",
        check=False,
        timeout=60,
        env={**os.environ, "SYSTEMD_COLORS": "0"},
    )
    output = result.stdout + result.stderr
    match = re.search(r"Overall exposure level for \S+: (\d+(?:\.\d+)?)", output)
    assert match, f"no overall exposure level in:\n{output}"
    assert float(match.group(1)) <= MAX_EXPOSURE, output


def test_units_pass_systemd_verify(systemd_analyze: str, tmp_path: Path) -> None:
    """systemd-analyze verify finds nothing wrong in any unit (binary path swapped for true)."""
    true = shutil.which("true")
    assert true is not None
    copies = []
    for unit in (*SERVICES, TIMER):
        copy = tmp_path / unit
        copy.write_text((SYSTEMD_DIR / unit).read_text().replace(BINARY, true))
        copies.append(str(copy))
    result = subprocess.run(
        [systemd_analyze, "verify", "--man=no", *copies],
        capture_output=True,
        text=True,
        errors="replace",
        check=False,
        timeout=60,
        env={**os.environ, "SYSTEMD_COLORS": "0"},
    )
    output = result.stdout + result.stderr
    # Units our units only order against (redis-server.service, ...) are the host's business.
    ours = [line for line in output.splitlines() if any(u in line for u in (*SERVICES, TIMER))]
    assert result.returncode == 0, output
    assert not ours, "\n".join(ours)
