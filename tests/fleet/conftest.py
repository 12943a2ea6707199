"""Fixtures of the fleet test: booted hosts, the wheelhouse, and the first deployment."""

from __future__ import annotations

import secrets
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.support.fleet.ansible import build_wheelhouse
from tests.support.fleet.deploy import ANSIBLE_TOOLS, FLEET_TOOLS, HOSTS, Fleet, require_tools
from tests.support.fleet.hosts import booted_fleet
from tests.support.fleet.tree import debian_tree

if TYPE_CHECKING:
    from collections.abc import Iterator

FLEET_DIR = Path(__file__).resolve().parent


def _names_the_fleet(arg: str, rootdir: Path) -> bool:
    """True when a command-line path is the fleet's directory or inside it."""
    path = (rootdir / arg.split("::", 1)[0]).resolve()
    return path == FLEET_DIR or FLEET_DIR in path.parents


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The fleet runs apart: only when named (`pytest tests/fleet`), never within `pytest tests`.

    A developer's `pytest tests --ignore=tests/integration` once booted two hosts for minutes.
    """
    invocation = Path(config.invocation_params.dir)
    if any(_names_the_fleet(arg, invocation) for arg in config.invocation_params.args):
        return
    fleet = [item for item in items if FLEET_DIR in Path(item.path).resolve().parents]
    if fleet:
        config.hook.pytest_deselected(items=fleet)
        items[:] = [item for item in items if item not in fleet]


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    """Two booted bookworm hosts, deployed once by the playbook; torn down even on failure."""
    require_tools(FLEET_TOOLS + ANSIBLE_TOOLS, root=True)
    workdir = tmp_path_factory.mktemp("fleet")
    key = workdir / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    tree = debian_tree()
    wheelhouse = build_wheelhouse(tree, workdir / "controller")
    password = secrets.token_urlsafe(16)
    with booted_fleet(tree, workdir / "hosts", HOSTS, key, password) as hosts:
        deployed = Fleet(hosts, workdir, wheelhouse, password)
        deployed.play()
        yield deployed
