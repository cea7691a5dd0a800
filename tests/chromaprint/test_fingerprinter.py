"""Tests for the Chromaprint TEST2 fingerprinter (the C stage when built, and its numpy spec).

Exactness is checked three ways: against a stored fpcalc fingerprint of an integer-only signal
(needs no tools), against a scalar transcription of upstream's loops (checks summation order), and
against ``fpcalc`` itself on synthetic signals and real music (needs fpcalc, ffmpeg and Debian's
game music packages; skipped when missing, failing when ``CI=true``).
"""

from __future__ import annotations

import itertools
import json
import math
import subprocess
from pathlib import Path
from typing import NamedTuple

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from earmark.chromaprint import fingerprinter as fpmod
from earmark.chromaprint.classifiers import TEST2_CLASSIFIERS
from earmark.chromaprint.fingerprinter import (
    DELAY_SAMPLES,
    ITEM_DURATION_SAMPLES,
    SAMPLE_RATE,
    SILENCE_ITEM,
    Fingerprinter,
    fingerprint_pcm,
    item_count,
)
from tests.support import require_music, require_tool

DATA = Path(__file__).resolve().parent.parent / "data"
# fpcalc's own front end, reproduced with the ffmpeg CLI (reference doc §1.1).
RESAMPLE = "aresample=11025:filter_size=16:phase_shift=8:linear_interp=1:cutoff=0.8"

Int16Array = npt.NDArray[np.int16]


def _fpcalc(pcm: Int16Array) -> npt.NDArray[np.uint32]:
    fpcalc = require_tool("fpcalc")
    cmd = [fpcalc, "-format", "s16le", "-rate", "11025", "-channels", "1"]
    cmd += ["-raw", "-length", "0", "-ignore-errors", "-"]
    proc = subprocess.run(
        cmd, input=pcm.astype("<i2").tobytes(), capture_output=True, check=False, timeout=120
    )
    out = proc.stdout.decode()
    if "FINGERPRINT=" not in out:
        # fpcalc exits 2 with "Empty fingerprint" on input shorter than one item.
        assert b"Empty fingerprint" in proc.stderr, proc.stderr
        return np.zeros(0, dtype=np.uint32)
    text = out.split("FINGERPRINT=", 1)[1].strip()
    return np.array([int(v) for v in text.split(",")], dtype=np.uint32)


def _decode(path: Path, seconds: int) -> Int16Array:
    ffmpeg = require_tool("ffmpeg")
    cmd = [ffmpeg, "-nostdin", "-v", "error", "-i", str(path), "-t", str(seconds), "-ac", "1"]
    cmd += ["-af", RESAMPLE, "-f", "s16le", "-"]
    proc = subprocess.run(cmd, capture_output=True, check=True, timeout=120)
    return np.frombuffer(proc.stdout, dtype="<i2").astype(np.int16)


def _assert_same_items(got: npt.NDArray[np.uint32], want: npt.NDArray[np.uint32]) -> None:
    assert got.dtype == np.uint32
    assert len(got) == len(want)
    differing = np.flatnonzero(got != want)
    assert differing.size == 0, (
        f"{differing.size} of {len(want)} items differ, first {differing[:5]}"
    )


