"""Process-wide tuning that entry points apply once at start-up."""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

log = logging.getLogger(__name__)

# glibc mallopt() parameters (malloc.h).
_M_TRIM_THRESHOLD = -1
_M_TOP_PAD = -2
_M_MMAP_THRESHOLD = -3


def tune_allocator() -> bool:
    """Keep large numpy temporaries in the heap instead of mapping them anew each time.

    glibc serves allocations above its mmap threshold with fresh mappings and returns them to the
    kernel on free, so numpy's per-block arrays of a few MiB (FFT frames, spectra) are faulted in
    page by page for every block: fingerprinting a file spent a quarter of its CPU time in the
    kernel. Raising the thresholds keeps that memory in the heap for reuse. Returns whether the
    tuning applied (glibc only; elsewhere it is a no-op).
    """
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    applied = all(
        mallopt(param, value) == 1
        for param, value in (
            (_M_MMAP_THRESHOLD, 32 * 1024 * 1024),
            (_M_TRIM_THRESHOLD, 256 * 1024 * 1024),
            (_M_TOP_PAD, 64 * 1024 * 1024),
        )
    )
    log.debug("allocator tuning %s", "applied" if applied else "not applied")
    return applied
