"""AcoustID comparison: golden scores from the C matcher, its quirks, and a loop-based model."""

from __future__ import annotations

import json
import struct
from collections import Counter
from typing import Any

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from earmark.chromaprint import compare as compare_module
from earmark.chromaprint.codec import InvalidFingerprint, decode_fingerprint_base64
from earmark.chromaprint.compare import SILENCE_ITEM, compare, compare2, extract_query, simhash

# Every test runs on the C extension and on the numpy implementation (conftest.py).
pytestmark = pytest.mark.usefixtures("implementation")

TOLERANCE = 1e-5
SCORE_KEYS = {
    "compare2_maxoffset_80": lambda a, b: compare2(a, b, 80),
    "compare2_maxoffset_0": lambda a, b: compare2(a, b, 0),
    "compare_v1": compare,
}


def ints(value: Any) -> list[int]:
    """Vector files hold item lists either as JSON arrays or as JSON-array strings."""
    return json.loads(value) if isinstance(value, str) else list(value)


def item(key: int, low: int = 0) -> int:
    """An item whose top 14 bits (compare2's alignment key) are ``key``."""
    return (key << 18) | low


def signed(items: list[int]) -> list[int]:
    """The same items as pg_acoustid stores them (int32)."""
    return [x - (1 << 32) if x >= 1 << 31 else x for x in items]


def check_scores(fingerprints: dict[str, Any], pairs: list[dict[str, Any]]) -> int:
    mismatches = []
    for pair in pairs:
        a, b = fingerprints[pair["a"]], fingerprints[pair["b"]]
        for key, function in SCORE_KEYS.items():
            got = function(a, b)
            if abs(got - pair[key]) > TOLERANCE:
                mismatches.append((pair["a"], pair["b"], key, got, pair[key]))
    assert mismatches == []
    return len(pairs)


# --- golden vectors -----------------------------------------------------------------------------


def test_acoustid_fixture_scores(acoustid_fixtures: Any) -> None:
    fingerprints = {
        name: decode_fingerprint_base64(entry["fingerprint"])[0]
        for name, entry in acoustid_fixtures["fingerprints"].items()
    }
    assert check_scores(fingerprints, acoustid_fixtures["scores"]) >= 20


def test_acoustid_fixture_queries(acoustid_fixtures: Any) -> None:
    for name, expected in acoustid_fixtures["extract_query_unsigned"].items():
        items = decode_fingerprint_base64(acoustid_fixtures["fingerprints"][name]["fingerprint"])[0]
        query = extract_query(items)
        assert query.dtype == np.uint32
        assert query.tolist() == ints(expected), name


def test_dev_corpus_scores(dev_corpus_vectors: Any) -> None:
    fingerprints = {
        name: np.array(ints(entry["raw_unsigned"]), dtype=np.uint32)
        for name, entry in dev_corpus_vectors["fingerprints"].items()
    }
    assert check_scores(fingerprints, dev_corpus_vectors["pairs"]) >= 400


def test_dev_corpus_queries(dev_corpus_vectors: Any) -> None:
    for name, entry in dev_corpus_vectors["fingerprints"].items():
        query = extract_query(ints(entry["raw_unsigned"]))
        assert query.tolist() == ints(entry["extract_query_unsigned"]), name


def test_simhash_vectors() -> None:
    assert simhash([19681, 22345, 312312, 453425]) == 17249
    assert simhash([SILENCE_ITEM] * 3) == SILENCE_ITEM
    assert simhash([]) == 0
    upstream = decode_fingerprint_base64("AQAAC0kkZUqYREkUnFAXHk8uuMZl6EfO4zu-4ABKFGESWIIMEQE")[0]
    assert simhash(upstream) == 3732003127


# --- compare2 quirks ----------------------------------------------------------------------------


