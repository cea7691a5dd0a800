"""Chromaprint ALGORITHM_TEST2 fingerprints computed with numpy.

Input is mono signed 16-bit PCM at 11025 Hz (decoding and resampling happen elsewhere); output is
the raw fingerprint, one ``uint32`` item per 1365-sample hop, equal item for item to what
``fpcalc -raw`` prints when it is given the same PCM.  The pipeline is upstream's (see
``/work/shared/reference/chromaprint.md`` §1): Hamming-windowed 4096-sample frames, power
spectrum, 12-band chroma, a 5-tap smoothing filter, L2 normalisation, a summed-area table and 16
quantised Haar-like filters.

Every stage is vectorised over frames, and every floating-point sum after the FFT is evaluated in
the same order as the C++ code so that values sitting next to a quantiser threshold round the same
way.  The FFT itself cannot match FFmpeg's float32 ``av_rdft`` (what Debian's libchromaprint uses)
bit for bit; numpy's float64 transform gave identical items to fpcalc on the whole test corpus
(92 tracks, 107 916 items), whose closest decision lies ~1e-8 (relative) from a threshold.

Work is done in blocks of frames; only a few rows of state cross block (and ``feed``) boundaries,
so the result does not depend on how the input is chunked and memory stays bounded.
"""

from __future__ import annotations

import functools
import math
from typing import Final

import numpy as np
import numpy.typing as npt

from earmark.chromaprint.classifiers import MAX_FILTER_WIDTH, TEST2_CLASSIFIERS, filter_areas
from earmark.chromaprint.compare import SILENCE_ITEM

try:
    from earmark.chromaprint import _test2

    NATIVE = True
except ImportError:  # built without a C compiler: NumpyFingerprinter does the work
    NATIVE = False

__all__ = [
    "DELAY_SAMPLES",
    "FRAME_SIZE",
    "ITEM_DURATION_SAMPLES",
    "SAMPLE_RATE",
    "SILENCE_ITEM",
    "Fingerprinter",
    "NumpyFingerprinter",
    "fingerprint_pcm",
    "item_count",
]

SAMPLE_RATE: Final = 11025
"""Sample rate (Hz) the algorithm works at."""
FRAME_SIZE: Final = 4096
"""FFT frame length in samples."""
ITEM_DURATION_SAMPLES: Final = FRAME_SIZE // 3
"""Hop between frames, and so between items: 1365 samples (≈ 123.8 ms)."""
FILTER_COEFFICIENTS: Final = (0.25, 0.75, 1.0, 0.75, 0.25)
# Frames consumed before the first item: 4 by the chroma filter, 15 by the widest classifier.
_LEAD_FRAMES: Final = len(FILTER_COEFFICIENTS) - 1 + MAX_FILTER_WIDTH - 1
DELAY_SAMPLES: Final = _LEAD_FRAMES * ITEM_DURATION_SAMPLES + FRAME_SIZE - ITEM_DURATION_SAMPLES
"""Upstream's ``chromaprint_get_delay``: 28666 samples (2.6 s).

No item exists below this many samples; the first item actually needs one more hop, 30031.
"""

_NUM_BANDS: Final = 12
_MIN_FREQ: Final = 28
_MAX_FREQ: Final = 3520
_NORM_THRESHOLD: Final = 0.01
# Frames per processing block: large enough to amortise numpy call overhead, small enough that
# the block's float64 frames (~2 MB at 64 frames) stay in cache between stages.
_BLOCK_FRAMES: Final = 64
_BLOCK_SAMPLES: Final = FRAME_SIZE + (_BLOCK_FRAMES - 1) * ITEM_DURATION_SAMPLES

Int16Array = npt.NDArray[np.int16]
UInt32Array = npt.NDArray[np.uint32]
Float64Array = npt.NDArray[np.float64]


def item_count(num_samples: int) -> int:
    """Number of items a fingerprint of ``num_samples`` samples at 11025 Hz has."""
    if num_samples < FRAME_SIZE:
        return 0
    frames = (num_samples - FRAME_SIZE) // ITEM_DURATION_SAMPLES + 1
    return max(0, frames - _LEAD_FRAMES)


