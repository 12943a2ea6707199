"""The version, in one place: pyproject.toml reads it, so a running process never looks it up."""

__version__ = "0.1.0"
