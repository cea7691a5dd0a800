"""Chromaprint's compressed format: upstream vectors, real fingerprints, hostile input."""

from __future__ import annotations

import base64
import json
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from earmark.chromaprint.codec import (
    MAX_FINGERPRINT_BASE64_LENGTH,
    MAX_FINGERPRINT_BYTES,
    InvalidFingerprint,
    as_items,
    decode_fingerprint,
    decode_fingerprint_base64,
    encode_fingerprint,
    encode_fingerprint_base64,
)

# Every test runs on the C extension and on the numpy implementation (conftest.py).
pytestmark = pytest.mark.usefixtures("implementation")

SILENCE = 627964279
UINT32 = st.integers(min_value=0, max_value=0xFFFFFFFF)
URLSAFE_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def ints(value: Any) -> list[int]:
    """Vector files hold item lists either as JSON arrays or as JSON-array strings."""
    return json.loads(value) if isinstance(value, str) else list(value)


# --- upstream vectors (chromaprint tests/test_fingerprint_*.cpp, tests/test_api.cpp) -------------

BINARY_VECTORS = [
    ([1], 0, "00 00 00 01 01"),
    ([7], 0, "00 00 00 01 49 00"),  # normal values 1, 1, 1, 0
    ([1 << 6], 0, "00 00 00 01 07 00"),  # gap 7 -> 7 + exception 0
    ([1 << 8], 0, "00 00 00 01 07 02"),  # gap 9 -> 7 + exception 2
    ([1, 0], 0, "00 00 00 02 41 00"),
    ([1, 1], 0, "00 00 00 02 01 00"),
]

TEXT_VECTORS = [
    ([1, 0], 55, "NwAAAkEA"),
    ([SILENCE] * 3, 1, "AQAAA0mUaEkSRZEGAA"),
]

NINETEEN_ITEMS = (
    "AQAAEwkjrUmSJQpUHflR9mjSJMdZpcO_Imdw9dCO9Clu4_wQPvhCB01w6xAtXNcAp5RASgDBhDSCGGIAcwA"
)


@pytest.mark.parametrize(("items", "algorithm", "hex_bytes"), BINARY_VECTORS)
def test_upstream_binary_vectors(items: list[int], algorithm: int, hex_bytes: str) -> None:
    expected = bytes.fromhex(hex_bytes)
    assert encode_fingerprint(items, algorithm) == expected
    decoded, decoded_algorithm = decode_fingerprint(expected)
    assert decoded.dtype == np.uint32
    assert decoded.tolist() == items
    assert decoded_algorithm == algorithm


@pytest.mark.parametrize(("items", "algorithm", "text"), TEXT_VECTORS)
def test_upstream_text_vectors(items: list[int], algorithm: int, text: str) -> None:
    assert encode_fingerprint_base64(items, algorithm) == text
    decoded, decoded_algorithm = decode_fingerprint_base64(text)
    assert decoded.tolist() == items
    assert decoded_algorithm == algorithm


def test_upstream_nineteen_items() -> None:
    items, algorithm = decode_fingerprint_base64(NINETEEN_ITEMS)
    assert algorithm == 1
    assert len(items) == 19
    assert items.view(np.int32)[:2].tolist() == [-587455133, -591649759]
    assert encode_fingerprint_base64(items, algorithm) == NINETEEN_ITEMS


def test_upstream_empty_fingerprint() -> None:
    items, algorithm = decode_fingerprint_base64("AQAAAA")
    assert items.dtype == np.uint32
    assert items.size == 0
    assert algorithm == 1
    assert encode_fingerprint_base64([], 1) == "AQAAAA"


def test_upstream_impossible_count_fails() -> None:
    with pytest.raises(InvalidFingerprint):
        decode_fingerprint(bytes.fromhex("00 FF FF FF"))


def test_upstream_trailing_data_is_ignored() -> None:
    data = bytes.fromhex("00 00 00 01 07 00 FF FF FF FF")
    items, algorithm = decode_fingerprint(data)
    assert items.tolist() == [64]
    assert algorithm == 0
    # Other bytes-like inputs, including a memoryview whose items are not bytes.
    for view in (bytearray(data), memoryview(data), memoryview(data[:8]).cast("I")):
        assert decode_fingerprint(view)[0].tolist() == [64]


# --- real fingerprints --------------------------------------------------------------------------


def test_acoustid_fixture_fingerprints_round_trip(acoustid_fixtures: Any) -> None:
    fingerprints = acoustid_fixtures["fingerprints"]
    assert fingerprints
    for name, entry in fingerprints.items():
        items, algorithm = decode_fingerprint_base64(entry["fingerprint"])
        assert algorithm == 1, name
        assert items.size > 0, name
        assert encode_fingerprint_base64(items, algorithm) == entry["fingerprint"], name


