"""Fingerprint (and read the tags of) many files in worker processes, results in input order.

At most a small window of files is in flight, so a library of 100,000 files costs the memory of
a few results, and the caller can send batches to the server while the workers carry on.
With one job the work runs in one thread (no process start-up cost for a handful of files).

A decoder that kills its worker process (a crash in a native library on a hostile file) breaks
the whole pool: every file in flight then fails the same way. The pool is rebuilt and those
files are retried one at a time, so only the file that crashes a worker alone is reported
(:data:`DECODER_CRASHED`) and the run goes on.
"""

from __future__ import annotations

import asyncio
import os
from collections import deque
from collections.abc import AsyncIterator, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

from earmark.chromaprint.audio import AudioError
from earmark.chromaprint.codec import encode_fingerprint_base64
from earmark.chromaprint.files import fingerprint_file
from earmark.chromaprint.identifiable import unidentifiable_message
from earmark.library.tags import Tags, read_tags

#: The reason of a file whose decoding killed the worker process.
DECODER_CRASHED = "the decoder crashed"


@dataclass(frozen=True)
class Scanned:
    """One file: its fingerprint (compressed base64) and tags, or why it failed."""

    path: str
    duration: float = 0.0
    fingerprint: str | None = None
    tags: Tags | None = None
    error: str | None = None
    warning: str | None = None
    #: The error came from the system (I/O error, permission, file gone), not from the file's
    #: content: it may well go away (a disk remounted), so it must not be remembered as final.
    transient: bool = False
    #: Why the fingerprint can never be identified (too short, silence), or None: the importer
    #: would skip its submission and no lookup can find it (earmark.chromaprint.identifiable).
    unidentifiable: str | None = None


def scan_file(path: str, length: float, with_tags: bool) -> Scanned:
    """Fingerprint one file (the first ``length`` seconds) and read its tags; never raises
    for a bad file (the error is in the result)."""
    try:
        result = fingerprint_file(path, length)
    except AudioError as exc:
        return Scanned(path, error=exc.reason)
    except OSError as exc:
        return Scanned(path, error=exc.strerror or type(exc).__name__, transient=True)
    tags = read_tags(path) if with_tags else None
    return Scanned(
        path,
        duration=result.duration,
        fingerprint=encode_fingerprint_base64(result.items),
        tags=tags,
        warning=result.warning,
        unidentifiable=unidentifiable_message(result.items),
    )


def _executor(jobs: int, count: int) -> Executor:
    if jobs <= 1 or count <= 1:
        return ThreadPoolExecutor(max_workers=1)
    return ProcessPoolExecutor(max_workers=min(jobs, count))


class _Pool:
    """The executor of one scan, rebuilt when a worker process died."""

    def __init__(self, jobs: int, count: int, length: float, with_tags: bool) -> None:
        self.jobs, self.count = jobs, count
        self.length, self.with_tags = length, with_tags
        self.executor = _executor(jobs, count)

    def submit(self, path: str) -> asyncio.Future[Scanned]:
        loop = asyncio.get_running_loop()
        return loop.run_in_executor(self.executor, scan_file, path, self.length, self.with_tags)

    def rebuild(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)
        self.executor = _executor(self.jobs, self.count)

    async def alone(self, path: str) -> Scanned:
        """Scan ``path`` with nothing else in flight: a broken pool now is this file's doing."""
        try:
            return await self.submit(path)
        except BrokenProcessPool:
            self.rebuild()
            return Scanned(path, error=DECODER_CRASHED)

    def shutdown(self) -> None:
        self.executor.shutdown(wait=True, cancel_futures=True)


async def scan_files(
    paths: Sequence[str], *, jobs: int, length: float, with_tags: bool
) -> AsyncIterator[Scanned]:
    """:func:`scan_file` of each path, in order, ``jobs`` at a time."""
    if not paths:
        return
    window = max(2, jobs * 2)
    pool = _Pool(jobs, len(paths), length, with_tags)
    pending: deque[tuple[str, asyncio.Future[Scanned]]] = deque()

    async def next_results() -> list[Scanned]:
        path, future = pending.popleft()
        try:
            return [await future]
        except BrokenProcessPool:
            # Every file in flight failed with the pool; those done before it keep their result.
            outcomes: list[str | Scanned] = [path]
            while pending:
                other, future = pending.popleft()
                outcomes.append(await _settle(other, future))
            pool.rebuild()
            return [await pool.alone(item) if isinstance(item, str) else item for item in outcomes]

    try:
        for path in paths:
            pending.append((path, pool.submit(path)))
            if len(pending) >= window:
                for scanned in await next_results():
                    yield scanned
        while pending:
            for scanned in await next_results():
                yield scanned
    finally:
        for _, future in pending:
            future.cancel()
        pool.shutdown()


async def _settle(path: str, future: asyncio.Future[Scanned]) -> str | Scanned:
    """The result of a future of a broken pool, or its path when it must run again."""
    try:
        return await future
    except (BrokenProcessPool, asyncio.CancelledError):
        return path


def default_jobs(jobs: int) -> int:
    """0 means one job per CPU."""
    return jobs or os.cpu_count() or 1
