"""The 16 classifiers of Chromaprint's ALGORITHM_TEST2, as data.

Each classifier is a Haar-like filter over the chroma "image" (rows = time, columns = the 12
chroma bands) followed by a 3-threshold quantiser.  The values are those of upstream's
``kClassifiersTest2`` table; see ``/work/shared/reference/chromaprint.md`` §1.5.
"""

from __future__ import annotations

from typing import Final, NamedTuple

__all__ = ["MAX_FILTER_WIDTH", "TEST2_CLASSIFIERS", "Area", "Classifier", "filter_areas"]


class Classifier(NamedTuple):
    """One filter (type, first band, band count, frame count) plus its quantiser thresholds."""

    type: int
    y: int
    height: int
    width: int
    t0: float
    t1: float
    t2: float


class Area(NamedTuple):
    """Image rectangle: frames ``[x1, x2)`` relative to the item offset, bands ``[y1, y2)``."""

    x1: int
    y1: int
    x2: int
    y2: int


# In output order: classifier 0 ends up in the two most significant bits of an item.
TEST2_CLASSIFIERS: Final[tuple[Classifier, ...]] = (
    Classifier(0, 4, 3, 15, 1.98215, 2.35817, 2.63523),
    Classifier(4, 4, 6, 15, -1.03809, -0.651211, -0.282167),
    Classifier(1, 0, 4, 16, -0.298702, 0.119262, 0.558497),
    Classifier(3, 8, 2, 12, -0.105439, 0.0153946, 0.135898),
    Classifier(3, 4, 4, 8, -0.142891, 0.0258736, 0.200632),
    Classifier(4, 0, 3, 5, -0.826319, -0.590612, -0.368214),
    Classifier(1, 2, 2, 9, -0.557409, -0.233035, 0.0534525),
    Classifier(2, 7, 3, 4, -0.0646826, 0.00620476, 0.0784847),
    Classifier(2, 6, 2, 16, -0.192387, -0.029699, 0.215855),
    Classifier(2, 1, 3, 2, -0.0397818, -0.00568076, 0.0292026),
    Classifier(5, 10, 1, 15, -0.53823, -0.369934, -0.190235),
    Classifier(3, 6, 2, 10, -0.124877, 0.0296483, 0.139239),
    Classifier(2, 1, 1, 14, -0.101475, 0.0225617, 0.231971),
    Classifier(3, 5, 6, 4, -0.0799915, -0.00729616, 0.063262),
    Classifier(1, 9, 2, 12, -0.272556, 0.019424, 0.302559),
    Classifier(3, 4, 2, 14, -0.164292, -0.0321188, 0.0846339),
)

# An item needs this many consecutive image rows (the widest filter).
MAX_FILTER_WIDTH: Final = max(c.width for c in TEST2_CLASSIFIERS)


def filter_areas(c: Classifier) -> tuple[list[Area], list[Area]]:
    """Return the areas summed into the numerator A and the denominator B of ``ln((1+A)/(1+B))``.

    Halves and thirds use integer division, as upstream does; the order of the areas inside A
    and B does not matter because a sum of two doubles is commutative.
    """
    y, h, w = c.y, c.height, c.width
    h2, w2, h3, w3 = h // 2, w // 2, h // 3, w // 3
    if c.type == 0:
        return [Area(0, y, w, y + h)], []
    if c.type == 1:
        return [Area(0, y + h2, w, y + h)], [Area(0, y, w, y + h2)]
    if c.type == 2:
        return [Area(w2, y, w, y + h)], [Area(0, y, w2, y + h)]
    if c.type == 3:
        return (
            [Area(0, y + h2, w2, y + h), Area(w2, y, w, y + h2)],
            [Area(0, y, w2, y + h2), Area(w2, y + h2, w, y + h)],
        )
    if c.type == 4:
        return (
            [Area(0, y + h3, w, y + 2 * h3)],
            [Area(0, y, w, y + h3), Area(0, y + 2 * h3, w, y + h)],
        )
    if c.type == 5:
        return (
            [Area(w3, y, 2 * w3, y + h)],
            [Area(0, y, w3, y + h), Area(2 * w3, y, w, y + h)],
        )
    raise ValueError(f"unknown filter type {c.type}")
