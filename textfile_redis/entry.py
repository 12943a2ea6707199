"""Entry point: catch stop signals before the heavy imports, then hand over to the CLI."""

from __future__ import annotations

import signal
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from types import FrameType

# Importing redis, prometheus_client and watchdog takes a tenth of a second or more. A SIGTERM
# in that window would kill the process (or, as PID 1 in a container, be dropped by the
# kernel); it is remembered here and acted on once the command has started.
_early_signals: list[int] = []


def _remember(signum: int, _frame: FrameType | None) -> None:
    _early_signals.append(signum)


def main() -> int:
    """The `textfile-redis` command."""
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _remember)
    from .cli import main as cli_main  # noqa: PLC0415 - imported after the handlers, on purpose

    return cli_main(sys.argv[1:], early_signals=_early_signals)