def test_empty_inputs_score_zero() -> None:
    for a, b in [([], []), ([], [1, 2, 3]), ([1, 2, 3], [])]:
        assert compare2(a, b) == 0.0
        assert compare2(a, b, 80) == 0.0
        assert compare(a, b) == 0.0
    assert extract_query([]).tolist() == []
    # One item: its key sits at position 0 (= absent), nothing votes.
    assert compare2([item(5)], [item(5)]) == 0.0
    assert compare([item(5)], [item(5)]) == 1.0


def test_position_zero_is_invisible() -> None:
    # The only shared key sits at position 0 in both: the C table cannot tell it from absent.
    assert compare2([item(5), item(6)], [item(5), item(7)]) == 0.0
    # The same key one position later does vote.
    assert compare2([item(9), item(5), item(6)], [item(8), item(5), item(7)]) > 0.0
    # Key 16383 is never examined.
    assert compare2([item(1), item(16383)], [item(2), item(16383)]) == 0.0
    assert compare2([item(1), item(16382)], [item(2), item(16382)]) > 0.0


def test_last_occurrence_wins_and_maxoffset() -> None:
    # a repeats b's keys; only the second copy matches bit for bit. The tables keep each key's
    # last position, so the alignment is +4 and the match is perfect.
    b = [item(k, 7) for k in (1, 2, 3, 4)]
    a = [item(k, 0x155) for k in (1, 2, 3, 4)] + b
    assert compare2(a, b) == 1.0
    assert compare2(a, b, 4) == 1.0
    assert compare2(a, b, 3) == 0.0  # the only offset voted for is filtered out
    assert compare2(a, b, -1) == 0.0  # as in C, a negative maxoffset admits nothing


def test_minsize_is_rounded_to_even() -> None:
    base = [item(k, k) for k in range(10, 30)]
    a = base[:7]
    b = [*base[1:7], item(99)]
    # Aligned at +1: 6 items each; minsize = 7 & ~1 = 6, so the overlap counts as complete.
    assert compare2(a, b) == 1.0
    a = base[:8]
    b = [*base[1:8], item(99)]
    # Aligned at +1: 7 and 8 items; only 2 * (7 // 2) = 6 are compared, minsize is 8.
    assert compare2(a, b) == pytest.approx(0.75, abs=1e-7)


def test_two_percent_vote_threshold() -> None:
    a = [item(2 * i, i) for i in range(200)]
    b = [x ^ (1 << 18) for x in a]  # every key differs (by one bit): 400 distinct keys in all

    def shared(*positions: int) -> list[int]:
        return [a[i] if i in positions else x for i, x in enumerate(b)]

    # auniq = buniq = 200: four votes are needed (4 >= 0.02 * 200).
    assert compare2(a, shared(10, 20, 30)) == 0.0
    score = compare2(a, shared(10, 20, 30, 40))
    # 196 items differ in one bit over 100 64-bit words.
    assert score == pytest.approx(float(np.float32(1 - 2 * 196 / 6400)), abs=1e-7)


def test_diversity_punishes_repetitive_fingerprints() -> None:
    a = [item(1, 0), item(2, 0)] * 50
    b = [item(1, 0), item(2, 1)] * 50  # every other item differs in one bit
    plain = 1 - 2 * 50 / (64 * 50)
    diversity = (2 + 10) / 100 + 0.5
    expected = plain ** (8 - 7 * float(np.float32(diversity)))
    assert compare2(a, b) == pytest.approx(expected, rel=1e-6)
    assert compare2(a, b) < plain


def test_uint16_positions_wrap() -> None:
    b = [item(9), item(5)]
    # Last position of key 5 is 65 536, stored as 0: "absent", nothing votes.
    assert compare2([item(5)] * 65537, b) == 0.0
    # One more item: stored as 1, it votes again.
    assert compare2([item(5)] * 65538, b) > 0.0


