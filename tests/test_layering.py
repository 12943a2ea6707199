"""Imports flow one way, as DESIGN.md's module map says: checked on the source with ast."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "textfile_redis"

# Each module: the package modules and the third-party distributions it may import.
ALLOWED: dict[str, tuple[set[str], set[str]]] = {
    "__init__": ({"_version"}, set()),
    "_version": (set(), set()),
    "__main__": ({"entry"}, set()),
    "entry": ({"cli"}, set()),
    "cli": ({"__init__", "config", "cycle", "daemon", "notify", "scrape", "textfile"}, set()),
    "daemon": ({"config", "cycle", "textfile", "watch", "notify"}, set()),
    "cycle": ({"config", "scrape", "textfile", "translate"}, set()),
    "config": (set(), set()),
    "scrape": ({"allowance", "config", "commands", "keyscan", "replies"}, {"redis"}),
    "allowance": (set(), set()),
    "replies": (set(), set()),
    "commands": ({"config"}, set()),
    "keyscan": ({"config", "replies"}, set()),
    "translate": (
        {
            "__init__",
            "exposition",
            "families",
            "metric_names",
            "replies",
            "translate_keys",
            "translate_optin",
            "translate_sentinel",
        },
        {"prometheus_client"},
    ),
    "families": ({"exposition", "gofloat", "metric_names"}, set()),
    "translate_keys": ({"families"}, set()),
    "translate_optin": ({"families", "metric_names"}, set()),
    "translate_sentinel": ({"families", "replies"}, set()),
    "metric_names": (set(), set()),
    "gofloat": (set(), set()),
    "textfile": ({"exposition"}, set()),
    "exposition": (set(), {"prometheus_client"}),
    "watch": (set(), {"watchdog"}),
    "notify": (set(), set()),
}
# tomli stands in for tomllib before Python 3.11.
STDLIB_BACKPORTS = {"tomli"}


def _module_of(name: str) -> str:
    """`from . import x` names a module when x.py exists, else something of __init__."""
    return name if (PACKAGE / f"{name}.py").exists() else "__init__"


def _imports(module: str) -> tuple[set[str], set[str]]:
    """Package modules and top-level third-party names that `module` imports."""
    tree = ast.parse((PACKAGE / f"{module}.py").read_text())
    internal: set[str] = set()
    external: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level > 0:
            names = [node.module] if node.module else [alias.name for alias in node.names]
            internal.update(_module_of(name.split(".")[0]) for name in names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            external.add(node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            external.update(alias.name.split(".")[0] for alias in node.names)
    third_party = external - set(sys.stdlib_module_names) - {"__future__"} - STDLIB_BACKPORTS
    return internal, third_party


def test_every_module_is_in_the_map() -> None:
    """A new module must say where it sits before it can be imported from anywhere."""
    assert {path.stem for path in PACKAGE.glob("*.py")} <= set(ALLOWED)


@pytest.mark.parametrize("module", sorted(p.stem for p in PACKAGE.glob("*.py")))
def test_module_imports_only_what_the_map_allows(module: str) -> None:
    """Each module imports only the package modules and libraries the map gives it."""
    internal, third_party = _imports(module)
    allowed_internal, allowed_third_party = ALLOWED[module]
    assert internal <= allowed_internal, f"{module} imports {internal - allowed_internal}"
    assert third_party <= allowed_third_party, f"{module} imports {third_party}"
