"""Fingerprint (and read the tags of) many files in worker processes, results in input order.

At most a small window of files is in flight, so a library of 100,000 files costs the memory of
a few results, and the caller can send batches to the server while the workers carry on.
With one job the work runs in one thread (no process start-up cost for a handful of files).
"""

from __future__ import annotations

import asyncio
import os
from collections import deque
from collections.abc import AsyncIterator, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass

from earmark.chromaprint.audio import AudioError
from earmark.chromaprint.codec import encode_fingerprint_base64
from earmark.chromaprint.files import fingerprint_file
from earmark.library.tags import Tags, read_tags


@dataclass(frozen=True)
class Scanned:
    """One file: its fingerprint (compressed base64) and tags, or why it failed."""

    path: str
    duration: float = 0.0
    fingerprint: str | None = None
    tags: Tags | None = None
    error: str | None = None
    warning: str | None = None


def scan_file(path: str, length: float, with_tags: bool) -> Scanned:
    """Fingerprint one file (the first ``length`` seconds) and read its tags; never raises
    for a bad file (the error is in the result)."""
    try:
        result = fingerprint_file(path, length)
    except AudioError as exc:
        return Scanned(path, error=exc.reason)
    except OSError as exc:
        return Scanned(path, error=exc.strerror or type(exc).__name__)
    tags = read_tags(path) if with_tags else None
    return Scanned(
        path,
        duration=result.duration,
        fingerprint=encode_fingerprint_base64(result.items),
        tags=tags,
        warning=result.warning,
    )


def _executor(jobs: int, count: int) -> Executor:
    if jobs <= 1 or count <= 1:
        return ThreadPoolExecutor(max_workers=1)
    return ProcessPoolExecutor(max_workers=min(jobs, count))


async def scan_files(
    paths: Sequence[str], *, jobs: int, length: float, with_tags: bool
) -> AsyncIterator[Scanned]:
    """:func:`scan_file` of each path, in order, ``jobs`` at a time."""
    if not paths:
        return
    loop = asyncio.get_running_loop()
    window = max(2, jobs * 2)
    executor = _executor(jobs, len(paths))
    pending: deque[asyncio.Future[Scanned]] = deque()
    try:
        remaining = iter(paths)
        for path in remaining:
            pending.append(loop.run_in_executor(executor, scan_file, path, length, with_tags))
            if len(pending) >= window:
                yield await pending.popleft()
        while pending:
            yield await pending.popleft()
    finally:
        for future in pending:
            future.cancel()
        executor.shutdown(wait=True, cancel_futures=True)


def default_jobs(jobs: int) -> int:
    """0 means one job per CPU."""
    return jobs or os.cpu_count() or 1
