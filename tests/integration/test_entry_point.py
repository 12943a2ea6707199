"""The command as a process (python -m textfile_redis): what the in-process CLI tests see holds."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tests.support.daemon import textfile_redis

if TYPE_CHECKING:
    from pathlib import Path


def test_the_process_exits_78_and_2_as_the_in_process_tests_say(tmp_path: Path) -> None:
    """Through the real entry point too: a bad config is exit 78 in one line, a bad option 2."""
    path = tmp_path / "config.toml"
    path.write_text("textfile_dir = \n")
    bad_config = textfile_redis("check", "--config", str(path))
    assert bad_config.returncode == 78
    assert len(bad_config.stderr.splitlines()) == 1
    assert textfile_redis("once", "--no-such-option").returncode == 2


def test_version_and_module_entry_point() -> None:
    """`python -m textfile_redis --version` prints the version and exits 0."""
    result = textfile_redis("--version")
    assert result.returncode == 0
    assert result.stdout.startswith("textfile-redis ")
