"""Each Redis as its own `instance` in a real Prometheus, through the shipped node job relabelling.

Two node_exporters play two hosts, named host-a:9100 and host-b:9100 by a test-only
relabel_configs (both listen on 127.0.0.1). Host A collects P1 over TCP and P2, P1's replica,
over its unix socket; host B collects P1 too, so the same addr appears on two hosts. Every target
carries the static label cluster="payments". Host B is also scraped by two more jobs that name it
[::1]:9100 and cache-c (an instance without a port), and serves a file of made-up addr values, so
the regexes meet IPv6, TLS and socket names in Prometheus's own regex engine.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.support.config import write_config
from tests.support.consumers import (
    NodeExporter,
    Prometheus,
    instances,
    node_job,
    prometheus_binary,
    prometheus_config,
)
from tests.support.daemon import clean_env
from tests.support.servers import RedisServer, binary_for, kind_named, populate
from tests.support.tools import require

if TYPE_CHECKING:
    from collections.abc import Iterator

REPO = Path(__file__).resolve().parent.parent.parent
DASHBOARD = REPO / "grafana" / "textfile-redis.json"
DOCS = REPO / "docs" / "prometheus.md"
KIND = kind_named("redis-7.0")
LABELS = {"cluster": "payments"}
SCAN_KEYS = 20_000  # enough that a 10 ms scan_budget never finishes a sweep in one cycle
# The host part of an instance, as docs/prometheus.md's join query takes it.
REDIS_HOST_REGEX = "(.+):[^:]+"  # a Redis: everything before the last ":port" or ":socket"
NODE_HOST_REGEX = "(.+?)(?::[0-9]+)?"  # node_exporter: without its port, if it has one
# Made-up addr values on host B, and the suffix each should give after the host.
RELABEL_CASES = {
    "tcp": ("redis://10.0.0.7:6379", ":6379"),
    "tls-ipv6": ("rediss://[2001:db8::1]:6380", ":6380"),
    "unix": ("unix:///run/redis/redis-server.sock", ":redis-server"),
    "unix-no-suffix": ("unix:///var/run/valkey/cache", ":cache"),
    "unix-dotted-dir": ("unix:///srv/a.sock.d/queue.sock", ":queue"),
}
# What each job calls host B, and the host part of that name.
HOST_B_NAMES = {"node": ("host-b:9100", "host-b"), "node-ipv6": ("[::1]:9100", "[::1]")}
HOST_B_NAMES["node-bare"] = ("cache-c", "cache-c")


def _require(found: object, what: str) -> None:
    require(found, f"no {what} here; install Debian's {what} package")


def _collect_once(config: Path) -> None:
    """Write a host's files with the real product (`textfile-redis once`)."""
    done = subprocess.run(
        [sys.executable, "-m", "textfile_redis", "once", "--config", str(config)],
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def _fill(server: RedisServer, count: int) -> None:
    server.client().eval(
        "for i = 1, tonumber(ARGV[1]) do redis.call('SET', 'scan:' .. i, 'x') end", 0, str(count)
    )


@dataclass(frozen=True, slots=True)
class Scene:
    """The running Prometheus, and P1's port (the one Redis both hosts collect)."""

    prometheus: Prometheus
    p1_port: int


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scene]:
    """Two hosts' textfiles from real servers, scraped by a real Prometheus every second."""
    binary = prometheus_binary()
    _require(binary, "prometheus")
    _require(binary_for(KIND), "redis-server")
    exporter_binary = shutil.which("prometheus-node-exporter") or shutil.which("node_exporter")
    _require(exporter_binary, "prometheus-node-exporter")
    assert binary is not None
    work = tmp_path_factory.mktemp("identity")
    with contextlib.ExitStack() as running:
        p1 = running.enter_context(
            RedisServer.start(KIND, work / "p1", extra_args=["--maxmemory", "64mb"])
        )
        populate(p1.client())
        _fill(p1, SCAN_KEYS)
        p2 = running.enter_context(
            RedisServer.start(KIND, work / "p2", replica_of=p1, unixsocket=True)
        )
        exporters = {}
        for host, targets in _hosts(p1, p2).items():
            textfiles = work / host / "textfile"
            textfiles.mkdir(parents=True)
            (textfiles / "inventory.prom").write_text(f'inventory_host_info{{name="{host}"}} 1\n')
            if host == "host-b":
                (textfiles / "relabel_cases.prom").write_text(_relabel_cases())
            _collect_once(write_config(work / host / "config.toml", textfiles, targets, timeout=2))
            exporter = NodeExporter.start(textfiles, work / host / "node_exporter")
            exporters[host] = running.enter_context(exporter)
        config = work / "prometheus.yml"
        config.write_text(prometheus_config(_jobs(exporters)), encoding="utf-8")
        server = running.enter_context(Prometheus.start(binary, config, work / "prometheus"))
        # Two scrapes of every target, so that rate() has its two samples.
        server.wait_for_query(
            'count_over_time(redis_up{job="node"}[1m]) >= 2', lambda result: len(result) == 3
        )
        yield Scene(server, p1.port)


