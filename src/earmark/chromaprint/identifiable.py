"""Whether a fingerprint can ever be identified: the one rule the importer, ``import-audio``
and ``identify`` share.

The importer skips a submission whose fingerprint has fewer than
:data:`FINGERPRINT_MIN_UNIQUE_ITEMS` distinct items (reference §9.3: too little to tell
recordings apart; about 13 s of audio) or gives no index query (only silence), so such a
fingerprint never joins the catalogue. ``import-audio`` refuses these files up front instead of
submitting them for nothing, and ``identify`` says why they do not match.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from earmark.chromaprint.compare import extract_query

#: Fewer distinct items than this is too little to identify anything.
FINGERPRINT_MIN_UNIQUE_ITEMS = 80

TOO_FEW_ITEMS = f"fewer than {FINGERPRINT_MIN_UNIQUE_ITEMS} unique fingerprint items"
NO_INDEX_QUERY = "the fingerprint gives no index query"


def unique_items(items: Sequence[int] | npt.NDArray[np.integer]) -> int:
    """How many distinct items the fingerprint has."""
    return int(np.unique(np.asarray(items)).size)


def unidentifiable_reason(items: Sequence[int] | npt.NDArray[np.integer]) -> str | None:
    """Why the importer would skip a fingerprint of ``items`` whatever its metadata, or None
    when it is identifiable (:data:`TOO_FEW_ITEMS` or :data:`NO_INDEX_QUERY`)."""
    if unique_items(items) < FINGERPRINT_MIN_UNIQUE_ITEMS:
        return TOO_FEW_ITEMS
    if extract_query(items).size == 0:
        return NO_INDEX_QUERY
    return None


def unidentifiable_message(items: Sequence[int] | npt.NDArray[np.integer]) -> str | None:
    """:func:`unidentifiable_reason` said for a user (with the item count), or None."""
    reason = unidentifiable_reason(items)
    if reason == TOO_FEW_ITEMS:
        unique = unique_items(items)
        what = (
            "too short" if len(items) < FINGERPRINT_MIN_UNIQUE_ITEMS else "too uniform (silence?)"
        )
        return (
            f"{what} to identify: {unique} unique fingerprint items, fingerprints need at "
            f"least {FINGERPRINT_MIN_UNIQUE_ITEMS} (about 13 s of audio)"
        )
    if reason is not None:
        return f"cannot be identified: {reason} (silence?)"
    return None
