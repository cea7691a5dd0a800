"""Process-wide memory tuning for glibc's allocator (elsewhere every function is a no-op)."""

from __future__ import annotations

import ctypes
import functools
import logging

log = logging.getLogger(__name__)

# glibc mallopt() parameters (malloc.h).
_M_TRIM_THRESHOLD = -1
_M_TOP_PAD = -2
_M_MMAP_THRESHOLD = -3


@functools.cache
def _libc() -> ctypes.CDLL | None:
    # The process's own symbols, the C library's among them: ctypes.util.find_library("c")
    # would run `ldconfig -p` (and import subprocess) on every start of every command.
    try:
        return ctypes.CDLL(None)
    except (OSError, TypeError):  # TypeError: Windows has no handle for "this process"
        return None


def tune_allocator() -> bool:
    """Keep large numpy temporaries in the heap instead of mapping them anew each time.

    glibc serves allocations above its mmap threshold with fresh mappings and returns them to the
    kernel on free, so numpy's per-block arrays of a few MiB (FFT frames, spectra, index update
    batches) are faulted in page by page every time: fingerprinting a file spent a quarter of its
    CPU time in the kernel. Raising the thresholds keeps that memory in the heap for reuse.
    Entry points call this once at start-up. Returns whether the tuning applied.
    """
    return _mallopt(
        "allocator tuning",
        mmap_threshold=32 * 1024 * 1024,
        trim_threshold=256 * 1024 * 1024,
        top_pad=64 * 1024 * 1024,
    )


def tune_allocator_lean() -> bool:
    """The allocator settings of a long-running server whose resident size matters (the index
    server), instead of :func:`tune_allocator`'s.

    Arrays of a few MiB and more get their own mappings, returned to the kernel when freed
    (a segment's columns, a merge's buffers); smaller per-request temporaries stay in the heap
    for reuse. No top padding: with it, a thread arena (the segment loader's, uvicorn's thread
    pool's) grows to 64 MiB at once and serves even a 46 MiB array from it, which is then never
    given back, as ``malloc_trim`` does not shrink thread arenas' tops. (Limiting the arenas
    to two as well saved nothing more and cost search CPU: lock contention.) Returns whether
    the tuning applied.
    """
    return _mallopt(
        "lean allocator tuning",
        mmap_threshold=4 * 1024 * 1024,
        trim_threshold=2 * 1024 * 1024,
        top_pad=1024 * 1024,
    )


def _mallopt(what: str, *, mmap_threshold: int, trim_threshold: int, top_pad: int) -> bool:
    """Set glibc's mmap threshold, trim threshold and top pad; whether all three applied."""
    mallopt = getattr(_libc(), "mallopt", None)
    if mallopt is None:
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    applied = all(
        mallopt(param, value) == 1
        for param, value in (
            (_M_MMAP_THRESHOLD, mmap_threshold),
            (_M_TRIM_THRESHOLD, trim_threshold),
            (_M_TOP_PAD, top_pad),
        )
    )
    log.debug("%s %s", what, "applied" if applied else "not applied")
    return applied


def release_free_memory() -> None:
    """Give freed heap memory back to the OS (after merges of hundreds of MiB).

    glibc keeps freed heap space (its mmap threshold grows with the sizes it has seen, and
    :func:`tune_allocator` raises it on purpose), so the resident size would stay at a merge's
    peak; ``malloc_trim(0)`` returns it.
    """
    trim = getattr(_libc(), "malloc_trim", None)
    if trim is not None:
        trim.argtypes = [ctypes.c_size_t]
        trim(0)
