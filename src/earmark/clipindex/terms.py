"""Index terms derived from Chromaprint items, and the time scale of items.

Every item gives two terms: its top 20 bits and its bottom 20 bits (the two halves overlap in 8
bits). An excerpt's item agrees with the stored item at the same place on ~97 % of its bits
after a codec or noise (reference chromaprint.md §5.4), so a 20-bit half survives about half of
the time, and one of two halves more often than that; two families double the chance of a vote
at a memory cost of 4 bytes per item. Terms are numbered in one space of 2**21 values (family
in bit 20) so one term directory serves both.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

from earmark.chromaprint.compare import SILENCE_ITEM

#: Items per second of audio (11025 Hz, hop 1365 samples).
ITEMS_PER_SECOND: Final = 11025 / 1365
#: Seconds of audio before the first item (the first item needs 28 666 samples).
FIRST_ITEM_DELAY: Final = 28666 / 11025
TERM_BITS: Final = 20
TERM_SPACE: Final = 1 << (TERM_BITS + 1)
TERMS_PER_ITEM: Final = 2
_LOW_MASK: Final = (1 << TERM_BITS) - 1

UInt32Array = npt.NDArray[np.uint32]


def item_terms(items: npt.NDArray[np.uint32]) -> tuple[UInt32Array, UInt32Array]:
    """The two terms of every item, as two arrays as long as ``items``."""
    values = np.asarray(items, dtype=np.uint32)
    high = values >> np.uint32(32 - TERM_BITS)
    low = (values & np.uint32(_LOW_MASK)) | np.uint32(1 << TERM_BITS)
    return high, low


def query_mask(items: npt.NDArray[np.uint32]) -> npt.NDArray[np.bool_]:
    """Which items of a query may vote: not digital silence, which every quiet track has."""
    mask: npt.NDArray[np.bool_] = np.asarray(items, dtype=np.uint32) != np.uint32(SILENCE_ITEM)
    return mask


def seconds(item_count: float) -> float:
    """Items → seconds of audio (an offset or a span of items)."""
    return float(item_count) / ITEMS_PER_SECOND


def span_seconds(item_count: int) -> float:
    """The audio a run of ``item_count`` items was computed from."""
    return 0.0 if item_count <= 0 else (item_count - 1) / ITEMS_PER_SECOND + FIRST_ITEM_DELAY
