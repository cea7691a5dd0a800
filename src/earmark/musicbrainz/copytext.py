"""PostgreSQL's COPY text format, the format of the files inside MusicBrainz dumps.

One row per line, columns separated by tabs, ``\\N`` for NULL, and backslash escapes for the
characters that would break the layout (``\\t``, ``\\n``, ``\\r``, ``\\\\``; also ``\\b``,
``\\f``, ``\\v``, octal ``\\NNN`` and hex ``\\xHH`` bytes). Escapes are undone on bytes, before
UTF-8 decoding, so an escaped byte sequence decodes like the raw one.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

NULL = b"\\N"
END_OF_DATA = b"\\."

_SIMPLE = {
    b"b": b"\b",
    b"f": b"\f",
    b"n": b"\n",
    b"r": b"\r",
    b"t": b"\t",
    b"v": b"\v",
}
_ESCAPE = re.compile(rb"\\(?:([0-7]{1,3})|x([0-9a-fA-F]{1,2})|(.))", re.DOTALL)


def _unescape_match(match: re.Match[bytes]) -> bytes:
    octal, hexa, other = match.groups()
    if octal is not None:
        return bytes([int(octal, 8) & 0xFF])
    if hexa is not None:
        return bytes([int(hexa, 16)])
    return _SIMPLE.get(other, other)


def unescape(field: bytes) -> bytes:
    if b"\\" not in field:
        return field
    return _ESCAPE.sub(_unescape_match, field)


def split_line(line: bytes) -> list[bytes | None]:
    """One data line (without its newline) into raw column values; None for NULL."""
    return [None if field == NULL else unescape(field) for field in line.split(b"\t")]


def parse_timestamp(text: str) -> datetime:
    """A ``timestamp with time zone`` as PostgreSQL writes it (``2013-05-27 13:28:43.19+00``)."""
    value = datetime.fromisoformat(text)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _boolean(text: str) -> bool:
    if text in ("t", "true"):
        return True
    if text in ("f", "false"):
        return False
    raise ValueError(f"{text!r} is not a boolean")


Converter = Callable[[str], Any]


def converter(column: sa.Column[Any]) -> Converter:
    """How a column's text turns into the Python value SQLAlchemy binds for its type."""
    kind = column.type
    if isinstance(kind, sa.Uuid):
        return uuid.UUID
    if isinstance(kind, sa.Boolean):
        return _boolean
    if isinstance(kind, sa.DateTime):
        return parse_timestamp
    if isinstance(kind, sa.Integer):
        return int
    if isinstance(kind, sa.String):
        return str
    raise TypeError(f"no COPY text conversion for {column.table.name}.{column.name} ({kind})")


def row_values(
    fields: Sequence[bytes | None], names: Sequence[str], converters: Sequence[Converter]
) -> dict[str, Any]:
    """Raw values of one line into a row for an INSERT (raises ValueError on bad text)."""
    return {
        name: None if raw is None else convert(raw.decode("utf-8"))
        for name, raw, convert in zip(names, fields, converters, strict=True)
    }


_CONTROL = {8: "\\b", 9: "\\t", 10: "\\n", 11: "\\v", 12: "\\f", 13: "\\r", 92: "\\\\"}


def escape(value: Any) -> bytes:
    """One value in COPY text form (what ``COPY ... TO STDOUT`` writes for it, in UTC)."""
    if value is None:
        return NULL
    if isinstance(value, bool):
        return b"t" if value else b"f"
    if isinstance(value, datetime):
        aware = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        # PostgreSQL's form: no trailing zeros in the fraction, the UTC offset as "+00".
        text = aware.strftime("%Y-%m-%d %H:%M:%S")
        if aware.microsecond:
            text += f".{aware.microsecond:06d}".rstrip("0")
        return f"{text}+00".encode()
    return str(value).translate(_CONTROL).encode("utf-8")


def format_line(values: Sequence[Any]) -> bytes:
    return b"\t".join(escape(value) for value in values) + b"\n"