def _hamming_window() -> npt.NDArray[np.float32]:
    # Upstream stores the window as float (FFTSample) with the 1/INT16_MAX scale folded in, and
    # multiplies int16 * float in single precision.
    scale = 1.0 / 32767
    values = [
        scale * (0.54 - 0.46 * math.cos(i * 2.0 * math.pi / (FRAME_SIZE - 1)))
        for i in range(FRAME_SIZE)
    ]
    return np.asarray(values, dtype=np.float32)


def _chroma_bins() -> tuple[int, npt.NDArray[np.intp]]:
    """First FFT bin used, and a (rounds, 12) table of bin offsets from it.

    Row ``r`` holds, for every band, its ``r``-th bin in increasing bin order, so adding the rows
    one after another sums each band in exactly upstream's order.  Bands with fewer bins point
    one past the last bin, where the power array keeps a zero row; ``x + 0.0 == x`` keeps the
    padding exact.
    """
    lo = max(1, round(FRAME_SIZE * _MIN_FREQ / SAMPLE_RATE))
    hi = min(FRAME_SIZE // 2, round(FRAME_SIZE * _MAX_FREQ / SAMPLE_RATE))
    bands: list[list[int]] = [[] for _ in range(_NUM_BANDS)]
    for i in range(lo, hi):
        freq = float(i) * SAMPLE_RATE / FRAME_SIZE
        octave = math.log(freq / (440.0 / 16.0)) / math.log(2.0)
        note = _NUM_BANDS * (octave - math.floor(octave))
        bands[int(note)].append(i - lo)
    pad = hi - lo
    rounds = max(len(b) for b in bands)
    table = np.full((rounds, _NUM_BANDS), pad, dtype=np.intp)
    for band, bins in enumerate(bands):
        table[: len(bins), band] = bins
    return lo, table


def _log_boundary(threshold: float) -> float:
    """The smallest double ``r`` with ``log(r) >= threshold`` under the C library's ``log``.

    Upstream quantises ``log((1 + A) / (1 + B))`` with glibc's ``log``; numpy's vectorised log
    differs from it in the last bit for some inputs.  Comparing the ratio with this boundary
    gives exactly the C comparison (``math.log`` is the C library's), and skips the log.
    """
    r = math.exp(threshold)
    while math.log(r) >= threshold:
        r = math.nextafter(r, 0.0)
    while math.log(r) < threshold:
        r = math.nextafter(r, math.inf)
    return r


def _classifier_tables() -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp], Float64Array]:
    """Corner offsets for all classifier areas, and the quantiser boundaries on the ratio.

    Every classifier is normalised to two areas for A and two for B (missing ones are empty and
    evaluate to exactly 0.0).  Corners are listed as (x2, y2), (x1, y2), (x2, y1), (x1, y1) so
    that ``((c0 - c1) - c2) + c3`` is upstream's four-term area formula in its order.  Offsets
    index a summed-area table whose entry (i, j) sums image rows < i and bands < j, so it has a
    zero row and column in front; that makes upstream's special cases for x1 == 0 or y1 == 0
    come out identical, since subtracting or adding 0.0 is exact.
    """
    n = len(TEST2_CLASSIFIERS)
    rows = np.zeros((n, 4, 4), dtype=np.intp)
    cols = np.zeros((n, 4, 4), dtype=np.intp)
    thresholds = np.zeros((n, 3), dtype=np.float64)
    for i, c in enumerate(TEST2_CLASSIFIERS):
        a, b = filter_areas(c)
        for j, area in enumerate(a):
            rows[i, j] = (area.x2, area.x1, area.x2, area.x1)
            cols[i, j] = (area.y2, area.y2, area.y1, area.y1)
        for j, area in enumerate(b):
            rows[i, 2 + j] = (area.x2, area.x1, area.x2, area.x1)
            cols[i, 2 + j] = (area.y2, area.y2, area.y1, area.y1)
        thresholds[i] = [_log_boundary(t) for t in (c.t0, c.t1, c.t2)]
    return rows, cols, thresholds


