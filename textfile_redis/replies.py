"""Reading RESP2 replies as plain data, for both the scraping and the translating side."""

from __future__ import annotations

from typing import Any


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