def test_dev_corpus_fingerprints_round_trip(dev_corpus_vectors: Any) -> None:
    fingerprints = dev_corpus_vectors["fingerprints"]
    assert len(fingerprints) > 50
    for name, entry in fingerprints.items():
        raw = ints(entry["raw_unsigned"])
        items, algorithm = decode_fingerprint_base64(entry["compressed"])
        assert algorithm == 1, name
        assert items.tolist() == raw, name
        assert encode_fingerprint_base64(raw) == entry["compressed"], name


# --- input forms --------------------------------------------------------------------------------


def test_signed_and_unsigned_items_encode_alike() -> None:
    unsigned = [0, 1, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, SILENCE]
    signed = [x - (1 << 32) if x >= 1 << 31 else x for x in unsigned]
    expected = encode_fingerprint(unsigned)
    assert encode_fingerprint(signed) == expected
    assert encode_fingerprint(np.array(signed, dtype=np.int32)) == expected
    assert encode_fingerprint(np.array(unsigned, dtype=np.uint32)) == expected
    assert encode_fingerprint(np.array(unsigned, dtype=np.int64)) == expected
    assert encode_fingerprint(np.array(unsigned, dtype=">u4")) == expected


def test_as_items_keeps_uint32_arrays_without_copy() -> None:
    items = np.arange(5, dtype=np.uint32)
    assert as_items(items) is items
    assert as_items([]).dtype == np.uint32


@pytest.mark.parametrize(
    "items",
    [
        [1 << 32],
        [-(1 << 31) - 1],
        [1.5],
        np.array([1.0, 2.0]),
        np.array([[1, 2], [3, 4]], dtype=np.uint32),
        ["AQAA"],
        [1 << 70],
        [[1, 2], [3]],
        np.array([True, False]),
    ],
)
def test_encode_rejects_bad_items(items: Any) -> None:
    with pytest.raises(InvalidFingerprint):
        encode_fingerprint(items)


@pytest.mark.parametrize("algorithm", [-1, 256])
def test_encode_rejects_bad_algorithm(algorithm: int) -> None:
    with pytest.raises(InvalidFingerprint):
        encode_fingerprint([1], algorithm)


def test_text_accepts_standard_alphabet_and_padding() -> None:
    text = NINETEEN_ITEMS
    assert "-" in text or "_" in text
    expected, _ = decode_fingerprint_base64(text)
    standard = text.replace("-", "+").replace("_", "/")
    assert decode_fingerprint_base64(standard)[0].tolist() == expected.tolist()
    padded = base64.b64encode(base64.urlsafe_b64decode(text + "==")).decode()
    assert padded.endswith("=")
    assert decode_fingerprint_base64(padded)[0].tolist() == expected.tolist()
    assert decode_fingerprint_base64(text.encode())[0].tolist() == expected.tolist()


# --- hostile input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x01",
        b"\x01\x00\x00",
        b"\x01\x00\x00\x01",  # one item, no body
        b"\x00\x00\x00\x02\x01",  # two items, only one terminator
        b"\x00\x00\x00\x01\x07",  # normal stream fine, the exception stream is missing
        b"\x00\x00\x00\x01\x3f\x00",  # two exceptions, only one byte for them
        b"\x00\xff\xff\xff" + b"\x00" * 1000,  # 16.7 M items claimed
        b"\x00\x00\x00\x01\x07\x1f",  # gap 7 + 31 = 38: a set bit beyond bit 31
        b"\x00\x00\x00\x01\xff\xff\x00" + bytes(4),  # five gaps of 7 add up past 32
    ],
)
def test_decode_rejects_bad_bytes(data: bytes) -> None:
    with pytest.raises(InvalidFingerprint):
        decode_fingerprint(data)


def test_decode_highest_bit() -> None:
    # gap 7 + 25 = 32 sets bit 31, the last legal one.
    items, _ = decode_fingerprint(b"\x00\x00\x00\x01\x07\x19")
    assert items.tolist() == [0x80000000]


def test_every_truncation_of_a_real_fingerprint_fails(dev_corpus_vectors: Any) -> None:
    entry = next(iter(dev_corpus_vectors["fingerprints"].values()))
    raw = base64.urlsafe_b64decode(entry["compressed"] + "==")
    assert raw == encode_fingerprint(ints(entry["raw_unsigned"]))
    for cut in range(len(raw)):
        with pytest.raises(InvalidFingerprint):
            decode_fingerprint(raw[:cut])
    garbage = raw + bytes(range(256)) * 4
    assert decode_fingerprint(garbage)[0].tolist() == ints(entry["raw_unsigned"])


