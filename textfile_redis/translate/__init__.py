"""Pure translation of one scrape's replies into metric families with redis_exporter's names."""

from .families import Families, SeriesCache
from .optin import SCRIPT_FAILED, SCRIPT_PREFIX
from .translation import (
    DEFAULT_DATABASES,
    MAX_EMPTY_DATABASES,
    MAX_FIELDS_PER_LINE,
    MAX_INFO_LINES,
    Extras,
    Outcome,
    Translation,
    translate,
)

__all__ = [
    "DEFAULT_DATABASES",
    "MAX_EMPTY_DATABASES",
    "MAX_FIELDS_PER_LINE",
    "MAX_INFO_LINES",
    "SCRIPT_FAILED",
    "SCRIPT_PREFIX",
    "Extras",
    "Families",
    "Outcome",
    "SeriesCache",
    "Translation",
    "translate",
]
