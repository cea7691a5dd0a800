"""Releasing what a runtime opened: the one loop every runtime (API, website, catalog) uses."""

from __future__ import annotations

import logging
from collections.abc import Callable

log = logging.getLogger(__name__)


def release_all(closers: list[Callable[[], None]]) -> None:
    """Call the closers, newest first, each once, whatever the others do."""
    while closers:
        closer = closers.pop()
        try:
            closer()
        except Exception:
            log.exception("closing %r failed", closer)