@given(st.lists(st.integers(-4, 4), min_size=1, max_size=40))
def test_first_offset_in_key_order_to_reach_the_top_count(offsets: list[int]) -> None:
    counts: Counter[int] = Counter()
    topcount, topoffset = 0, 0
    for offset in offsets:  # the C loop: replace only on a strictly greater count
        counts[offset] += 1
        if counts[offset] > topcount:
            topcount, topoffset = counts[offset], offset
    found = compare_module._first_to_reach_top(np.array(offsets, dtype=np.intp))
    assert found == (topcount, topoffset)


def test_uniq_count_keeps_a_stale_byte() -> None:
    # The C "seen" buffer overlays a's offset table and its memset misses byte 16383, which
    # still holds the high byte of a's entry for key 8191. When that is nonzero (key 8191 last
    # seen at position >= 256), key 16383 is not counted as distinct, and the score depends on
    # which fingerprint is "a". Repetitive fingerprints make the distinct count matter.
    a = [item(1), item(2), item(3)] * 100 + [item(8191), item(16383)] + [item(1)] * 10
    b = [x ^ (1 if i % 3 == 0 else 0) for i, x in enumerate(a)]
    b[300:303] = [item(4), item(5), item(6)]  # no key 8191 or 16383, more distinct keys than a
    forward, backward = compare2(a, b), compare2(b, a)
    # forward: a counts 4 distinct keys (16383 hidden by the stale byte); backward: 5.
    assert 0.0 < forward < backward < 1.0
    assert forward == reference_compare2(a, b, 0)
    assert backward == reference_compare2(b, a, 0)
    a[300] = item(7)  # without key 8191 the stale byte is 0: a counts 16383 both ways
    assert compare2(a, b) == compare2(b, a)


def test_compare_v1_offset_window_is_asymmetric() -> None:
    # Offsets i - j run over (-120, 120]: +120 counts, -120 does not.
    a = [0xAAAAAAAA] * 120 + [0x12345678]
    b = [0x12345678]
    assert compare(a, b) == 1.0
    assert compare(b, a) == 0.0
    assert compare([0x12345678], [0x12345678 ^ 0b11]) == 1.0  # two bit errors are allowed
    assert compare([0x12345678], [0x12345678 ^ 0b111]) == 0.0


def test_popcount_fallback_matches(monkeypatch: pytest.MonkeyPatch) -> None:
    values = np.random.default_rng(7).integers(0, (1 << 64) - 1, 200, np.uint64, endpoint=True)
    values[:4] = [0, 1, 0xFFFFFFFF, 0xFFFFFFFFFFFFFFFF]
    for array in (values, values.astype(np.uint32)):
        expected = [bin(int(v)).count("1") for v in array]
        assert compare_module._popcount_swar(array).tolist() == expected
        assert compare_module.popcount(array).tolist() == expected
    monkeypatch.setattr(compare_module, "_HAS_BITWISE_COUNT", False)
    a = [item(k, k * 7) for k in range(50)]
    b = [x ^ 0b101 for x in a]
    assert compare2(a, b) == pytest.approx(1 - 2 * 100 / (64 * 25), abs=1e-7)
    assert compare(a, b) == 1.0


@pytest.mark.parametrize("bad", [[1.5], [1 << 32], [[1, 2]], ["x"]])
def test_bad_items_raise_invalid_fingerprint(bad: Any) -> None:
    with pytest.raises(InvalidFingerprint):
        compare2(bad, [1, 2])
    with pytest.raises(InvalidFingerprint):
        compare([1, 2], bad)


# --- extract_query ------------------------------------------------------------------------------


def test_extract_query_rules() -> None:
    assert extract_query([SILENCE_ITEM] * 300).tolist() == []
    items = list(range(0, 16 * 300, 16))
    assert extract_query(items).tolist() == items[80:200]  # start at 80, 120 terms
    assert extract_query(items[:150]).tolist() == items[30:150]  # start at cleansize - 120
    assert extract_query(items[:50]).tolist() == items[:50]
    # Low 4 bits are dropped, then duplicates; silence is skipped but still counts for the start.
    assert extract_query([0x11, 0x1F, SILENCE_ITEM, 0x25, 0x10]).tolist() == [0x10, 0x20]
    silent_head = [SILENCE_ITEM] * 100 + items[:130]
    assert extract_query(silent_head).tolist() == items[:120]  # start 10 lands in the silence