@pytest.fixture(scope="module")
def prometheus(scene: Scene) -> Prometheus:
    """The Prometheus of the scene."""
    return scene.prometheus


def _hosts(p1: RedisServer, p2: RedisServer) -> dict[str, list[dict[str, Any]]]:
    """Each host's [[target]] tables: A has P1 and P2 (socket), B has P1 (the same addr)."""
    p2_target = {
        "name": "p2",
        "addr": f"unix://{p2.unix_path}",
        "labels": LABELS,
        # A CONFIG the server does not know: textfile_redis_command_refused for the dashboard.
        "config_command": "NOSUCHCONFIG",
        # A sweep that a 10 ms budget leaves unfinished: textfile_redis_scan_in_progress.
        "count_keys": ["db0=scan:*"],
        "check_keys_batch_size": 10,
        "scan_budget": 0.01,
    }
    p1_target = {"name": "p1", "addr": p1.addr, "labels": LABELS}
    return {"host-a": [p1_target, p2_target], "host-b": [p1_target]}


def _relabel_cases() -> str:
    lines = [
        f'relabel_case{{case="{case}",addr="{addr}"}} 1'
        for case, (addr, _) in RELABEL_CASES.items()
    ]
    # The documented limit: one host, one port, two addresses.
    collision = [f'relabel_collision{{addr="redis://10.0.0.{n}:6379"}} {n}' for n in (5, 6)]
    return "\n".join([*lines, 'relabel_case{case="no-addr"} 1', *collision, ""])


def _jobs(exporters: dict[str, NodeExporter]) -> list[str]:
    address = {host: f"127.0.0.1:{exporter.port}" for host, exporter in exporters.items()}
    both = {address["host-a"]: "host-a:9100", address["host-b"]: "host-b:9100"}
    return [node_job("node", both)] + [
        node_job(job, {address["host-b"]: name})
        for job, (name, _) in HOST_B_NAMES.items()
        if job != "node"
    ]


def test_redis_up_has_one_instance_per_redis(scene: Scene) -> None:
    """`label_values(redis_up, instance)` offers the three Redis: host:port, host:socket name."""
    values = scene.prometheus.label_values("instance", 'redis_up{job="node"}')
    port = scene.p1_port
    assert values == {f"host-a:{port}", "host-a:redis", f"host-b:{port}"}


def test_rate_by_instance_gives_one_series_per_redis(prometheus: Prometheus) -> None:
    """`sum by (instance) (rate(redis_commands_processed_total[1m]))` has three series."""
    result = prometheus.query(
        'sum by (instance) (rate(redis_commands_processed_total{job="node"}[1m]))'
    )
    assert len(instances(result)) == 3
    assert len(set(instances(result))) == 3


def test_count_without_instance_and_job_is_one_group(prometheus: Prometheus) -> None:
    """`count without (instance, job) (redis_up)` is one series of 3: no label splits it."""
    result = prometheus.query('count without (instance, job) (redis_up{job="node"})')
    assert [(series["metric"], series["value"][1]) for series in result] == [(LABELS, "3")]


def test_node_series_keep_the_hosts_instances(prometheus: Prometheus) -> None:
    """node_textfile_scrape_error and other tools' textfiles keep node_exporter's instance."""
    errors = prometheus.query('node_textfile_scrape_error{job="node"}')
    assert instances(errors) == ["host-a:9100", "host-b:9100"]
    assert [series["value"][1] for series in errors] == ["0", "0"]
    assert instances(prometheus.query('inventory_host_info{job="node"}')) == [
        "host-a:9100",
        "host-b:9100",
    ]
    assert prometheus.query('{addr=~".+"}') == [], "addr must be dropped from every series"


def test_join_query_pairs_each_redis_with_its_own_host(prometheus: Prometheus) -> None:
    """docs/prometheus.md's join puts each Redis beside its own host's node series only."""
    joined = prometheus.query(
        f'label_replace(redis_up{{job="node"}}, "host", "$1", "instance", "{REDIS_HOST_REGEX}")'
        " * on (host) group_left (name) "
        f'label_replace(inventory_host_info{{job="node"}}, "host", "$1", "instance", '
        f'"{NODE_HOST_REGEX}")'
    )
    pairs = sorted((s["metric"]["instance"], s["metric"]["name"]) for s in joined)
    assert len(pairs) == 3
    assert all(instance.startswith(f"{host}:") for instance, host in pairs), pairs
    docs = DOCS.read_text(encoding="utf-8")
    assert REDIS_HOST_REGEX in docs
    assert NODE_HOST_REGEX in docs