_WINDOW: Final = _hamming_window()
_FIRST_BIN, _BAND_BINS = _chroma_bins()
_NUM_BINS: Final = int(_BAND_BINS.max())  # the padding index is one past the last bin
_AREA_ROWS, _AREA_COLS, _THRESHOLDS = _classifier_tables()
_TABLE_WIDTH: Final = _NUM_BANDS + 1
# Flat offsets of each corner into a C-ordered (rows, 13) table, relative to the item's row.
_CORNER_OFFSETS: Final = _AREA_ROWS * _TABLE_WIDTH + _AREA_COLS
_SHIFTS: Final = np.arange(2 * (len(TEST2_CLASSIFIERS) - 1), -1, -2, dtype=np.uint32)


class Fingerprinter:
    """Streaming TEST2 fingerprinter for 11025 Hz mono int16 PCM.

    Call :meth:`feed` with chunks of any size; :meth:`items` returns every item computable from
    the samples fed so far.  The result never depends on how the input was split into chunks.
    The work is done by the C extension (``_test2``) when it was built, else by
    :class:`NumpyFingerprinter`; both give the same items.
    """

    def __init__(self) -> None:
        self._engine: _test2.Test2 | NumpyFingerprinter = (
            _test2.Test2(*_native_tables()) if NATIVE else NumpyFingerprinter()
        )
        self._num_samples = 0

    @property
    def num_samples(self) -> int:
        """Total number of samples fed so far."""
        return self._num_samples

    def feed(self, samples: npt.ArrayLike) -> None:
        """Append PCM samples (a 1-D ``int16`` array, 11025 Hz mono)."""
        chunk = _checked_chunk(samples)
        self._num_samples += chunk.size
        if chunk.size:
            self._engine.feed(np.ascontiguousarray(chunk, dtype=np.int16))

    def items(self) -> UInt32Array:
        """All items computable from the samples fed so far (the stream can continue)."""
        if isinstance(self._engine, NumpyFingerprinter):
            return self._engine.items()
        return np.frombuffer(self._engine.items(), dtype=np.uint32).copy()

    def finish(self) -> UInt32Array:
        """The complete fingerprint; like :meth:`items`, the trailing partial frame is dropped."""
        return self.items()


def _checked_chunk(samples: npt.ArrayLike) -> Int16Array:
    chunk = np.asarray(samples)
    if chunk.dtype.kind != "i" or chunk.dtype.itemsize != 2:
        raise TypeError(f"expected int16 samples, got {chunk.dtype}")
    if chunk.ndim != 1:
        raise ValueError(f"expected a 1-D array of samples, got shape {chunk.shape}")
    return chunk


@functools.cache
def _native_tables() -> tuple[bytes, bytes, bytes, bytes, bytes]:
    """The tables the C stage takes (see ``_test2.c``), from this module's single definitions."""
    if _test2.FIRST_BIN != _FIRST_BIN or _test2.FRAME_SIZE != FRAME_SIZE:
        raise RuntimeError("earmark.chromaprint._test2 was built for other constants")
    bin_bands = np.zeros(_NUM_BINS, dtype=np.uint8)
    for band in range(_NUM_BANDS):
        offsets = _BAND_BINS[:, band]
        bin_bands[offsets[offsets < _NUM_BINS]] = band
    return (
        _WINDOW.tobytes(),
        bin_bands.tobytes(),
        _AREA_ROWS.astype(np.int32).tobytes(),
        _AREA_COLS.astype(np.int32).tobytes(),
        _THRESHOLDS.astype(np.float64).tobytes(),
    )


