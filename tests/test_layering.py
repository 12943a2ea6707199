"""Imports flow one way, as DESIGN.md's module map says: checked on the source with ast."""

from __future__ import annotations

import ast
import graphlib
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "textfile_redis"

# Each room, a module or a package: the rooms and the third-party distributions it may import.
# A package's modules may import each other (not their own __init__), and nothing else of the
# package but the rooms its entry names; other rooms import a package only as a whole
# (`from .config import X`), never one of its modules (`from .config.model import X`).
ALLOWED: dict[str, tuple[set[str], set[str]]] = {
    "__init__": ({"_version"}, set()),
    "_version": (set(), set()),
    "__main__": ({"entry"}, set()),
    "entry": ({"cli"}, set()),
    "cli": (
        {"__init__", "config", "cycle", "daemon", "discover", "notify", "scrape", "textfile"},
        set(),
    ),
    "discover": (set(), set()),
    "daemon": (
        {"config", "cycle", "discover", "notify", "rediscovery", "textfile", "watch"},
        set(),
    ),
    "rediscovery": ({"discover"}, set()),
    "cycle": ({"budget", "config", "scrape", "textfile", "translate"}, set()),
    "budget": ({"catalog", "exposition", "translate"}, set()),
    "config": ({"catalog", "discover"}, set()),
    "scrape": (
        {"allowance", "config", "commands", "histograms", "keyscan", "replies"},
        {"redis"},
    ),
    "histograms": ({"commands", "replies"}, set()),
    "allowance": (set(), set()),
    "replies": (set(), set()),
    "commands": ({"config"}, set()),
    "keyscan": ({"config", "replies"}, set()),
    "translate": ({"__init__", "catalog", "exposition", "replies"}, {"prometheus_client"}),
    "catalog": (set(), set()),
    "textfile": ({"exposition"}, set()),
    "exposition": (set(), {"prometheus_client"}),
    "watch": (set(), {"watchdog"}),
    "notify": (set(), set()),
}
# tomli stands in for tomllib before Python 3.11.
STDLIB_BACKPORTS = {"tomli"}


def _rooms() -> dict[str, list[Path]]:
    """Each room's files: x.py alone, or every module of the package x/."""
    rooms = {path.stem: [path] for path in PACKAGE.glob("*.py")}
    for init in PACKAGE.glob("*/__init__.py"):
        rooms[init.parent.name] = sorted(init.parent.glob("*.py"))
    return rooms


def _place(parts: list[str]) -> tuple[str, str | None]:
    """(room, module of the room or None for the room as a whole) for a dotted name in the package.

    A trailing name that is not a module is something the room's __init__ offers.
    """
    if not parts or not _is_module(parts[:1]):
        return "__init__", None
    if len(parts) > 1 and _is_module(parts[:2]):
        return parts[0], parts[1]
    return parts[0], None


def _is_module(parts: list[str]) -> bool:
    path = PACKAGE.joinpath(*parts)
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def _targets(node: ast.ImportFrom | ast.Import, package: list[str]) -> list[list[str]] | None:
    """The dotted names (inside the package) an import statement reaches; None when outside it.

    `package` is where the importing file sits: [] at the top, ["config"] inside config/.
    """
    if isinstance(node, ast.Import):
        names = [alias.name.split(".") for alias in node.names]
        return [name[1:] for name in names if name[0] == PACKAGE.name] or None
    if node.level == 0:
        module = (node.module or "").split(".")
        if module[0] != PACKAGE.name:
            return None
        base = module[1:]
    else:
        up = node.level - 1
        if up > len(package):
            return [["..", "(beyond the package)"]]
        base = package[: len(package) - up] + (node.module.split(".") if node.module else [])
    return [[*base, alias.name] for alias in node.names]