def test_socket_and_static_label_targets_look_like_tcp_ones(prometheus: Prometheus) -> None:
    """The unix-socket target is up with the same label names and static labels as TCP ones."""
    result = prometheus.query('redis_up{job="node"}')
    by_instance = {series["metric"]["instance"]: series for series in result}
    socket = by_instance["host-a:redis"]
    assert socket["value"][1] == "1"
    assert {frozenset(series["metric"]) for series in result} == {
        frozenset({"__name__", "instance", "job", "cluster"})
    }
    assert {series["metric"]["cluster"] for series in result} == {"payments"}
    role = prometheus.query('redis_instance_info{job="node", instance="host-a:redis"}')
    assert [series["metric"]["role"] for series in role] == ["slave"]


@pytest.mark.parametrize("job", sorted(HOST_B_NAMES))
def test_relabel_names_every_address_kind_after_its_host(prometheus: Prometheus, job: str) -> None:
    """TCP, TLS over IPv6 and socket addrs become host:port or host:name for any node instance."""
    node_instance, host = HOST_B_NAMES[job]
    result = prometheus.wait_for_query(
        f'relabel_case{{job="{job}"}}', lambda found: len(found) == len(RELABEL_CASES) + 1
    )
    got = {series["metric"]["case"]: series["metric"]["instance"] for series in result}
    expected = {case: host + suffix for case, (_, suffix) in RELABEL_CASES.items()}
    assert got == {**expected, "no-addr": node_instance}
    assert all("addr" not in series["metric"] for series in result)


# --- the shipped dashboard ---------------------------------------------------------------------

GRAFANA_INTERVALS = {"$__rate_interval": "1m", "$__interval": "5s", "$__range": "5m"}


def _dashboard() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return data


def _panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in dashboard["panels"]:
        yield panel
        yield from panel.get("panels", [])


def _substitute(expr: str, values: dict[str, str]) -> str:
    for name, value in GRAFANA_INTERVALS.items():
        expr = expr.replace(name, value)
    for name, value in sorted(values.items(), key=lambda item: -len(item[0])):
        expr = expr.replace(f"${{{name}}}", value).replace(f"${name}", value)
    assert "$" not in expr.replace('"$1"', ""), f"unsubstituted variable in {expr}"
    return expr


def _variable_values(prometheus: Prometheus, values: dict[str, str]) -> dict[str, list[str]]:
    """Each query variable's values, from its label_values() query run as Grafana would."""
    found: dict[str, list[str]] = {}
    for variable in _dashboard()["templating"]["list"]:
        if variable["type"] != "query":
            continue
        query = variable["query"]["query"]
        match = re.fullmatch(r"label_values\((.+), (\w+)\)", query)
        assert match, f"{variable['name']}: not a label_values() query: {query}"
        selector = _substitute(match.group(1), values)
        found[variable["name"]] = sorted(prometheus.label_values(match.group(2), selector))
        # The job variable's own choice for the rest: the node job under test.
        values[variable["name"]] = (
            "node" if variable["name"] == "job" else found[variable["name"]][0]
        )
    return found


def test_dashboard_variables_offer_jobs_and_every_redis(prometheus: Prometheus) -> None:
    """The job variable offers the node jobs, the instance variable every Redis of them."""
    found = _variable_values(prometheus, {})
    assert "node" in found["job"]
    assert set(instances(prometheus.query('redis_up{job="node"}'))) <= set(found["instance"])


def test_every_dashboard_query_returns_data(prometheus: Prometheus) -> None:
    """Every panel query, its variables set, returns data (for at least one Redis when per Redis).

    The setup holds what each needs: a replica for the replication columns, a maxmemory on P1,
    a refused CONFIG and an unfinished key scan on P2. Per-Redis queries are run for each Redis
    the instance variable offers, since a primary has no link to a primary and a replica no
    replicas; each must return data for one of them.
    """
    values: dict[str, str] = {}
    redis = _variable_values(prometheus, values)["instance"]
    redis = [name for name in redis if name.startswith(("host-a:", "host-b:"))]
    empty = []
    for panel in _panels(_dashboard()):
        for target in panel.get("targets", []):
            per_redis = "$instance" in target["expr"]
            choices = redis if per_redis else [values["instance"]]
            exprs = [_substitute(target["expr"], {**values, "instance": r}) for r in choices]
            if not any(prometheus.query(expr) for expr in exprs):
                empty.append(f"{panel['title']} {target['refId']}: {exprs[0]}")
    assert not empty, "queries without data:\n" + "\n".join(empty)


def test_same_port_at_two_addresses_of_one_host_collides(prometheus: Prometheus) -> None:
    """The documented limit holds: two addrs of one host on one port leave one series, not two."""
    result = prometheus.query('relabel_collision{job="node"}')
    assert instances(result) == ["host-b:6379"]
    assert result[0]["value"][1] in {"5", "6"}
