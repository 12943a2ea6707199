"""The one writer of textfile-redis configuration files for tests: typed values rendered as TOML."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from pathlib import Path


def toml_value(value: object) -> str:
    """Render a string, number, boolean, list or table of them as a TOML value."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        # A JSON string without ASCII escaping is a TOML basic string, but for DEL.
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    if isinstance(value, dict):  # an inline table, e.g. a target's labels
        pairs = (f"{toml_value(str(key))} = {toml_value(item)}" for key, item in value.items())
        return "{ " + ", ".join(pairs) + " }"
    raise TypeError(f"no TOML rendering for {type(value).__name__}")


def write_config(
    path: Path, textfile_dir: Path, targets: Sequence[Mapping[str, object]], **top: object
) -> Path:
    """Write a config.toml with typed top-level keys and [[target]] tables (lists, bools, ...)."""
    lines = [f"textfile_dir = {toml_value(str(textfile_dir))}"]
    lines += [f"{key} = {toml_value(value)}" for key, value in top.items()]
    for target in targets:
        lines.append("[[target]]")
        lines += [f"{key} = {toml_value(value)}" for key, value in target.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
