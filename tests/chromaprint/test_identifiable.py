"""The one rule of what can be identified, shared by the importer, import-audio and identify."""

from __future__ import annotations

import numpy as np

from earmark.chromaprint.identifiable import (
    FINGERPRINT_MIN_UNIQUE_ITEMS,
    TOO_FEW_ITEMS,
    unidentifiable_message,
    unidentifiable_reason,
)
from earmark.importer import decide


def test_the_importer_uses_the_same_rule() -> None:
    assert decide.FINGERPRINT_MIN_UNIQUE_ITEMS is FINGERPRINT_MIN_UNIQUE_ITEMS
    assert TOO_FEW_ITEMS == "fewer than 80 unique fingerprint items"


def test_the_threshold_counts_distinct_items() -> None:
    rng = np.random.default_rng(7)
    enough = rng.integers(1, 2**32, FINGERPRINT_MIN_UNIQUE_ITEMS, dtype=np.uint64)
    assert unidentifiable_reason(enough.astype(np.uint32)) is None
    assert unidentifiable_message(enough.astype(np.uint32)) is None
    one_short = enough[:-1].astype(np.uint32)
    assert unidentifiable_reason(one_short) == TOO_FEW_ITEMS
    assert unidentifiable_message(one_short) == (
        "too short to identify: 79 unique fingerprint items, fingerprints need at least 80 "
        "(about 13 s of audio)"
    )
    # Long enough but repetitive (a tone, silence): the same reason, said differently.
    repeated = np.tile(one_short, 5)
    assert unidentifiable_reason(repeated) == TOO_FEW_ITEMS
    message = unidentifiable_message(repeated)
    assert message is not None
    assert message.startswith("too uniform (silence?) to identify: 79 unique")


def test_hostile_inputs_are_reasons_not_errors() -> None:
    assert unidentifiable_reason([]) == TOO_FEW_ITEMS
    assert unidentifiable_reason(np.zeros(10_000, dtype=np.uint32)) == TOO_FEW_ITEMS
