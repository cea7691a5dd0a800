"""The progress bar of every command that walks files: click's, on stderr, for people watching."""

from __future__ import annotations

import logging
import sys
from typing import Any, TextIO, cast

import click

#: Below this many files a bar is noise.
MIN_FILES = 2


def show_progress(count: int, *, enabled: bool = True) -> bool:
    """A bar is shown for several files when stderr is a terminal (never when disabled)."""
    return enabled and count >= MIN_FILES and sys.stderr.isatty()


def progress_bar(length: int, label: str, shown: bool) -> Any:
    """``click.progressbar`` on stderr, or writing nowhere when not shown."""
    return click.progressbar(
        length=length, label=label, file=sys.stderr if shown else cast(TextIO, _Null())
    )


class _Null:
    """A sink for the progress bar when it is not shown."""

    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        return None

    def isatty(self) -> bool:
        return False


def quiet_libraries() -> None:
    """httpx logs every request and alembic every revision check at INFO: noise between the
    results of a command that makes hundreds of requests."""
    for name in ("httpx", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)
