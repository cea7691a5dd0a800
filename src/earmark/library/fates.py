"""What became of the submissions of ``import-audio``: imported, skipped (with the importer's
reason), failed, or still pending, from ``/v2/submission_status``.

A submission is only identifiable once the importer has imported it, which happens after the
submit (in ``earmark serve``, or in ``earmark run importer`` processes). Waiting for that is
bounded twice: by ``timeout``, and by ``stall`` (no submission changed state for that long: no
importer is running, or it is far behind). A server that answers ``pending`` forever (the
reference server does, §18.2) therefore costs at most ``stall`` seconds.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from earmark.library.client import WebServiceClient

#: Default bound on the wait, in seconds (``import-audio --wait-timeout``).
DEFAULT_TIMEOUT = 60.0
#: Stop waiting when no submission changed state for this long, in seconds.
DEFAULT_STALL = 15.0
FIRST_POLL = 0.5
MAX_POLL = 5.0

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


@dataclass
class Fates:
    """Per file: imported, skipped or failed by the importer (with its reason), or pending."""

    imported: int = 0
    pending: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    waited: float = 0.0

    def lines(self) -> list[str]:
        out = [
            f"imported {self.imported} file(s), {len(self.skipped)} skipped by the importer, "
            f"{len(self.failed)} failed in the importer, {len(self.pending)} still pending"
        ]
        out += [f"  skipped: {path}: {reason}" for path, reason in self.skipped]
        out += [f"  failed: {path}: {reason}" for path, reason in self.failed]
        if self.pending:
            out.append(
                f"  {len(self.pending)} file(s) not imported after {self.waited:.0f} s: "
                "`earmark identify` finds them once the importer has (is `earmark serve` or "
                "`earmark run importer` running?)"
            )
        return out


def file_fate(statuses: Sequence[dict[str, Any] | None]) -> tuple[str, str]:
    """The fate of one file from the statuses of its submissions (one per MBID): ``pending``
    while one is; else ``imported`` when one made it into the catalogue; else ``failed`` or
    ``skipped`` with the importer's reason. An id the server does not know is a failure."""
    states = [_state(status) for status in statuses]
    for wanted in ("pending", "imported", "failed", "skipped"):
        for state, reason in states:
            if state == wanted:
                return state, reason
    return "failed", "unknown to the server"


def _state(status: dict[str, Any] | None) -> tuple[str, str]:
    if status is None:
        return "failed", "the server does not report this submission"
    state = status.get("status")
    reason = status.get("reason")
    text = reason[:300] if isinstance(reason, str) and reason else ""
    if state in ("pending", "imported"):
        return str(state), ""
    if state in ("skipped", "failed"):
        return str(state), text or f"{state} (no reason given)"
    return "failed", f"unknown to the server (status {str(state)[:40]!r})"


async def await_fates(
    client: WebServiceClient,
    sent: Sequence[tuple[str, tuple[int, ...]]],
    *,
    timeout: float = DEFAULT_TIMEOUT,
    stall: float = DEFAULT_STALL,
    clock: Clock = time.monotonic,
    sleep: Sleep = asyncio.sleep,
) -> Fates:
    """Poll the status of the submissions ``sent`` (path, ids) until none is pending, or
    ``timeout`` seconds, or ``stall`` seconds without a change; then each file's fate."""
    ids = sorted({i for _, found in sent for i in found})
    start = clock()
    changed = start
    delay = FIRST_POLL
    statuses: dict[int, dict[str, Any]] = {}
    previous: dict[int, object] = {}
    while ids:
        statuses = await client.submission_status(ids)
        now = clock()
        current = {i: statuses.get(i, {}).get("status") for i in ids}
        if current != previous:
            changed, previous = now, current
        if all(state != "pending" for state in current.values()):
            break
        left = min(start + timeout, changed + stall) - now
        if left <= 0:
            break
        await sleep(min(delay, left))
        delay = min(delay * 1.5, MAX_POLL)
    fates = Fates(waited=clock() - start)
    for path, found in sent:
        state, reason = file_fate([statuses.get(i) for i in found])
        if state == "imported":
            fates.imported += 1
        elif state == "pending":
            fates.pending.append(path)
        elif state == "skipped":
            fates.skipped.append((path, reason))
        else:
            fates.failed.append((path, reason))
    return fates
