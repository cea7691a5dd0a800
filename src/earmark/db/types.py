"""Column types that differ between SQLite and PostgreSQL."""

from __future__ import annotations

import struct
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect

Int32Array = npt.NDArray[np.int32]

#: BIGINT on PostgreSQL; INTEGER on SQLite, where only INTEGER PRIMARY KEY autoincrements.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

#: JSONB on PostgreSQL, JSON text on SQLite.
Json = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def as_int32(values: Sequence[int] | npt.NDArray[np.integer]) -> Int32Array:
    """Fingerprint items as signed int32 (how PostgreSQL's int4[] holds them).

    Unsigned 32-bit items wrap to negative numbers; only the bit pattern matters.
    """
    array = np.asarray(values)
    if array.ndim != 1:
        raise ValueError("a fingerprint is a one-dimensional array of items")
    if array.size == 0:
        return np.zeros(0, dtype=np.int32)
    if array.dtype.kind not in "iu":
        raise ValueError("fingerprint items must be integers")
    if array.dtype == np.int32:
        return array
    wide = array.astype(np.int64)
    if wide.min() < -(2**31) or wide.max() > 2**32 - 1:
        raise ValueError("fingerprint items must fit in 32 bits")
    return wide.astype(np.uint32).view(np.int32)


class _Int4ArrayLiteral(sa.types.UserDefinedType[Any]):
    """PostgreSQL ``int4[]`` bound as its text literal (see :class:`IntArray`); read back as the
    driver's list."""

    cache_ok = True
    render_bind_cast = True

    def get_col_spec(self, **_kw: Any) -> str:
        return "INTEGER[]"


class IntArray(sa.types.TypeDecorator[Int32Array]):
    """A fingerprint: PostgreSQL ``int4[]``, on SQLite a blob of little-endian int32.

    Values go in as any integer sequence and come out as a numpy int32 array.
    """

    impl = sa.LargeBinary
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(_Int4ArrayLiteral())
        return dialect.type_descriptor(sa.LargeBinary())

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        items = as_int32(value)
        if dialect.name == "postgresql":
            # An int4[] literal: psycopg adapts a list of ints one element at a time (a regular
            # expression each, ~1.5 ms per 950-item fingerprint), the server parses this at
            # once (bench/open_data.py: the bulk insert of fingerprints went 3x faster).
            return "{" + ",".join(map(str, items.tolist())) + "}"
        return items.astype("<i4").tobytes()

    def process_result_value(self, value: Any, dialect: Dialect) -> Int32Array | None:
        if value is None:
            return None
        if isinstance(value, list):
            return np.array(value, dtype=np.int32)
        return np.frombuffer(bytes(value), dtype="<i4").astype(np.int32)


class _BinaryInt32Array(sa.types.TypeDecorator[Int32Array]):
    """Reads ``array_send(int4[])``: PostgreSQL's binary form of an int4 array (see
    :func:`fast_fingerprint`)."""

    impl = sa.LargeBinary
    cache_ok = True

    def process_result_value(self, value: Any, dialect: Dialect) -> Int32Array | None:
        return None if value is None else parse_array_send(bytes(value))


#: ``array_send``'s header: dimensions, has-nulls flag, element type; then per dimension its
#: length and lower bound; then per element its byte length and its bytes (big-endian).
_ARRAY_HEADER = struct.Struct(">iiIii")


def parse_array_send(data: bytes) -> Int32Array:
    """The items of a one-dimensional int4 array without NULLs in ``array_send`` form."""
    if len(data) >= 12 and struct.unpack_from(">i", data)[0] == 0:
        return np.zeros(0, dtype=np.int32)  # an empty array has no dimension
    if len(data) < _ARRAY_HEADER.size:
        raise ValueError(f"not an int4 array: {len(data)} bytes")
    ndim, has_nulls, _, count, _ = _ARRAY_HEADER.unpack_from(data)
    if ndim != 1 or has_nulls or count < 0 or len(data) != _ARRAY_HEADER.size + 8 * count:
        raise ValueError("not a one-dimensional int4 array without NULLs")
    pairs = np.frombuffer(data, dtype=">i4", offset=_ARRAY_HEADER.size).reshape(count, 2)
    if count and not (pairs[:, 0] == 4).all():
        raise ValueError("an int4 array element is not 4 bytes")
    return pairs[:, 1].astype(np.int32)


def fast_fingerprint(column: sa.ColumnElement[Any], dialect: str) -> sa.ColumnElement[Any]:
    """``column`` (an :class:`IntArray`) to select when reading many fingerprints, labelled
    with its own name. On PostgreSQL its binary form (``array_send``): the server formats no
    decimal text and the client parses no list of Python ints, about half the CPU of
    fetching a fingerprint on either side."""
    if dialect != "postgresql":
        return column
    name = getattr(column, "name", "fingerprint")
    return sa.type_coerce(sa.func.array_send(column), _BinaryInt32Array()).label(name)
