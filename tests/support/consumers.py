"""Real consumers of the textfiles: node_exporter, promtool's lint, a Prometheus server."""

from __future__ import annotations

import json
import re
import subprocess
import urllib.parse
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tests.support.processes import (
    ManagedProcess,
    launch_on_free_port,
    on_path,
    required_binary,
    spawn,
    wait_for,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

# promtool 2.42 exits 3 when it found lint problems and 1 when the text does not parse; newer
# releases use 1 for both. Either way its output lines are the problems.
PROMTOOL_VERDICT_CODES = frozenset({0, 1, 3})

PROMETHEUS_DIR = Path(__file__).resolve().parents[2] / "prometheus"
SCRAPE_CONFIG = PROMETHEUS_DIR / "node-job-relabel.yml"
BLOCK_START = "# ---- textfile-redis: copy from here ----"
BLOCK_END = "# ---- textfile-redis: to here ----"
QUERY_DEADLINE_S = 20.0  # a few 1 s scrapes, and two for a rate(), on a busy machine


def prometheus_binary() -> Path | None:
    """The Prometheus server binary, or None when Debian's prometheus package is not installed."""
    return on_path("prometheus")


def relabel_block() -> str:
    """The lines users copy into their node_exporter job, exactly as shipped, markers excluded."""
    text = SCRAPE_CONFIG.read_text(encoding="utf-8")
    start = text.index(BLOCK_START)
    end = text.index(BLOCK_END)
    body = text[start:end].split("\n", 1)[1]  # from the line after the start marker
    return body.rstrip(" ")


def node_job(
    job: str, targets: dict[str, str], *, with_block: bool = True, interval: str = "1s"
) -> str:
    """A scrape job (YAML, indented for scrape_configs) over targets {address: instance}.

    Each address is renamed to its instance by a test-only relabel_configs, as a fleet's
    service discovery would name its hosts; then comes the shipped block, verbatim.
    """
    lines = [
        f"  - job_name: {json.dumps(job)}",
        f"    scrape_interval: {interval}",
        f"    scrape_timeout: {interval}",
        "    static_configs:",
        f"      - targets: {json.dumps(sorted(targets))}",
        "    relabel_configs:",
    ]
    for address, instance in sorted(targets.items()):
        lines += [
            "      - source_labels: [__address__]",
            f"        regex: {json.dumps(_quote_regex(address))}",
            "        target_label: instance",
            f"        replacement: {json.dumps(instance)}",
        ]
    text = "\n".join(lines) + "\n"
    return text + relabel_block() if with_block else text


def _quote_regex(text: str) -> str:
    return "".join("\\" + char if char in r".[]()*+?{}|^$\\" else char for char in text)


def prometheus_config(jobs: Sequence[str]) -> str:
    """A prometheus.yml with 1 s scrapes and evaluations and the given jobs."""
    head = "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n"
    return head + "".join(jobs)


class Prometheus(ManagedProcess):
    """Prometheus on a free loopback port with its own storage, queried through its HTTP API."""

    name = "prometheus"

    @classmethod
    def start(cls, binary: Path, config: Path, workdir: Path) -> Prometheus:
        """Start Prometheus with `config`; return once /-/ready answers."""
        workdir.mkdir(parents=True, exist_ok=True)

        def launch(port: int) -> Prometheus:
            argv = [
                str(binary),
                f"--config.file={config}",
                f"--storage.tsdb.path={workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--web.enable-lifecycle",
                "--log.level=warn",
            ]
            log_path = workdir / "prometheus.log"
            return cls(spawn(argv, log_path), port, log_path)

        return launch_on_free_port(launch, Prometheus.wait_until_ready)

    @property
    def url(self) -> str:
        """The base URL of the web API."""
        return f"http://127.0.0.1:{self.port}"

    def get(self, path: str, **params: str) -> Any:
        """GET an API path with query parameters; the decoded JSON body."""
        query = urllib.parse.urlencode(params)
        # Always http on loopback, built above.
        with urllib.request.urlopen(f"{self.url}{path}?{query}", timeout=10) as answer:  # noqa: S310
            return json.loads(answer.read())

    def query(self, expr: str) -> list[dict[str, Any]]:
        """An instant query's result: a list of {"metric": labels, "value": [t, "v"]}."""
        body = self.get("/api/v1/query", query=expr)
        assert body["status"] == "success", body
        result = body["data"]["result"]
        if body["data"]["resultType"] == "scalar":
            return [{"metric": {}, "value": result}]
        return list(result)

    def label_values(self, label: str, match: str) -> set[str]:
        """The values `label` takes on series matching `match` (Grafana's label_values)."""
        body = self.get(f"/api/v1/label/{label}/values", **{"match[]": match})
        assert body["status"] == "success", body
        return set(body["data"])

    def wait_for_query(
        self,
        expr: str,
        check: Callable[[list[dict[str, Any]]], bool],
        timeout: float = QUERY_DEADLINE_S,
    ) -> list[dict[str, Any]]:
        """Poll `expr` until `check` holds for its result; that result, or TimeoutError."""
        seen: list[list[dict[str, Any]]] = []

        def holds() -> bool:
            self.check_alive()
            seen[:] = [self.query(expr)]
            return check(seen[0])

        try:
            wait_for(holds, timeout=timeout, interval=0.2, message=expr)
        except TimeoutError as late:
            raise AssertionError(f"{late}; last result: {seen}") from None
        return seen[0]

    def wait_until_ready(self) -> None:
        """Wait until /-/ready answers 200; raise if Prometheus exits or the deadline passes."""
        wait_for(self._is_ready, message=f"prometheus never became ready on {self.url}")

    def _is_ready(self) -> bool:
        self.check_alive()
        try:
            # Always http on loopback, built above.
            with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as answer:  # noqa: S310
                return bool(answer.status == 200)
        except OSError:  # refused, or 503 while starting (HTTPError is an OSError)
            return False

    def __repr__(self) -> str:
        return f"<Prometheus {self.url} pid={self.pid}>"


def instances(result: list[dict[str, Any]]) -> list[str]:
    """The instance label of each series of a query result, sorted."""
    return sorted(series["metric"].get("instance", "") for series in result)


class NodeExporter(ManagedProcess):
    """node_exporter on a free loopback port with only the textfile collector enabled."""

    name = "node_exporter"

    @classmethod
    def start(cls, textfile_dir: Path, workdir: Path) -> NodeExporter:
        """Start node_exporter reading `textfile_dir`; return once /metrics answers."""
        binary = required_binary("prometheus-node-exporter", "node_exporter")
        workdir.mkdir(parents=True, exist_ok=True)

        def launch(port: int) -> NodeExporter:
            argv = [
                str(binary),
                "--collector.disable-defaults",
                "--collector.textfile",
                f"--collector.textfile.directory={textfile_dir}",
                f"--web.listen-address=127.0.0.1:{port}",
            ]
            log_path = workdir / "node_exporter.log"
            return cls(spawn(argv, log_path), port, log_path)

        return launch_on_free_port(launch, NodeExporter.wait_until_serving)

    @property
    def url(self) -> str:
        """The metrics endpoint."""
        return f"http://127.0.0.1:{self.port}/metrics"

    def metrics(self) -> str:
        """Scrape /metrics once and return the exposition text."""
        # The URL is always http on loopback, built above.
        with urllib.request.urlopen(self.url, timeout=5) as response:  # noqa: S310 -- see above
            body: bytes = response.read()
        return body.decode()

    def complaints(self) -> list[str]:
        """Its logged warnings and errors (a bad textfile, a duplicate series), but for root."""
        return [
            line
            for line in self.log().splitlines()
            if re.search(r"level=(warn|error)", line) and "running as root" not in line
        ]

    def wait_until_serving(self) -> None:
        """Wait until /metrics answers; raise if node_exporter exits or the deadline passes."""
        wait_for(self._serves_metrics, message=f"node_exporter never served {self.url}")

    def _serves_metrics(self) -> bool:
        self.check_alive()
        try:
            self.metrics()
        except OSError:  # refused or reset: not listening yet (URLError is an OSError)
            return False
        return True

    def __repr__(self) -> str:
        return f"<NodeExporter {self.url} pid={self.pid}>"


def promtool_check_metrics(path: Path) -> list[str]:
    """Lint an exposition file with `promtool check metrics`; return its problems, [] when clean."""
    promtool = required_binary("promtool")
    with path.open("rb") as exposition:
        result = subprocess.run(
            [str(promtool), "check", "metrics"],
            stdin=exposition,
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
        )
    if result.returncode not in PROMTOOL_VERDICT_CODES:
        raise RuntimeError(f"promtool failed with code {result.returncode}: {result.stderr}")
    if result.returncode == 0:
        return []
    return [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]


# promtool's naming lints that redis_exporter's own names raise (counters without `_total`, gauges
# with `_total` or `_count`, `_sec`/`_ms`/`_milliseconds` units). Only `redis_*` names may raise
# them: the product's own `textfile_redis_*` families follow the naming rules fully.
REDIS_EXPORTER_LINTS = (
    'counter metrics should have "_total" suffix',
    'non-counter metrics should not have "_total" suffix',
    "metric names should not contain abbreviated units",
    'non-histogram and non-summary metrics should not have "_count" suffix',
    'use base unit "seconds" instead of "milliseconds"',
)


def unaccepted_lints(path: Path) -> list[str]:
    """The problems promtool finds in a textfile, less redis_exporter's naming lints."""
    return [
        problem
        for problem in promtool_check_metrics(path)
        if not (problem.startswith("redis_") and problem.endswith(REDIS_EXPORTER_LINTS))
    ]
