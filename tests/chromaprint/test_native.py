"""The C extension against its specification (the numpy code) on random and hostile input."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from earmark.chromaprint import codec, compare
from earmark.chromaprint.codec import InvalidFingerprint, encode_fingerprint
from tests.chromaprint.conftest import require_native

ITEMS = st.lists(st.integers(0, 0xFFFFFFFF), max_size=300)


@pytest.fixture(autouse=True)
def _native_built() -> None:
    require_native()


def outcome(decode: object, body: bytes, count: int) -> object:
    """The items as a list, or the error message."""
    assert callable(decode)
    try:
        return decode(memoryview(body), count).tolist()
    except InvalidFingerprint as exc:
        return str(exc)


def assert_same_decoding(body: bytes, count: int) -> None:
    expected = outcome(codec.decode_items_numpy, body, count)
    assert outcome(codec.decode_items_native, body, count) == expected


@settings(max_examples=300, deadline=None)
@given(ITEMS)
def test_valid_fingerprints_decode_alike(items: list[int]) -> None:
    encoded = encode_fingerprint(items)
    if items:
        assert_same_decoding(encoded[4:], len(items))
        assert codec.decode_items_native(memoryview(encoded[4:]), len(items)).tolist() == items


@settings(max_examples=300, deadline=None)
@given(ITEMS.filter(bool), st.data())
def test_damaged_fingerprints_fail_alike(items: list[int], data: st.DataObject) -> None:
    body = bytearray(encode_fingerprint(items)[4:])
    count = len(items) + data.draw(st.integers(-len(items) + 1, 5))
    cut = data.draw(st.integers(0, len(body)))
    for _ in range(data.draw(st.integers(0, 4))):
        if body:
            body[data.draw(st.integers(0, len(body) - 1))] = data.draw(st.integers(0, 255))
    assert_same_decoding(bytes(body[:cut]), count)
    assert_same_decoding(bytes(body), count)


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=200), st.integers(1, 120))
def test_random_bytes_decode_alike(body: bytes, count: int) -> None:
    assert_same_decoding(body, count)


@pytest.mark.parametrize(
    "body",
    [b"\xff" * 64, b"\x00" * 64, b"\x07" * 64, b"\xb6\x6d\xdb" * 30, bytes(range(256))],
)
@pytest.mark.parametrize("count", [1, 2, 7, 33, 100, 1000])
def test_hostile_patterns_decode_alike(body: bytes, count: int) -> None:
    assert_same_decoding(body, count)


def test_native_decode_checks_its_arguments() -> None:
    from earmark.chromaprint import _native

    out = np.empty(4, dtype=np.uint32)
    with pytest.raises(ValueError, match="output buffer too small"):
        _native.decode(b"\x00" * 8, 5, out)
    with pytest.raises(ValueError, match="24-bit"):
        _native.decode(b"\x00" * 8, -1, out)
    with pytest.raises(TypeError):
        _native.decode(b"\x00" * 8, 1, b"read-only")
    with pytest.raises(TypeError):  # not contiguous
        _native.decode(b"\x00" * 8, 1, np.empty(8, dtype=np.uint32)[::2])


# --- compare2 -----------------------------------------------------------------------------------


def both_scores(a: np.ndarray, b: np.ndarray, maxoffset: int) -> tuple[float, float]:
    native = compare.compare2(a, b, maxoffset)
    spec = compare.compare2_numpy(codec.as_items(a), codec.as_items(b), maxoffset)
    return native, spec


@st.composite
def related(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    """A fingerprint and a shifted, bit-flipped, cut copy; keys drawn from a small range so
    keys repeat (last occurrence wins) and the quirky keys 8191 and 16383 come up."""
    keys = st.sampled_from([0, 1, 2, 3, 8191, 16382, 16383]) | st.integers(0, 16383)
    size = draw(st.integers(0, 400))
    a = [(draw(keys) << 18) | draw(st.integers(0, (1 << 18) - 1)) for _ in range(size)]
    shift = draw(st.integers(-20, 20))
    b = a[shift:] if shift >= 0 else [0] * -shift + a
    b = [x ^ (1 << draw(st.integers(0, 31))) if draw(st.booleans()) else x for x in b]
    b = b[: draw(st.integers(0, len(b)))] if b else b
    return np.array(a, dtype=np.uint32), np.array(b, dtype=np.uint32)


MAXOFFSETS = st.sampled_from([0, 1, 5, 80, -1, -80, 65535, 1 << 40, -(1 << 40)])


@settings(max_examples=400, deadline=None)
@given(related(), MAXOFFSETS)
def test_compare2_scores_alike(pair: tuple[np.ndarray, np.ndarray], maxoffset: int) -> None:
    a, b = pair
    native, spec = both_scores(a, b, maxoffset)
    assert native == spec  # bit for bit: both compute in float32 where the C matcher does
    assert both_scores(b, a, maxoffset)[0] == both_scores(b, a, maxoffset)[1]


@settings(max_examples=200, deadline=None)
@given(ITEMS, ITEMS, MAXOFFSETS)
def test_unrelated_fingerprints_score_alike(a: list[int], b: list[int], maxoffset: int) -> None:
    native, spec = both_scores(np.array(a, np.uint32), np.array(b, np.uint32), maxoffset)
    assert native == spec


def test_compare2_over_65536_items_and_odd_layouts() -> None:
    rng = np.random.default_rng(7)
    long = rng.integers(0, 1 << 32, size=70_000, dtype=np.uint32)
    # Positions wrap at 65 536 in the C tables; offsets span the whole range.
    for a, b in [(long, long), (long, long[1000:]), (long[::-1].copy(), long), (long, long[:500])]:
        for maxoffset in (0, 80):
            native, spec = both_scores(a, b, maxoffset)
            assert native == spec
    # Signed (int32) and non-contiguous input gives the same score as a contiguous uint32 copy.
    strided = np.repeat(long[:4000], 2)[::2]
    assert not strided.flags.c_contiguous
    assert compare.compare2(strided, long[:4000]) == compare.compare2(long[:4000], long[:4000])
    assert compare.compare2(long[:4000].view(np.int32), long[:4000]) == pytest.approx(1.0)
