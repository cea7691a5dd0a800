"""Process-wide start-up tuning."""

from __future__ import annotations

import platform

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
