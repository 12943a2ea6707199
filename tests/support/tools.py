"""What a test needs from the machine: skip locally when it is missing, fail on CI."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, NoReturn

import pytest

from tests.support.processes import on_path

if TYPE_CHECKING:
    from pathlib import Path


def on_ci() -> bool:
    """Whether this is a CI run (CI set and not empty), where a missing tool is a broken setup."""
    return bool(os.environ.get("CI"))


def unavailable(reason: str) -> NoReturn:
    """End the test for want of something: skipped here, failed on CI. The one place for it."""
    if on_ci():
        pytest.fail(reason)
    pytest.skip(reason)


def require(condition: object, reason: str) -> None:
    """Go on when `condition` holds; otherwise the test is unavailable for `reason`."""
    if not condition:
        unavailable(reason)


def require_tool(*commands: str, installed_by: str) -> Path:
    """The first of `commands` on PATH; without any, unavailable naming what installs it."""
    for command in commands:
        found = on_path(command)
        if found is not None:
            return found
    unavailable(f"no {' or '.join(commands)} here; install {installed_by}")
