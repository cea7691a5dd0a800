"""The C fingerprint stage (``_test2``) against its specification, the numpy fingerprinter.

Both must give the same items on any PCM and any chunking: random noise at every level, full
scale, silence, tones, and input shorter than one item. (Both are also compared with fpcalc
in test_fingerprinter.py.)
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from earmark.chromaprint import fingerprinter as fpmod
from earmark.chromaprint.fingerprinter import SAMPLE_RATE, Fingerprinter, NumpyFingerprinter
from tests.support import IN_CI

Int16Array = npt.NDArray[np.int16]


@pytest.fixture(autouse=True)
def _stage_built() -> None:
    """Skip (fail in CI) when the C extension was not built."""
    if not fpmod.NATIVE:
        message = "earmark.chromaprint._test2 is not built (no C compiler or Python headers)"
        if IN_CI:
            pytest.fail(message + "; CI must build it (make install)")
        pytest.skip(message)


def _both(pcm: Int16Array, chunk: int = 0) -> tuple[list[int], list[int]]:
    native, spec = Fingerprinter(), NumpyFingerprinter()
    step = chunk or max(1, len(pcm))
    for start in range(0, len(pcm), step):
        native.feed(pcm[start : start + step])
        spec.feed(pcm[start : start + step])
    return native.finish().tolist(), spec.items().tolist()


def _noise(seconds: float, level: float, seed: int) -> Int16Array:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(int(seconds * SAMPLE_RATE)) * level
    return np.clip(np.round(x), -32768, 32767).astype(np.int16)


@pytest.mark.parametrize("level", [0.3, 3.0, 300.0, 5000.0, 40000.0])
def test_noise_at_every_level(level: float) -> None:
    native, spec = _both(_noise(20, level, int(level)))
    assert len(native) > 100
    assert native == spec


def test_extremes_silence_and_tones() -> None:
    n = 15 * SAMPLE_RATE
    t = np.arange(n)
    square = np.where((t // 25) % 2, 32767, -32768).astype(np.int16)
    cases = [
        np.zeros(n, dtype=np.int16),
        np.full(n, -32768, dtype=np.int16),
        square,
        np.round(20000 * np.sin(2 * np.pi * 440 * t / SAMPLE_RATE)).astype(np.int16),
        # quiet between loud: rows near the normaliser's threshold
        np.concatenate([_noise(5, 2000, 1), _noise(5, 0.05, 2), _noise(5, 2000, 3)]),
    ]
    for pcm in cases:
        native, spec = _both(pcm)
        assert native == spec


@pytest.mark.parametrize("samples", [0, 1, 4095, 4096, 30030, 30031, 31396])
def test_short_input(samples: int) -> None:
    native, spec = _both(_noise(samples / SAMPLE_RATE + 1, 1000, samples)[:samples])
    assert native == spec
    assert len(native) == fpmod.item_count(samples)


SIGNAL = _noise(12, 3000, 7)
WHOLE = _both(SIGNAL)[1]


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(0, 20_000), min_size=1, max_size=30))
def test_chunking_does_not_change_items(sizes: list[int]) -> None:
    fp = Fingerprinter()
    pos = 0
    for size in sizes:
        fp.feed(SIGNAL[pos : pos + size])
        pos += size
        # What is computable so far is a prefix of the whole fingerprint.
        so_far = fp.items().tolist()
        assert so_far == WHOLE[: len(so_far)]
    fp.feed(SIGNAL[pos:])
    assert fp.finish().tolist() == WHOLE


def test_stage_rejects_bad_tables_and_samples() -> None:
    from earmark.chromaprint import _test2

    window, bands, rows, cols, thresholds = fpmod._native_tables()
    with pytest.raises(ValueError, match="window"):
        _test2.Test2(window[:-4], bands, rows, cols, thresholds)
    with pytest.raises(ValueError, match="bin_bands"):
        _test2.Test2(window, bytes([12]) + bands[1:], rows, cols, thresholds)
    bad_rows = np.frombuffer(rows, dtype=np.int32).copy()
    bad_rows[0] = 17
    with pytest.raises(ValueError, match="outside"):
        _test2.Test2(window, bands, bad_rows.tobytes(), cols, thresholds)
    stage = _test2.Test2(window, bands, rows, cols, thresholds)
    with pytest.raises(TypeError):
        stage.feed(np.zeros(10, dtype=np.int32))
    with pytest.raises(TypeError):
        stage.feed(b"\x00\x01")
    stage.feed(np.zeros(5000, dtype=np.int16))
    assert stage.items() == b""
