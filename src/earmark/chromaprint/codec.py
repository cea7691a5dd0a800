"""Chromaprint's compressed fingerprint format and its URL-safe base64 text form.

Layout (libchromaprint ``chromaprint_encode_fingerprint``): one algorithm byte, a 24-bit
big-endian item count, then a stream of 3-bit "normal" values followed (on a fresh byte) by a
stream of 5-bit "exception" values, both packed least-significant bit first. Items are XOR-delta
coded; each delta is written as the gaps between its set bits (1-based, from bit 0 upwards) and a
terminating 0. A gap of 7 or more is written as 7 in the normal stream plus ``gap - 7`` in the
exception stream.

Everything here is vectorised with numpy: the server decodes one fingerprint per lookup, so a
120 s fingerprint (about 950 items) decodes and encodes in tens of microseconds. Decoding is
done in C (``earmark.chromaprint._native``, a few microseconds) when the extension was built
(:data:`NATIVE`); the numpy decoder is its specification and gives the same results.

Decoding is deliberately stricter than libchromaprint where libchromaprint would read garbage or
invoke undefined behaviour; every problem is reported as :class:`InvalidFingerprint` and nothing
else. Bytes after the exception stream are ignored, as libchromaprint does.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from typing import Final

import numpy as np
import numpy.typing as npt

try:
    from earmark.chromaprint import _native

    NATIVE = True
except ImportError:  # built without a C compiler: the numpy implementations are used
    NATIVE = False

__all__ = [
    "MAX_FINGERPRINT_BASE64_LENGTH",
    "MAX_FINGERPRINT_BYTES",
    "MAX_ITEMS",
    "NATIVE",
    "InvalidFingerprint",
    "as_items",
    "decode_fingerprint",
    "decode_fingerprint_base64",
    "encode_fingerprint",
    "encode_fingerprint_base64",
]

#: Longest base64 text accepted by :func:`decode_fingerprint_base64` (3 MiB). A 120 s
#: fingerprint is about 3 400 characters, so this admits roughly 15 hours of audio.
MAX_FINGERPRINT_BASE64_LENGTH: Final = 3 * 1024 * 1024
#: Longest compressed input accepted by :func:`decode_fingerprint` (what the base64 cap decodes to).
MAX_FINGERPRINT_BYTES: Final = MAX_FINGERPRINT_BASE64_LENGTH * 3 // 4
#: The item count is a 24-bit field.
MAX_ITEMS: Final = 0xFFFFFF

_HEADER_SIZE: Final = 4
_NORMAL_BITS: Final = 3
_EXCEPTION_BITS: Final = 5
_MAX_NORMAL: Final = 7  # (1 << _NORMAL_BITS) - 1: "look in the exception stream"
# One item is at most 32 set bits plus its terminator: the most normal values an item can use.
_MAX_VALUES_PER_ITEM: Final = 33

# URL-safe alphabet (what Chromaprint writes) plus the standard alphabet's "+" and "/", which some
# clients may produce by using a generic base64 encoder; both map to the same 6-bit values.
_B64_ALPHABET: Final = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_+/"
_URLSAFE_TO_STANDARD: Final = bytes.maketrans(b"-_", b"+/")

_U32 = npt.NDArray[np.uint32]


class InvalidFingerprint(ValueError):  # noqa: N818 - the name is part of the public API
    """The input is not a valid Chromaprint fingerprint (compressed, base64 or item list)."""


def as_items(items: Sequence[int] | npt.NDArray[np.integer]) -> _U32:
    """Return fingerprint items as a 1-D uint32 array (signed int32 values keep their bit pattern).

    Accepts anything numpy turns into a 1-D integer array with values in [-2**31, 2**32): lists of
    Python ints, and int32 (pg_acoustid's signed storage) or uint32 arrays without copying.
    """
    if isinstance(items, np.ndarray):
        arr: np.ndarray = items
    else:
        try:
            arr = np.asarray(items)
        except (TypeError, ValueError, OverflowError) as exc:
            raise InvalidFingerprint(f"items are not a flat list of integers: {exc}") from None
    if arr.ndim != 1:
        raise InvalidFingerprint(f"items must be one-dimensional, got shape {arr.shape}")
    if arr.size == 0:
        # np.asarray([]) is float64; an empty list is still a valid (empty) fingerprint.
        return np.zeros(0, dtype=np.uint32)
    if arr.dtype == np.uint32:
        return arr
    if arr.dtype == np.int32:
        return arr.view(np.uint32)
    if arr.dtype.kind not in "iu":
        raise InvalidFingerprint(f"items must be integers, got dtype {arr.dtype}")
    if int(arr.min()) < -(2**31) or int(arr.max()) > 0xFFFFFFFF:
        raise InvalidFingerprint("items must fit in 32 bits (int32 or uint32)")
    # Wrap negative values to their two's-complement uint32 pattern.
    return (arr.astype(np.int64) & 0xFFFFFFFF).astype(np.uint32)


def _pack(values: npt.NDArray[np.uint8], width: int) -> bytes:
    """Pack small unsigned values, ``width`` bits each, least-significant bit first."""
    bits = np.empty(values.size * width, dtype=np.uint8)
    for k in range(width):  # a loop over the 3 or 5 bit planes, not over values
        np.bitwise_and(values >> np.uint8(k), 1, out=bits[k::width])
    return np.packbits(bits, bitorder="little").tobytes()


def _unpack(data: npt.NDArray[np.uint8], width: int) -> npt.NDArray[np.uint8]:
    """Unpack every complete ``width``-bit value of an LSB-first bit stream (inverse of _pack)."""
    bits = np.unpackbits(data, bitorder="little")
    end = bits.size // width * width
    values = bits[0:end:width].copy()
    for k in range(1, width):
        values |= bits[k:end:width] << np.uint8(k)
    return values


def encode_fingerprint(items: Sequence[int] | npt.NDArray[np.integer], algorithm: int = 1) -> bytes:
    """Compress fingerprint items into Chromaprint's binary format, as libchromaprint does."""
    arr = as_items(items)
    if not 0 <= algorithm <= 255:
        raise InvalidFingerprint(f"algorithm must fit in one byte, got {algorithm}")
    count = arr.size
    if count > MAX_ITEMS:
        raise InvalidFingerprint(f"at most {MAX_ITEMS} items fit in the header, got {count}")
    header = bytes((algorithm, (count >> 16) & 0xFF, (count >> 8) & 0xFF, count & 0xFF))
    if count == 0:
        return header

    deltas = arr.copy()
    deltas[1:] ^= arr[:-1]
    # Little-endian bytes unpacked LSB first: bit c of delta r is bits[32 * r + c].
    bits = np.unpackbits(deltas.astype("<u4").view(np.uint8), bitorder="little")
    # Flat index 32 * item + bit: per item, set bits in ascending order.
    set_bits = np.flatnonzero(bits.view(np.bool_))
    rows = set_bits >> 5
    positions = (set_bits & 31) + 1
    previous = np.zeros_like(positions)
    previous[1:] = positions[:-1]
    first_in_item = np.ones(rows.size, dtype=bool)
    first_in_item[1:] = rows[1:] != rows[:-1]
    previous[first_in_item] = 0
    gaps = positions - previous

    # Each item contributes its gaps then a 0 terminator; the k-th set bit lands at index k + row
    # because every earlier item added one terminator. Terminators stay 0 from np.zeros.
    normal = np.zeros(rows.size + count, dtype=np.uint8)
    normal[np.arange(rows.size) + rows] = np.minimum(gaps, _MAX_NORMAL)
    exceptions = (gaps[gaps >= _MAX_NORMAL] - _MAX_NORMAL).astype(np.uint8)
    return header + _pack(normal, _NORMAL_BITS) + _pack(exceptions, _EXCEPTION_BITS)


def encode_fingerprint_base64(
    items: Sequence[int] | npt.NDArray[np.integer], algorithm: int = 1
) -> str:
    """Compress fingerprint items into Chromaprint's text form (URL-safe base64, no padding)."""
    raw = encode_fingerprint(items, algorithm)
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def decode_fingerprint(data: bytes | bytearray | memoryview) -> tuple[_U32, int]:
    """Decompress Chromaprint's binary format into (uint32 items, algorithm id).

    Raises :class:`InvalidFingerprint` for input shorter than the header, longer than
    :data:`MAX_FINGERPRINT_BYTES`, too short for either stream, or describing an item with a set
    bit beyond bit 31 (libchromaprint would shift out of range there). Trailing bytes after the
    exception stream are ignored. A count of 0 yields an empty array whatever follows.
    """
    if isinstance(data, memoryview):
        data = data.tobytes()  # whatever its item format, work on its bytes
    elif not isinstance(data, bytes | bytearray):
        raise InvalidFingerprint(f"expected bytes, got {type(data).__name__}")
    size = len(data)
    if size < _HEADER_SIZE:
        raise InvalidFingerprint(f"fingerprint is {size} bytes, shorter than its 4-byte header")
    if size > MAX_FINGERPRINT_BYTES:
        raise InvalidFingerprint(f"fingerprint is {size} bytes, over {MAX_FINGERPRINT_BYTES}")
    algorithm = data[0]
    count = (data[1] << 16) | (data[2] << 8) | data[3]
    if count == 0:
        return np.zeros(0, dtype=np.uint32), algorithm

    # Every item needs at least its 3-bit terminator: reject impossible counts before allocating.
    if (size - _HEADER_SIZE) * 8 < count * _NORMAL_BITS:
        raise InvalidFingerprint(f"{size} bytes cannot hold {count} items")
    return _decode_items(memoryview(data)[_HEADER_SIZE:], count), algorithm


_TRUNCATED_NORMAL: Final = "fingerprint is truncated (normal stream too short)"
_TRUNCATED_EXCEPTIONS: Final = "fingerprint is truncated (exception stream too short)"
_BIT_RANGE: Final = "fingerprint sets a bit beyond bit 31"


def decode_items_numpy(body: memoryview, count: int) -> _U32:
    """The ``count`` items of a fingerprint's body (the bytes after its header), with numpy."""
    data = np.frombuffer(body, dtype=np.uint8)
    # An item has at most 33 values, so never look further than that for the terminators.
    scan = data[: -(-count * _MAX_VALUES_PER_ITEM * _NORMAL_BITS // 8)]
    values = _unpack(scan, _NORMAL_BITS)
    is_end = values == 0
    ends = np.flatnonzero(is_end)
    if ends.size < count:
        raise InvalidFingerprint(_TRUNCATED_NORMAL)
    used = int(ends[count - 1]) + 1
    ends = ends[:count]
    values = values[:used]
    is_end = is_end[:used]

    exception_at = np.flatnonzero(values == _MAX_NORMAL)
    n_exceptions = exception_at.size
    exc_start = -(-used * _NORMAL_BITS // 8)
    exc_bytes = -(-n_exceptions * _EXCEPTION_BITS // 8)
    if data.size < exc_start + exc_bytes:
        raise InvalidFingerprint(_TRUNCATED_EXCEPTIONS)
    gaps = values.astype(np.int32)
    if n_exceptions:
        exceptions = _unpack(data[exc_start : exc_start + exc_bytes], _EXCEPTION_BITS)
        gaps[exception_at] += exceptions[:n_exceptions]

    # Bit position (1-based) of every value inside its item: the running sum of gaps minus the
    # running sum at the latest terminator. Including the terminator itself gives it position 0.
    running = np.cumsum(gaps)
    positions = running - np.maximum.accumulate(np.where(is_end, running, 0))
    if int(positions.max()) > 32:
        # libchromaprint shifts out of range here (undefined behaviour); we refuse.
        raise InvalidFingerprint(_BIT_RANGE)
    # (1 << p) >> 1 is 1 << (p - 1) for set bits and 0 for terminators (p == 0).
    bit_values = (np.left_shift(np.uint64(1), positions.astype(np.uint64))) >> np.uint64(1)
    # Positions strictly increase inside an item, so the sum of an item's bits is their OR:
    # an item's XOR-delta is the difference of the running bit sum at consecutive terminators.
    totals = np.cumsum(bit_values)[ends]
    deltas = totals.copy()
    deltas[1:] -= totals[:-1]
    return np.bitwise_xor.accumulate(deltas.astype(np.uint32))


def decode_items_native(body: memoryview, count: int) -> _U32:
    """:func:`decode_items_numpy` in C: same items, same errors (needs :data:`NATIVE`)."""
    items = np.empty(count, dtype=np.uint32)
    status = _native.decode(body, count, items)
    if status != _native.DECODE_OK:
        raise InvalidFingerprint(_NATIVE_ERRORS[status])
    return items


_NATIVE_ERRORS: Final = (
    {
        _native.DECODE_NORMAL_SHORT: _TRUNCATED_NORMAL,
        _native.DECODE_EXCEPTION_SHORT: _TRUNCATED_EXCEPTIONS,
        _native.DECODE_BIT_RANGE: _BIT_RANGE,
    }
    if NATIVE
    else {}
)
_decode_items: Final = decode_items_native if NATIVE else decode_items_numpy


def _base64_to_bytes(text: str | bytes) -> bytes:
    """Decode Chromaprint base64 text strictly (see :func:`decode_fingerprint_base64`)."""
    too_long = f"fingerprint text is over {MAX_FINGERPRINT_BASE64_LENGTH} characters"
    if isinstance(text, str):
        if len(text) > MAX_FINGERPRINT_BASE64_LENGTH:  # check before encoding a huge string
            raise InvalidFingerprint(too_long)
        try:
            raw = text.encode("ascii")
        except UnicodeEncodeError:
            raise InvalidFingerprint("fingerprint text has non-ASCII characters") from None
    elif isinstance(text, bytes | bytearray | memoryview):
        raw = bytes(text)
    else:
        raise InvalidFingerprint(f"expected str or bytes, got {type(text).__name__}")
    if len(raw) > MAX_FINGERPRINT_BASE64_LENGTH:
        raise InvalidFingerprint(too_long)

    stripped = raw.rstrip(b"=")
    padding = len(raw) - len(stripped)
    if padding and (padding > 2 or len(raw) % 4):
        raise InvalidFingerprint("fingerprint text has malformed '=' padding")
    if stripped.translate(None, _B64_ALPHABET):
        raise InvalidFingerprint("fingerprint text has characters outside the base64 alphabet")
    if len(stripped) % 4 == 1:
        # A lone final character carries 6 bits, not a whole byte.
        raise InvalidFingerprint("fingerprint text has an impossible length")
    canonical = stripped.translate(_URLSAFE_TO_STANDARD) + b"=" * (-len(stripped) % 4)
    try:
        return binascii.a2b_base64(canonical)
    except binascii.Error as exc:  # pragma: no cover - excluded by the checks above
        raise InvalidFingerprint(f"fingerprint text is not base64: {exc}") from None


def decode_fingerprint_base64(text: str | bytes) -> tuple[_U32, int]:
    """Decode Chromaprint's base64 text form into (uint32 items, algorithm id).

    Accepted alphabet: ``A-Z a-z 0-9 - _`` (what Chromaprint writes) plus the standard
    alphabet's ``+`` and ``/``; ``=`` padding is tolerated only at the end and only when it is
    well-formed. Anything else, including whitespace, is rejected with
    :class:`InvalidFingerprint` (libchromaprint silently decodes unknown characters as 0; a server
    should say clearly that the input is wrong). Callers strip surrounding whitespace if they want.
    Unused low bits of the last character are ignored, as libchromaprint does. Text longer than
    :data:`MAX_FINGERPRINT_BASE64_LENGTH` is rejected before any decoding.
    """
    return decode_fingerprint(_base64_to_bytes(text))