@pytest.mark.parametrize(
    "text",
    [
        "",
        "A",
        "AQ",
        "AQAAAQ",  # one item claimed, no body
        "AQAAA",  # 5 characters: the last one cannot make a byte
        "AQAA AQ",
        "AQAAAA\n",
        " AQAAAA",
        "AQ$$",
        "AQAA.A",
        "AQAA=AAA",
        "AQAAAA===",
        "AQAAAA=",  # padding that does not fit the length
        "AQAAA==",
        "null",
        "coustid Fingerprint",
        "AQAAé",
        "AQAA\x00",
    ],
)
def test_decode_base64_rejects_bad_text(text: str) -> None:
    with pytest.raises(InvalidFingerprint):
        decode_fingerprint_base64(text)
    if text.isascii():
        with pytest.raises(InvalidFingerprint):
            decode_fingerprint_base64(text.encode())


@pytest.mark.parametrize("value", [None, 12, ["AQAAAA"], 1.5])
def test_decode_rejects_wrong_types(value: Any) -> None:
    with pytest.raises(InvalidFingerprint):
        decode_fingerprint_base64(value)
    with pytest.raises(InvalidFingerprint):
        decode_fingerprint(value)


def test_decode_rejects_str_as_bytes() -> None:
    with pytest.raises(InvalidFingerprint):
        decode_fingerprint("AQAAAA")  # type: ignore[arg-type]


def test_oversized_input_is_rejected_up_front() -> None:
    huge_text = "A" * (MAX_FINGERPRINT_BASE64_LENGTH + 1)
    with pytest.raises(InvalidFingerprint, match="over"):
        decode_fingerprint_base64(huge_text)
    with pytest.raises(InvalidFingerprint, match="over"):
        decode_fingerprint_base64("é" * (MAX_FINGERPRINT_BASE64_LENGTH + 1))
    with pytest.raises(InvalidFingerprint, match="over"):
        decode_fingerprint(b"\x01\x00\x00\x01" + bytes(MAX_FINGERPRINT_BYTES))


def test_largest_input_is_bounded() -> None:
    # Within the cap, a body of 1 bits never terminates an item: the decoder scans what the count
    # allows and fails; a zero body claiming zero items is an (odd but valid) empty fingerprint.
    body_len = MAX_FINGERPRINT_BYTES - 4
    ones = b"\x01\x0f\xff\xff" + b"\xff" * body_len
    with pytest.raises(InvalidFingerprint):
        decode_fingerprint(ones)
    text = base64.urlsafe_b64encode(ones).decode().rstrip("=")
    assert len(text) <= MAX_FINGERPRINT_BASE64_LENGTH
    with pytest.raises(InvalidFingerprint):
        decode_fingerprint_base64(text)
    items, algorithm = decode_fingerprint_base64("A" * MAX_FINGERPRINT_BASE64_LENGTH)
    assert items.size == 0
    assert algorithm == 0


# --- properties ---------------------------------------------------------------------------------


@given(st.lists(UINT32, max_size=300), st.integers(min_value=0, max_value=255))
def test_round_trip(items: list[int], algorithm: int) -> None:
    data = encode_fingerprint(items, algorithm)
    decoded, decoded_algorithm = decode_fingerprint(data)
    assert decoded.tolist() == items
    assert decoded_algorithm == algorithm
    text = encode_fingerprint_base64(items, algorithm)
    assert "=" not in text
    assert base64.urlsafe_b64decode(text + "==") == data
    assert decode_fingerprint_base64(text)[0].tolist() == items


@given(
    st.lists(
        st.sampled_from([0, 1, 0x80000000, 0xFFFFFFFF, 0xFFFF0000, 0x0000FFFF, SILENCE]),
        max_size=50,
    )
)
def test_round_trip_extreme_items(items: list[int]) -> None:
    assert decode_fingerprint(encode_fingerprint(items))[0].tolist() == items


@given(st.binary(max_size=200))
def test_random_bytes_only_raise_invalid_fingerprint(data: bytes) -> None:
    try:
        items, algorithm = decode_fingerprint(data)
    except InvalidFingerprint:
        return
    assert items.dtype == np.uint32
    assert 0 <= algorithm <= 255
    # What decodes re-encodes to something that decodes to the same items.
    assert decode_fingerprint(encode_fingerprint(items, algorithm))[0].tolist() == items.tolist()


@given(st.integers(min_value=0, max_value=40), st.binary(max_size=60))
def test_random_bodies_only_raise_invalid_fingerprint(count: int, body: bytes) -> None:
    try:
        items, _ = decode_fingerprint(bytes((1, 0, 0, count)) + body)
    except InvalidFingerprint:
        return
    assert items.size == count


@given(st.text(max_size=200))
def test_random_text_only_raises_invalid_fingerprint(text: str) -> None:
    try:
        items, _ = decode_fingerprint_base64(text)
    except InvalidFingerprint:
        return
    assert items.dtype == np.uint32


@given(st.text(alphabet=URLSAFE_ALPHABET, max_size=200))
def test_random_base64_only_raises_invalid_fingerprint(text: str) -> None:
    try:
        items, _ = decode_fingerprint_base64("AQAA" + text)
    except InvalidFingerprint:
        return
    assert items.dtype == np.uint32
