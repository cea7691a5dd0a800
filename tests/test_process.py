"""Process-wide start-up tuning."""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

from earmark.process import release_free_memory, tune_allocator


def test_allocator_tuning_applies_on_glibc() -> None:
    if platform.libc_ver()[0] != "glibc":
        pytest.skip("mallopt tuning is glibc-specific")
    assert tune_allocator() is True
    assert tune_allocator() is True  # idempotent


def test_release_free_memory_is_safe_to_call() -> None:
    blocks = [bytearray(8 * 1024 * 1024) for _ in range(4)]
    del blocks
    release_free_memory()


def test_lean_tuning_gives_back_what_a_thread_freed() -> None:
    """The index server's tuning: a large array made and freed on a worker thread (a segment
    file decoded by the loader pool) leaves no resident memory behind. In a child process, so
    this process's allocator keeps its own settings."""
    if platform.libc_ver()[0] != "glibc":
        pytest.skip("mallopt tuning is glibc-specific")
    code = """
import threading
import numpy as np
from earmark.process import tune_allocator_lean

assert tune_allocator_lean()

def anon_mib():
    for line in open("/proc/self/status"):
        if line.startswith("RssAnon:"):
            return int(line.split()[1]) // 1024

def work():
    a = np.ones(46 * 2**20 // 4, dtype=np.uint32)  # 46 MiB, every page touched
    b = a + np.uint32(1)
    del a, b

before = anon_mib()
t = threading.Thread(target=work)
t.start()
t.join()
print(anon_mib() - before)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert int(out.stdout) < 8, out.stdout