# --- a loop-by-loop model of the C code, for differential tests --------------------------------


def reference_compare2(a: list[int], b: list[int], maxoffset: int) -> float:
    """Straightforward model of acoustid_compare2, one C statement at a time."""
    f32 = np.float32
    a, b = [x & 0xFFFFFFFF for x in a], [x & 0xFFFFFFFF for x in b]
    if not a or not b:
        return 0.0
    aoffsets, boffsets = [0] * 16384, [0] * 16384
    for i, x in enumerate(a):
        aoffsets[x >> 18] = i & 0xFFFF
    for i, x in enumerate(b):
        boffsets[x >> 18] = i & 0xFFFF
    counts: Counter[int] = Counter()
    topcount, topoffset = 0, -len(b)
    for key in range(16383):
        if aoffsets[key] and boffsets[key]:
            offset = aoffsets[key] - boffsets[key]
            if maxoffset == 0 or -maxoffset <= offset <= maxoffset:
                counts[offset] += 1
                if counts[offset] > topcount:
                    topcount, topoffset = counts[offset], offset
    minsize = min(len(a), len(b)) & ~1
    if topoffset < 0:
        b = b[-topoffset:]
    else:
        a = a[topoffset:]
    size = min(len(a), len(b)) // 2
    if not size or not minsize:
        return 0.0
    seen = bytearray(struct.pack("<16384H", *aoffsets))  # the byte view of a's table
    uniq = []
    for part in (a, b):
        seen[:16383] = bytes(16383)
        distinct = 0
        for x in part:
            if not seen[x >> 18]:
                distinct += 1
                seen[x >> 18] = 1
        uniq.append(distinct)
    auniq, buniq = uniq
    a_div = min(1.0, float(f32(auniq + 10) / f32(len(a))) + 0.5)
    diversity = f32(min(a_div, min(1.0, float(f32(buniq + 10) / f32(len(b))) + 0.5)))
    if topcount < max(auniq, buniq) * 0.02:
        return 0.0
    biterror = sum(bin(x ^ y).count("1") for x, y in zip(a[: 2 * size], b[: 2 * size], strict=True))
    score = max(f32((size * 2.0 / minsize) * (1.0 - 2.0 * biterror / (64 * size))), f32(0.0))
    if diversity < 1.0:
        score = f32(float(score) ** (8.0 - 7.0 * float(diversity)))
    return float(score)


def reference_compare(a: list[int], b: list[int]) -> float:
    """Straightforward model of acoustid_compare (v1)."""
    if not a or not b:
        return 0.0
    counts: Counter[int] = Counter()
    for i, x in enumerate(a):
        for j in range(max(0, i - 120), min(len(b), i + 120)):
            if bin((x ^ b[j]) & 0xFFFFFFFF).count("1") <= 2:
                counts[i - j] += 1
    top = max(counts.values(), default=0)
    return float(np.float32(top) / np.float32(min(len(a), len(b))))


KEYS = st.one_of(st.sampled_from([0, 1, 2, 3, 8191, 16382, 16383]), st.integers(0, 16383))
LOW_BITS = st.one_of(st.just(0), st.sampled_from([1, 3, 0x20000]), st.integers(0, (1 << 18) - 1))


@st.composite
def related_pair(draw: st.DrawFn) -> tuple[list[int], list[int]]:
    """Two fingerprints cut from one base with a few changed bits: most pairs align."""
    pool = draw(st.lists(KEYS, min_size=1, max_size=40))
    length = draw(st.integers(1, 420))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    keys = np.array(pool)[rng.integers(0, len(pool), length)]
    lows = rng.integers(0, 4, length) * draw(LOW_BITS)
    base = [item(int(k), int(low)) for k, low in zip(keys, lows, strict=True)]
    a = base[draw(st.integers(0, 8)) :]
    b = base[draw(st.integers(0, 8)) :]
    for bit in draw(st.lists(st.integers(0, 31), max_size=20)) if b else []:
        b[int(rng.integers(0, len(b)))] ^= 1 << bit
    return a, b