class NumpyFingerprinter:
    """The numpy implementation: the specification of the C stage, used without a compiler."""

    def __init__(self) -> None:
        # Samples not yet consumed by a frame, as a list of chunks so that feeding many small
        # chunks costs O(1) each; they are joined only when a block is processed.
        self._queue: list[Int16Array] = []
        self._queued = 0
        # Last unfiltered chroma rows: the 5-tap filter needs 4 rows of history.
        self._chroma_tail = np.zeros((0, _NUM_BANDS), dtype=np.float64)
        # Tail of the summed-area table with its zero column; it starts as the zero row that
        # stands for "no rows yet", and keeps the rows the next items still need.
        self._table_tail = np.zeros((1, _TABLE_WIDTH), dtype=np.float64)
        self._items: list[UInt32Array] = []

    def feed(self, samples: npt.ArrayLike) -> None:
        """Append PCM samples (a 1-D ``int16`` array, 11025 Hz mono)."""
        chunk = _checked_chunk(samples)
        if chunk.size == 0:
            return
        self._queue.append(chunk)
        self._queued += chunk.size
        # Wait for a full block so that small chunks do not each pay the per-block overhead.
        if self._queued >= _BLOCK_SAMPLES:
            self._process(_BLOCK_FRAMES)
        else:
            # Never keep a reference to the caller's buffer, which it may reuse.
            self._queue[-1] = chunk.copy()

    def items(self) -> UInt32Array:
        """All items computable from the samples fed so far (the stream can continue)."""
        self._process(1)
        if not self._items:
            return np.zeros(0, dtype=np.uint32)
        if len(self._items) > 1:
            self._items = [np.concatenate(self._items)]
        return self._items[0].copy()

    def _process(self, min_frames: int) -> None:
        """Consume complete frames from the queue in blocks of ``min_frames`` or more.

        Feeding processes whole blocks only, leaving a short remainder for later; :meth:`items`
        asks for everything.  Block boundaries never change the result.
        """
        if self._queued < FRAME_SIZE:
            return
        pending = self._queue[0] if len(self._queue) == 1 else np.concatenate(self._queue)
        start = 0
        while True:
            available = (pending.size - start - FRAME_SIZE) // ITEM_DURATION_SAMPLES + 1
            if available < min_frames or available < 1:
                break
            frames = min(_BLOCK_FRAMES, available)
            stop = start + (frames - 1) * ITEM_DURATION_SAMPLES + FRAME_SIZE
            self._process_block(pending[start:stop], frames)
            start += frames * ITEM_DURATION_SAMPLES
        rest = pending[start:].copy()
        self._queue = [rest] if rest.size else []
        self._queued = rest.size

    def _process_block(self, samples: Int16Array, frames: int) -> None:
        self._consume_chroma(_chroma(samples, frames))

    def _consume_chroma(self, chroma: Float64Array) -> None:
        history = np.concatenate((self._chroma_tail, chroma))
        self._chroma_tail = history[-(len(FILTER_COEFFICIENTS) - 1) :]
        rows = _filter_and_normalise(history)
        if len(rows):
            self._add_rows(rows)

    def _add_rows(self, rows: Float64Array) -> None:
        # Summed-area table, exactly as upstream builds it: a running sum along the bands of each
        # row, then the previous table row added band by band.  The table is cumulative over the
        # whole stream (it is never re-based), because its absolute values set the rounding of
        # every area.
        tail = self._table_tail
        table = np.empty((len(tail) + len(rows), _TABLE_WIDTH), dtype=np.float64)
        table[: len(tail)] = tail
        new = table[len(tail) - 1 :]
        new[1:, 0] = 0.0
        np.cumsum(rows, axis=1, out=new[1:, 1:])
        np.cumsum(new, axis=0, out=new)
        # Item x reads table rows x .. x+16; the rows kept from the previous call are exactly
        # those the first not yet computed item starts with.
        count = len(table) - MAX_FILTER_WIDTH
        if count > 0:
            self._items.append(_classify(table, count))
        self._table_tail = table[-MAX_FILTER_WIDTH:].copy()


