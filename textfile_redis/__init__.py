"""textfile-redis: Redis and Valkey metrics for node_exporter's textfile collector."""

from __future__ import annotations


def __getattr__(name: str) -> str:
    # Looked up on first use: importlib.metadata costs milliseconds that every start would pay.
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version  # noqa: PLC0415

        try:
            return version("textfile-redis")
        except PackageNotFoundError:  # a source tree that was never installed
            return "0.0.0+unknown"
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)