@settings(max_examples=150, deadline=None)
@given(related_pair(), st.sampled_from([0, 0, 1, 5, 80, -3]))
def test_compare2_matches_model(pair: tuple[list[int], list[int]], maxoffset: int) -> None:
    a, b = pair
    expected = reference_compare2(a, b, maxoffset)
    assert compare2(a, b, maxoffset) == expected
    assert compare2(signed(a), np.array(b, dtype=np.uint32), maxoffset) == expected
    assert 0.0 <= expected <= 1.0
    if all(x >> 18 != 16383 for x in a + b):
        # Without key 16383 the stale-byte quirk cannot act and compare2 is symmetric.
        assert compare2(b, a, maxoffset) == expected


@settings(deadline=None)
@given(st.lists(st.integers(0, 0xFFFFFFFF), max_size=60), st.lists(st.integers(0, 31), max_size=8))
def test_compare_matches_model(a: list[int], flips: list[int]) -> None:
    b = a[len(flips) :] + a[: len(flips)]  # rotated, then a few bits flipped
    for n, bit in enumerate(flips if b else []):
        b[n % len(b)] ^= 1 << bit
    assert compare(a, b) == reference_compare(a, b)
    assert 0.0 <= compare(a, b) <= 1.0


@given(
    st.lists(st.integers(0, 0xFFFFFFFF), min_size=2, max_size=400, unique_by=lambda x: x >> 18),
    st.integers(0, 200),
)
def test_diverse_fingerprint_matches_itself(items: list[int], maxoffset: int) -> None:
    # Distinct keys (diversity 1), and at least one key that can vote (not at position 0, not
    # key 16383): then a fingerprint scores exactly 1.
    assume(any(x >> 18 != 16383 for x in items[1:]))
    assert compare2(items, items, maxoffset) == 1.0
    assert compare(items, items) == 1.0


UINT32_LISTS = st.lists(st.integers(0, 0xFFFFFFFF), max_size=300)


@given(UINT32_LISTS, UINT32_LISTS, st.integers(-5, 200))
def test_scores_are_in_unit_interval(a: list[int], b: list[int], maxoffset: int) -> None:
    assert 0.0 <= compare2(a, b, maxoffset) <= 1.0
    assert 0.0 <= compare(a, b) <= 1.0


def reference_extract_query(items: list[int]) -> list[int]:
    """Straightforward model of acoustid_extract_query."""
    cleansize = sum(1 for x in items if x != SILENCE_ITEM)
    if cleansize == 0:
        return []
    query: list[int] = []
    for x in items[max(0, min(cleansize - 120, 80)) :]:
        term = x & 0xFFFFFFF0
        if x != SILENCE_ITEM and term not in query:
            query.append(term)
            if len(query) == 120:
                break
    return query


QUERY_ITEMS = st.one_of(
    st.just(SILENCE_ITEM), st.integers(0, 0xFFFFFFFF), st.integers(SILENCE_ITEM - 40, SILENCE_ITEM)
)


@given(st.lists(QUERY_ITEMS, max_size=400))
def test_extract_query_matches_model(items: list[int]) -> None:
    assert extract_query(items).tolist() == reference_extract_query(items)
    assert extract_query(signed(items)).tolist() == reference_extract_query(items)


@given(st.lists(st.integers(0, 0xFFFFFFFF), max_size=100))
def test_simhash_matches_bit_majority(items: list[int]) -> None:
    expected = sum(
        1 << bit for bit in range(32) if sum(x >> bit & 1 for x in items) > len(items) // 2
    )
    assert simhash(items) == expected
    assert simhash(signed(items)) == expected
