"""Reading RESP2 replies as plain data, for both the scraping and the translating side."""

from __future__ import annotations

from typing import Any

# A server-chosen name (a key) kept or written longer than this is cut and marked: the sweep
# keeps it cut and the label shows the same text.
MAX_NAME_CHARS = 1024
# LATENCY HISTOGRAM: a histogram per command and subcommand called (a few hundred exist), each
# of at most 64 power-of-two buckets of a 64-bit count of microseconds. Past these, a reply is
# no server's: the scraper keeps none of it, translation reads no further.
MAX_HISTOGRAM_COMMANDS = 2048
MAX_HISTOGRAM_BUCKETS = 64


def cut_name(name: str) -> str:
    """The name whole up to MAX_NAME_CHARS characters, else cut and marked with what is left."""
    if len(name) <= MAX_NAME_CHARS:
        return name
    return f"{name[:MAX_NAME_CHARS]}...({len(name) - MAX_NAME_CHARS} more)"


def int_or_zero(text: str) -> float:
    """Go's Atoi as redis_exporter uses it for some fields: 0 when not an integer."""
    try:
        return float(int(text))
    except ValueError:
        return 0.0


def as_dict(reply: object) -> dict[str, Any]:
    """A flat [name, value, name, value, ...] reply (CONFIG GET, XINFO, SENTINEL) as a dict.

    Anything else, a refusal included, is an empty dict: its metrics are simply absent.
    """
    if not isinstance(reply, list):
        return {}
    return {str(name): value for name, value in zip(reply[::2], reply[1::2], strict=False)}


def as_text_dict(reply: object) -> dict[str, str]:
    """The same, every value as text (CONFIG GET's settings, SENTINEL's fields)."""
    return {name: str(value) for name, value in as_dict(reply).items()}