def _third_party(tree: ast.AST) -> set[str]:
    """Top-level names of the distributions a module imports, beyond the standard library."""
    external: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            external.add(node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            external.update(alias.name.split(".")[0] for alias in node.names)
    ignored = set(sys.stdlib_module_names) | {"__future__", PACKAGE.name} | STDLIB_BACKPORTS
    return external - ignored


def _reached(tree: ast.AST, package: list[str]) -> set[tuple[str, str | None]]:
    """Every (room, module) a file's imports reach inside the package."""
    reached: set[tuple[str, str | None]] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for target in _targets(node, package) or []:
                is_beyond = target[0] == ".."
                reached.add(("(beyond the package)", None) if is_beyond else _place(target))
    return reached


def _violations(path: Path, source: str) -> list[str]:
    """What a file's imports break of the map; empty when it keeps to it."""
    package = list(path.parent.relative_to(PACKAGE).parts)
    room = package[0] if package else path.stem
    allowed_internal, allowed_third_party = ALLOWED[room]
    tree = ast.parse(source)
    problems = [f"imports {name}" for name in sorted(_third_party(tree) - allowed_third_party)]
    for other, module in sorted(_reached(tree, package), key=str):
        if other == room and package:
            if module is None:
                problems.append(f"imports its own package's __init__; import from {room}.<module>")
        elif other == room:
            continue
        elif module is not None:
            problems.append(f"reaches into {other}.{module}; import from {other} itself")
        elif other not in allowed_internal:
            problems.append(f"imports {other}")
    return problems


def test_every_module_is_in_the_map() -> None:
    """A new module or package must say where it sits before it can be imported from anywhere."""
    assert set(_rooms()) <= set(ALLOWED)


@pytest.mark.parametrize(
    "path",
    sorted(path for paths in _rooms().values() for path in paths),
    ids=lambda path: str(path.relative_to(PACKAGE)),
)
def test_module_imports_only_what_the_map_allows(path: Path) -> None:
    """Each module imports only the rooms and libraries its room's line in the map gives it."""
    assert _violations(path, path.read_text()) == []


@pytest.mark.parametrize(
    ("path", "source", "problem"),
    [
        ("cycle.py", "from .daemon import Daemon", "imports daemon"),
        ("cycle.py", "import textfile_redis.daemon", "imports daemon"),
        ("cycle.py", "import watchdog", "imports watchdog"),
        ("cli.py", "from .config.model import Config", "reaches into config.model"),
        ("cli.py", "from .config import model", "reaches into config.model"),
        ("cli.py", "from textfile_redis.config.loading import x", "reaches into config.loading"),
        ("config/model.py", "from ..cycle import Cycle", "imports cycle"),
        ("config/model.py", "from .. import __version__", "imports __init__"),
        ("config/model.py", "from ... import x", "imports (beyond the package)"),
        ("config/model.py", "import redis", "imports redis"),
        ("config/fields.py", "from . import load_config", "imports its own package's __init__"),
    ],
)
def test_the_check_catches_imports_across_rooms(path: str, source: str, problem: str) -> None:
    """The check itself fails on an import the map forbids, inside a package or into one."""
    assert any(found.startswith(problem) for found in _violations(PACKAGE / path, source))


@pytest.mark.parametrize(
    ("path", "source"),
    [
        ("cli.py", "from .config import Config, load_config"),
        ("config/loading.py", "from .model import Config\nfrom . import owner"),
        ("config/model.py", "import tomli"),
    ],
)
def test_the_check_allows_what_the_map_says(path: str, source: str) -> None:
    """Imports of a whole room the map names, and of a sibling inside a package, pass."""
    assert _violations(PACKAGE / path, source) == []


@pytest.mark.parametrize("room", sorted(room for room, paths in _rooms().items() if len(paths) > 1))
def test_a_packages_modules_import_each_other_one_way(room: str) -> None:
    """Inside a package, imports between its modules form no cycle."""
    graph = {
        path.stem: {
            module
            for other, module in _reached(ast.parse(path.read_text()), [room])
            if other == room and module is not None
        }
        for path in _rooms()[room]
    }
    graphlib.TopologicalSorter(graph).prepare()  # raises CycleError on a cycle
