"""Which adjacent segments to merge next.

Tiered by size: a segment's level is log_factor(items / base). A run of `factor` adjacent
segments on the same level merges into one on the next level (so merges are geometric and
each posting is rewritten about log_factor(N / base) times). A cap on the number of
segments bounds the per-search work whatever the sizes: above it, the cheapest window of
adjacent segments is merged. Only adjacent segments merge, so segments keep tiling the
commit sequence and "newest segment holding a doc" stays well defined.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def _level(size: int, base: int, factor: int) -> int:
    return int(math.log(max(size, base) / base, factor))


def pick_idle_merge(sizes: Sequence[int], *, max_merge_items: int) -> tuple[int, int] | None:
    """When writes have stopped: merge the longest run of newest segments that fits in
    `max_merge_items`, so a read-mostly index ends up with as few segments as possible."""
    total, start = 0, len(sizes)
    while start > 0 and total + sizes[start - 1] <= max_merge_items:
        start -= 1
        total += sizes[start]
    return (start, len(sizes)) if len(sizes) - start >= 2 else None


def pick_merge(
    sizes: Sequence[int],
    *,
    factor: int = 4,
    base: int = 100_000,
    max_segments: int = 8,
    max_merge_items: int = 1 << 62,
) -> tuple[int, int] | None:
    """Return `(start, stop)` of the run of segments to merge (oldest first), or None."""
    n = len(sizes)
    if n < 2:
        return None
    levels = [_level(s, base, factor) for s in sizes]
    best: tuple[int, int] | None = None
    best_level = math.inf
    i = 0
    while i < n:
        j = i
        while j < n and levels[j] == levels[i]:
            j += 1
        if j - i >= factor and levels[i] < best_level:
            start = j - factor  # the newest `factor` of the run
            if sum(sizes[start:j]) <= max_merge_items:
                best, best_level = (start, j), levels[i]
        i = j
    if best is not None:
        return best
    if n > max_segments:
        width = min(factor, n - max_segments + 1)
        width = max(width, 2)
        windows = [(sum(sizes[k : k + width]), k) for k in range(n - width + 1)]
        total, k = min(windows)
        if total <= max_merge_items:
            return (k, k + width)
    return None