def _chroma(samples: Int16Array, frames: int) -> Float64Array:
    """12-band chroma (frames by 12) of ``frames`` consecutive frames starting at ``samples[0]``."""
    # Window in float32 like upstream (int16 * float, rounded to float), then transform in
    # float64: numpy's float32 FFT is slower here and no closer to FFmpeg's float av_rdft.
    as_float = samples.astype(np.float32)
    view = np.lib.stride_tricks.sliding_window_view(as_float, FRAME_SIZE)[::ITEM_DURATION_SAMPLES]
    windowed = (view[:frames] * _WINDOW).astype(np.float64)
    spectrum = np.fft.rfft(windowed, axis=1)
    # Power re² + im² of the bins the chroma uses, written bins by frames so that gathering a
    # band's bins below reads whole rows; the extra last row is the zero padding.
    parts = np.square(spectrum.view(np.float64)[:, 2 * _FIRST_BIN : 2 * (_FIRST_BIN + _NUM_BINS)])
    power = np.empty((_NUM_BINS + 1, frames), dtype=np.float64)
    np.add(parts[:, 0::2].T, parts[:, 1::2].T, out=power[:_NUM_BINS])
    power[_NUM_BINS] = 0.0
    return _band_sums(power).T


def _band_sums(power: Float64Array) -> Float64Array:
    """Per-band energy (12 by frames) from bin powers (bins by frames), summed in bin order.

    A reduction over the leading axis of a C-ordered array is a plain running sum over that axis
    (numpy only sums pairwise along the contiguous axis), so each band is accumulated bin after
    bin exactly as upstream does.  A unit test guards this against numpy changes.
    """
    result: Float64Array = np.add.reduce(power[_BAND_BINS], axis=0)
    return result


def _filter_and_normalise(history: Float64Array) -> Float64Array:
    """Apply the 5-tap filter to chroma rows and L2-normalise the filtered rows."""
    taps = len(FILTER_COEFFICIENTS)
    n = len(history) - taps + 1
    if n <= 0:
        return np.zeros((0, _NUM_BANDS), dtype=np.float64)
    # Upstream accumulates from 0.0 oldest tap first; 0.0 + x == x, so start from the first term.
    out = history[0:n] * FILTER_COEFFICIENTS[0]
    for k in range(1, taps):
        out += history[k : k + n] * FILTER_COEFFICIENTS[k]
    squares = out[:, 0] * out[:, 0]
    for band in range(1, _NUM_BANDS):
        squares += out[:, band] * out[:, band]
    norm = np.sqrt(squares)
    quiet = norm < _NORM_THRESHOLD
    norm[quiet] = 1.0
    out /= norm[:, None]
    out[quiet] = 0.0
    return out


def _filter_ratios(table: Float64Array, count: int) -> Float64Array:
    """``(1 + A) / (1 + B)`` of the 16 filters (rows) at offsets 0 .. count-1 (columns)."""
    flat = table.reshape(-1)
    index = _CORNER_OFFSETS[..., None] + np.arange(count, dtype=np.intp) * _TABLE_WIDTH
    corners = flat[index]
    areas = ((corners[:, :, 0] - corners[:, :, 1]) - corners[:, :, 2]) + corners[:, :, 3]
    a = areas[:, 0] + areas[:, 1]
    b = areas[:, 2] + areas[:, 3]
    ratios: Float64Array = (1.0 + a) / (1.0 + b)
    return ratios


def _classify(table: Float64Array, count: int) -> UInt32Array:
    """Items for offsets 0 .. count-1 of a summed-area table (zero column included)."""
    ratios = _filter_ratios(table, count)
    # Quantiser level 0..3 = how many of the three thresholds the filter value reaches.
    level = (
        (ratios >= _THRESHOLDS[:, 0:1]).astype(np.uint32)
        + (ratios >= _THRESHOLDS[:, 1:2])
        + (ratios >= _THRESHOLDS[:, 2:3])
    )
    gray = level ^ (level >> 1)
    result: UInt32Array = np.bitwise_or.reduce(gray << _SHIFTS[:, None], axis=0)
    return result


def fingerprint_pcm(samples: npt.ArrayLike) -> UInt32Array:
    """Raw TEST2 fingerprint of a whole 11025 Hz mono int16 signal."""
    fingerprinter = Fingerprinter()
    fingerprinter.feed(samples)
    return fingerprinter.items()