def integer_signal(num_samples: int, seed: int) -> Int16Array:
    """A deterministic test signal built from integer arithmetic only (bit-stable everywhere).

    Noise from a splitmix64 hash of the sample index, a melody of sawtooth/triangle notes from
    integer phase accumulators with a small envelope, and a square-wave bass.
    """
    i = np.arange(num_samples, dtype=np.uint64)
    z = i * np.uint64(0x9E3779B97F4A7C15) + np.uint64(seed)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    n = i.astype(np.int64)
    out = (z >> np.uint64(52)).astype(np.int64) - 2048
    note_len = SAMPLE_RATE // 2
    steps = np.array([2615, 2935, 3294, 3490, 3917, 4397, 4935, 5230, 1308, 1746])
    phase = (n * steps[(n // note_len + seed) % len(steps)]) & 0xFFFF
    saw = phase - 32768
    tri = np.abs(saw) * 2 - 32768
    env = np.minimum(n % note_len, note_len - n % note_len) * 4 // note_len + 1
    out += (saw // 6 + tri // 8) * env // 3
    out += np.where(((n * 590) >> 16) & 1, 3000, -3000)
    return np.clip(out, -32768, 32767).astype(np.int16)


def _to_int16(x: npt.NDArray[np.float64]) -> Int16Array:
    return np.clip(np.round(x), -32768, 32767).astype(np.int16)


def _synthetic(kind: str, seconds: float, seed: int) -> Int16Array:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    if kind == "noise":
        # White noise shaped by a slowly moving one-pole low-pass and an amplitude LFO.
        noise = rng.standard_normal(t.size)
        shaped = np.cumsum(noise) * 0.02 + noise
        shaped -= np.convolve(shaped, np.ones(401) / 401, mode="same")
        return _to_int16(shaped * 3000 * (1.2 + np.sin(2 * np.pi * 0.3 * t)))
    if kind == "chirp":
        f0, f1 = 60.0, 3000.0
        phase = 2 * np.pi * f0 * seconds / math.log(f1 / f0) * ((f1 / f0) ** (t / seconds) - 1)
        return _to_int16(12000 * np.sin(phase) + 200 * rng.standard_normal(t.size))
    if kind == "chords":
        out = np.zeros(t.size)
        for k in range(int(seconds / 0.75)):
            start = int(k * 0.75 * SAMPLE_RATE)
            tt = t[start : start + 2 * SAMPLE_RATE] - t[start]
            env = np.exp(-3.0 * tt) * (1 - np.exp(-200 * tt))
            for semitone in rng.choice(36, size=3, replace=False):
                freq = 110.0 * 2 ** (semitone / 12)
                out[start : start + tt.size] += 4000 * env * np.sin(2 * np.pi * freq * tt)
        return _to_int16(out)
    raise ValueError(kind)


# ---------------------------------------------------------------------------------------------
# Constants, counts, silence, tones


def test_constants() -> None:
    assert SAMPLE_RATE == 11025
    assert ITEM_DURATION_SAMPLES == 1365
    assert DELAY_SAMPLES == 28666
    assert SILENCE_ITEM == 627964279 == 0x256DF977


@pytest.mark.parametrize(
    "n", [0, 1, 4095, 4096, 28665, 28666, 30030, 30031, 31395, 31396, 44100, 123457, 661500]
)
def test_item_count_formula(n: int) -> None:
    expected = max(0, (n - 4096) // 1365 - 18) if n >= 4096 else 0
    assert item_count(n) == expected
    items = fingerprint_pcm(integer_signal(n, 1))
    assert items.dtype == np.uint32
    assert len(items) == expected


def test_short_input_gives_empty_fingerprint() -> None:
    for n in (0, 1000, DELAY_SAMPLES - 1, DELAY_SAMPLES, 30030):
        items = fingerprint_pcm(integer_signal(n, 2))
        assert items.dtype == np.uint32
        assert items.shape == (0,)
    assert len(fingerprint_pcm(integer_signal(30031, 2))) == 1


@pytest.mark.parametrize("n", [30031, 3 * SAMPLE_RATE, 60 * SAMPLE_RATE + 17])
def test_digital_silence(n: int) -> None:
    items = fingerprint_pcm(np.zeros(n, dtype=np.int16))
    assert len(items) == item_count(n) > 0
    assert np.all(items == SILENCE_ITEM)


def test_pure_sine_gives_stable_items() -> None:
    t = np.arange(20 * SAMPLE_RATE) / SAMPLE_RATE
    items = fingerprint_pcm(_to_int16(10000 * np.sin(2 * np.pi * 440.0 * t)))
    values, counts = np.unique(items, return_counts=True)
    assert counts.max() / len(items) >= 0.9
    assert values[counts.argmax()] != SILENCE_ITEM


def test_quiet_input_is_silence() -> None:
    # A ±1 LSB signal has a chroma norm far below the 0.01 threshold.
    items = fingerprint_pcm(np.tile(np.array([1, -1], dtype=np.int16), 20000))
    assert np.all(items == SILENCE_ITEM)


# ---------------------------------------------------------------------------------------------
# Streaming


SIGNAL = integer_signal(40 * SAMPLE_RATE + 777, 3)
ONE_SHOT = fingerprint_pcm(SIGNAL)


@settings(max_examples=40, deadline=None)
@given(
    sizes=st.lists(
        st.one_of(st.integers(0, 3), st.integers(0, 6000), st.integers(0, 120_000)), max_size=25
    ),
    peek=st.lists(st.booleans(), max_size=25),
)
def test_chunking_does_not_change_items(sizes: list[int], peek: list[bool]) -> None:
    fp = Fingerprinter()
    pos = 0
    for size, look in itertools.zip_longest(sizes, peek, fillvalue=False):
        chunk = SIGNAL[pos : pos + int(size)]
        pos += len(chunk)
        fp.feed(chunk)
        if look:
            # A fingerprint so far is a prefix of the final one (the pipeline is causal).
            so_far = fp.items()
            _assert_same_items(so_far, fingerprint_pcm(SIGNAL[:pos]))
    fp.feed(SIGNAL[pos:])
    assert fp.num_samples == len(SIGNAL)
    _assert_same_items(fp.finish(), ONE_SHOT)


def test_seeded_random_chunks_and_one_second_chunks() -> None:
    rng = np.random.default_rng(42)
    for chunk_sizes in (
        rng.integers(0, 5000, size=400),
        np.full(500, 1),
        np.full(100, SAMPLE_RATE),
    ):
        fp = Fingerprinter()
        pos = 0
        for size in chunk_sizes:
            fp.feed(SIGNAL[pos : pos + size])
            pos += size
        fp.feed(SIGNAL[pos:])
        _assert_same_items(fp.items(), ONE_SHOT)


def test_state_stays_bounded_and_caller_buffer_is_not_kept() -> None:
    fp = Fingerprinter()
    spec = fpmod.NumpyFingerprinter()
    buffer = np.empty(SAMPLE_RATE, dtype=np.int16)
    for pos in range(0, len(SIGNAL), SAMPLE_RATE):
        chunk = SIGNAL[pos : pos + SAMPLE_RATE]
        # Reuse one buffer like a decoder loop would; the fingerprinter must copy what it keeps.
        buffer[: len(chunk)] = chunk
        fp.feed(buffer[: len(chunk)])
        spec.feed(buffer[: len(chunk)])
        buffer[:] = 12345
        assert spec._queued < fpmod.FRAME_SIZE + fpmod._BLOCK_FRAMES * ITEM_DURATION_SAMPLES
        assert sum(c.size for c in spec._queue) == spec._queued
        assert len(spec._table_tail) <= 16
    _assert_same_items(fp.finish(), ONE_SHOT)
    _assert_same_items(spec.items(), ONE_SHOT)


def test_feed_validates_input() -> None:
    fp = Fingerprinter()
    with pytest.raises(TypeError):
        fp.feed(np.zeros(10, dtype=np.float32))
    with pytest.raises(TypeError):
        fp.feed(np.zeros(10, dtype=np.int32))
    with pytest.raises(ValueError, match="1-D"):
        fp.feed(np.zeros((10, 2), dtype=np.int16))
    fp.feed(SIGNAL.astype(">i2"))  # byte order does not matter
    _assert_same_items(fp.items(), ONE_SHOT)


# ---------------------------------------------------------------------------------------------
# Summation order, checked against a scalar transcription of upstream's loops


def test_chroma_matches_per_frame_reference() -> None:
    """Batched framing, window, FFT and power equal a frame-at-a-time computation."""
    pcm = integer_signal(40_000, 8)
    frames = (len(pcm) - 4096) // 1365 + 1
    got = fpmod._chroma(pcm, frames)
    window = fpmod._WINDOW
    lo = fpmod._FIRST_BIN
    for f in range(frames):
        # int16 * float in single precision, as upstream's FFTLib::Load does.
        x = pcm[f * 1365 : f * 1365 + 4096].astype(np.float32) * window
        spectrum = np.fft.rfft(x.astype(np.float64))
        want = [0.0] * 12
        for k in range(lo, 1308):
            freq = float(k) * SAMPLE_RATE / 4096
            octave = math.log(freq / 27.5) / math.log(2.0)
            re, im = float(spectrum[k].real), float(spectrum[k].imag)
            want[int(12 * (octave - math.floor(octave)))] += re * re + im * im
        assert got[f].tolist() == want


def test_band_sums_are_sequential_in_bin_order() -> None:
    rng = np.random.default_rng(5)
    frames = 7
    power = np.zeros((fpmod._NUM_BINS + 1, frames))
    # Magnitudes over 24 decades: any other summation order changes low bits.
    power[:-1] = rng.random((fpmod._NUM_BINS, frames)) * 10.0 ** rng.integers(-12, 12, size=(1, 1))
    power[:-1] *= 10.0 ** rng.integers(-12, 12, size=(fpmod._NUM_BINS, 1))
    power[:-1:3] = 2.0**53  # 2**53 + 1 rounds back to 2**53: exposes pairwise summation
    got = fpmod._band_sums(power)
    lo = fpmod._FIRST_BIN
    for f in range(frames):
        want = [0.0] * 12
        for k in range(fpmod._NUM_BINS):
            freq = float(k + lo) * SAMPLE_RATE / 4096
            octave = math.log(freq / 27.5) / math.log(2.0)
            want[int(12 * (octave - math.floor(octave)))] += float(power[k, f])
        assert got[:, f].tolist() == want


class _Scalar(NamedTuple):
    rows: list[list[float]]
    table: list[list[float]]
    ratios: list[list[float]]
    items: list[int]


def _scalar_pipeline(chroma: list[list[float]]) -> _Scalar:
    """Upstream's ChromaFilter, ChromaNormalizer, RollingIntegralImage and classifiers, scalar."""
    coefficients = (0.25, 0.75, 1.0, 0.75, 0.25)
    out = _Scalar([], [], [], [])
    table = out.table

    def area(r1: int, c1: int, r2: int, c2: int) -> float:
        if r1 == r2 or c1 == c2:
            return 0.0
        if r1 == 0:
            row = table[r2 - 1]
            return row[c2 - 1] if c1 == 0 else row[c2 - 1] - row[c1 - 1]
        row1, row2 = table[r1 - 1], table[r2 - 1]
        if c1 == 0:
            return row2[c2 - 1] - row1[c2 - 1]
        return row2[c2 - 1] - row1[c2 - 1] - row2[c1 - 1] + row1[c1 - 1]

    def ratio(kind: int, x: int, y: int, w: int, h: int) -> float:
        h2, w2, h3, w3 = h // 2, w // 2, h // 3, w // 3
        a, b = {
            0: lambda: (area(x, y, x + w, y + h), 0.0),
            1: lambda: (area(x, y + h2, x + w, y + h), area(x, y, x + w, y + h2)),
            2: lambda: (area(x + w2, y, x + w, y + h), area(x, y, x + w2, y + h)),
            3: lambda: (
                area(x, y + h2, x + w2, y + h) + area(x + w2, y, x + w, y + h2),
                area(x, y, x + w2, y + h2) + area(x + w2, y + h2, x + w, y + h),
            ),
            4: lambda: (
                area(x, y + h3, x + w, y + 2 * h3),
                area(x, y, x + w, y + h3) + area(x, y + 2 * h3, x + w, y + h),
            ),
            5: lambda: (
                area(x + w3, y, x + 2 * w3, y + h),
                area(x, y, x + w3, y + h) + area(x + 2 * w3, y, x + w, y + h),
            ),
        }[kind]()
        return (1.0 + a) / (1.0 + b)

    for t in range(4, len(chroma)):
        filtered = [0.0] * 12
        for i in range(12):
            for j in range(5):
                filtered[i] += chroma[t - 4 + j][i] * coefficients[j]
        squares = 0.0
        for v in filtered:
            squares += v * v
        norm = math.sqrt(squares) if squares > 0 else 0.0
        filtered = [0.0] * 12 if norm < 0.01 else [v / norm for v in filtered]
        out.rows.append(filtered)
        row = list(itertools.accumulate(filtered))
        if table:
            row = [p + c for p, c in zip(table[-1], row, strict=True)]
        table.append(row)
        if len(table) >= 16:
            bits = 0
            ratios = []
            for c in TEST2_CLASSIFIERS:
                ratios.append(ratio(c.type, len(table) - 16, c.y, c.width, c.height))
                v = math.log(ratios[-1])  # SubtractLog, with the C library's log
                level = (0 if v < c.t0 else 1) if v < c.t1 else (2 if v < c.t2 else 3)
                bits = (bits << 2) | (0, 1, 3, 2)[level]
            out.ratios.append(ratios)
            out.items.append(bits)
    return out


def test_post_fft_stages_match_scalar_transcription() -> None:
    """Every intermediate value equals upstream's loops bit for bit, not just the items."""
    rng = np.random.default_rng(11)
    n = 90
    chroma = rng.random((n, 12)) ** 4 * 10.0 ** rng.integers(-3, 4, size=(n, 1))
    chroma[20:27] = 0.0  # a silent stretch: rows below the norm threshold become zeros
    chroma[40:50, ::3] *= 1e-9
    want = _scalar_pipeline(chroma.tolist())

    assert fpmod._filter_and_normalise(chroma).tolist() == want.rows
    table = np.zeros((len(want.table) + 1, 13))
    table[1:, 1:] = want.table
    ratios = fpmod._filter_ratios(table, len(table) - 16)
    assert ratios.T.tolist() == want.ratios

    fp = fpmod.NumpyFingerprinter()
    # Feed the rows in uneven pieces so the carried chroma and table tails are exercised.
    for start, stop in ((0, 3), (3, 17), (17, 18), (18, 61), (61, n)):
        fp._consume_chroma(chroma[start:stop])
    assert fp._table_tail[:, 1:].tolist() == want.table[-16:]
    assert np.concatenate(fp._items).tolist() == want.items


def test_quantiser_boundaries_match_the_c_log() -> None:
    for c, boundaries in zip(TEST2_CLASSIFIERS, fpmod._THRESHOLDS, strict=True):
        for t, r in zip((c.t0, c.t1, c.t2), boundaries, strict=True):
            assert math.log(r) >= t
            assert math.log(math.nextafter(r, 0.0)) < t


# ---------------------------------------------------------------------------------------------
# Exactness against fpcalc


def test_golden_fpcalc_vector() -> None:
    """Stored fpcalc 1.5.1 output for an integer-only signal; runs without any tools."""
    golden = json.loads((DATA / "fingerprinter_golden.json").read_text())
    pcm = integer_signal(golden["num_samples"], golden["seed"])
    want = np.array(golden["items"], dtype=np.uint32)
    _assert_same_items(fingerprint_pcm(pcm), want)
    spec = fpmod.NumpyFingerprinter()
    spec.feed(pcm)
    _assert_same_items(spec.items(), want)


@pytest.mark.parametrize(
    ("kind", "seconds", "seed"),
    [("noise", 25, 1), ("chirp", 30, 2), ("chords", 45, 3), ("chords", 20.3, 4)],
)
def test_matches_fpcalc_on_synthetic_signals(kind: str, seconds: float, seed: int) -> None:
    pcm = _synthetic(kind, seconds, seed)
    _assert_same_items(fingerprint_pcm(pcm), _fpcalc(pcm))


def test_matches_fpcalc_on_short_and_integer_signals() -> None:
    for n in (30030, 30031, 40000):
        pcm = integer_signal(n, 9)
        _assert_same_items(fingerprint_pcm(pcm), _fpcalc(pcm))
    pcm = integer_signal(50 * SAMPLE_RATE, 10)
    _assert_same_items(fingerprint_pcm(pcm), _fpcalc(pcm))


@pytest.mark.realaudio
def test_matches_fpcalc_on_real_music() -> None:
    require_tool("ffmpeg")
    require_tool("fpcalc")
    # A handful of tracks spread over both packages, first 60 s of each.
    for path in require_music(5):
        pcm = _decode(path, 60)
        want = _fpcalc(pcm)
        assert len(want) > 0, path
        fp = Fingerprinter()
        for start in range(0, len(pcm), 4410):
            fp.feed(pcm[start : start + 4410])
        _assert_same_items(fp.finish(), want)
        _assert_same_items(fingerprint_pcm(pcm), want)
        spec = fpmod.NumpyFingerprinter()  # the specification the C stage is checked against
        spec.feed(pcm)
        _assert_same_items(spec.items(), want)
