"""The alert rules in prometheus/: promtool accepts them and their unit tests pass."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.support.consumers import relabel_block
from tests.support.tools import require_tool

PROMETHEUS_DIR = Path(__file__).resolve().parent.parent / "prometheus"
RULES = PROMETHEUS_DIR / "textfile-redis.rules.yml"
RULE_TESTS = PROMETHEUS_DIR / "textfile-redis.rules.test.yml"


@pytest.fixture(scope="module")
def promtool() -> str:
    """Return promtool's path; skip without it (fail on CI, where .ci/run installs it)."""
    return str(require_tool("promtool", installed_by="Debian's prometheus package"))


def run_promtool(promtool: str, *args: str) -> None:
    """Run promtool in prometheus/ and fail with its output unless it succeeds."""
    result = subprocess.run(
        [promtool, *args],
        cwd=PROMETHEUS_DIR,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, (
        f"promtool {' '.join(args)} exited {result.returncode}:\n{result.stdout}{result.stderr}"
    )


def alert_names() -> list[str]:
    """The alerts the rules file defines, in order."""
    return re.findall(r"^\s*- alert: (\S+)\s*$", RULES.read_text(), flags=re.MULTILINE)


def expected_outcomes() -> dict[str, set[bool]]:
    """For each alert the unit tests evaluate: whether they expect it firing, silent, or both."""
    outcomes: dict[str, set[bool]] = {}
    pattern = r"alertname: (\S+)\s*\n\s*exp_alerts:[ \t]*(\[\])?"
    for name, empty in re.findall(pattern, RULE_TESTS.read_text()):
        outcomes.setdefault(name, set()).add(not empty)
    return outcomes


def test_rules_pass_promtool_check(promtool: str) -> None:
    """`promtool check rules` accepts the rules file."""
    run_promtool(promtool, "check", "rules", RULES.name)


def test_rules_pass_their_promtool_unit_tests(promtool: str) -> None:
    """`promtool test rules` passes: every alert fires, and stays silent, where expected."""
    run_promtool(promtool, "test", "rules", RULE_TESTS.name)


def test_every_alert_is_tested_firing_and_silent() -> None:
    """Each alert has a unit test where it fires and one where it does not."""
    outcomes = expected_outcomes()
    assert alert_names(), "no alert found in the rules file"
    for name in alert_names():
        assert outcomes.get(name) == {True, False}, f"{name}: tested {outcomes.get(name)}"


def test_every_alert_has_severity_summary_and_description() -> None:
    """Each alert carries a severity label and summary and description annotations."""
    blocks = re.split(r"^\s*- alert: ", RULES.read_text(), flags=re.MULTILINE)[1:]
    assert len(blocks) == len(alert_names())
    for block in blocks:
        name = block.split()[0]
        assert re.search(r"severity: (critical|warning|info)\b", block), name
        assert "summary:" in block, name
        assert "description:" in block, name
        assert "$labels.instance" in block, name


SCRAPE_CONFIG = PROMETHEUS_DIR / "node-job-relabel.yml"
HOST_OF_INSTANCE = '{{ reReplaceAll "(.+):[^:]+" "$1" $labels.instance }}'


def server_alert_blocks() -> dict[str, str]:
    """The alerts of the textfile-redis-servers group, by name: the per-Redis alerts."""
    group = RULES.read_text().split("- name: textfile-redis-servers", 1)[1]
    blocks = re.split(r"^\s*- alert: ", group, flags=re.MULTILINE)[1:]
    return {block.split()[0]: block for block in blocks}


def test_shipped_scrape_config_passes_promtool_check(promtool: str) -> None:
    """`promtool check config` accepts node-job-relabel.yml with its relabel block and rules."""
    run_promtool(promtool, "check", "config", SCRAPE_CONFIG.name)


def test_server_alerts_name_the_redis_and_its_host() -> None:
    """Per-Redis alerts name the Redis by instance and its host, and never use addr."""
    blocks = server_alert_blocks()
    assert len(blocks) == 10
    for name, block in blocks.items():
        summary = block.split("summary:", 1)[1].split("description:", 1)[0]
        description = block.split("description:", 1)[1]
        assert "$labels.instance" in summary, name
        assert HOST_OF_INSTANCE in " ".join(description.split()), name
        assert "addr" not in block, name


def test_docs_show_the_shipped_relabel_block_verbatim() -> None:
    """docs/prometheus.md shows exactly the block that node-job-relabel.yml ships and tests use."""
    docs = PROMETHEUS_DIR.parent / "docs" / "prometheus.md"
    assert relabel_block() in docs.read_text(encoding="utf-8")


def test_readme_shows_the_shipped_relabel_block_without_its_comments() -> None:
    """The README's block is the shipped one, rule for rule: copying either gives the same."""
    shipped = [line for line in relabel_block().splitlines() if not line.strip().startswith("#")]
    readme = (PROMETHEUS_DIR.parent / "README.md").read_text(encoding="utf-8")
    assert "\n".join(shipped) in readme
