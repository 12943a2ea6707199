"""The shipped Grafana dashboard: portable, and showing what issue 13 asks of it.

Whether its queries return data is tested against a real Prometheus in
tests/integration/test_identity.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

DASHBOARD = Path(__file__).resolve().parent.parent / "grafana" / "textfile-redis.json"
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}


def dashboard() -> dict[str, Any]:
    """The dashboard JSON."""
    data: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return data


def panels() -> list[dict[str, Any]]:
    """Every panel, rows' own panels included."""
    found = []
    for panel in dashboard()["panels"]:
        found.append(panel)
        found.extend(panel.get("panels", []))
    return found


def panel_titled(title: str) -> dict[str, Any]:
    """The one panel with this title."""
    (found,) = [panel for panel in panels() if panel["title"] == title]
    return found


def exprs(panel: dict[str, Any]) -> str:
    """A panel's queries, one per line."""
    return "\n".join(target["expr"] for target in panel.get("targets", []))


def variables() -> dict[str, dict[str, Any]]:
    """The template variables by name."""
    return {variable["name"]: variable for variable in dashboard()["templating"]["list"]}


def test_data_source_is_a_variable_everywhere() -> None:
    """A datasource variable exists and every panel and query uses it, never a fixed uid."""
    assert variables()["datasource"]["type"] == "datasource"
    assert variables()["datasource"]["query"] == "prometheus"
    for panel in panels():
        if panel["type"] == "row":
            continue
        assert panel["datasource"] == DATASOURCE, panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == DATASOURCE, panel["title"]
    assert "__inputs" not in dashboard()


def test_instance_variable_lists_each_redis_of_the_chosen_jobs() -> None:
    """The drill-down picks one Redis through `instance`, from redis_up of the chosen jobs."""
    instance = variables()["instance"]
    assert instance["query"]["query"] == 'label_values(redis_up{job=~"$job"}, instance)'
    assert instance["multi"] is False
    per_server = [panel for panel in panels() if 'instance="$instance"' in exprs(panel)]
    assert len(per_server) >= 10


def test_fleet_table_has_a_column_for_each_figure() -> None:
    """The fleet table shows up, role, memory and maxmemory, clients, ops/s, replication, save."""
    table = panel_titled("Every Redis")
    assert table["type"] == "table"
    queries = exprs(table)
    for family in (
        "redis_up",
        "redis_instance_info",
        "redis_memory_used_bytes",
        "redis_memory_max_bytes",
        "redis_connected_clients",
        "redis_commands_processed_total",
        "redis_master_link_up",
        "redis_connected_slave_lag_seconds",
        "redis_rdb_last_save_timestamp_seconds",
    ):
        assert family in queries, family
    assert all("by (instance" in target["expr"] for target in table["targets"])


def test_health_panels_cover_files_errors_refusals_and_scans() -> None:
    """textfile-redis's own health: file age per host, errors, refused commands, scans."""
    queries = "\n".join(exprs(panel) for panel in panels())
    assert "time() - max by (instance, file) (node_textfile_mtime_seconds" in queries
    for family in (
        "textfile_redis_scrape_error",
        "node_textfile_scrape_error",
        "textfile_redis_command_refused",
        "textfile_redis_scan_in_progress",
    ):
        assert family in queries, family


def test_no_query_uses_addr() -> None:
    """No query relies on addr, which the node job's relabel block drops."""
    for panel in panels():
        assert "addr" not in exprs(panel), panel["title"]
