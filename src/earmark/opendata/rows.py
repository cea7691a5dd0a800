"""One stream's rows, validated into the values the importer writes (acoustid-data.md table).

A key that is missing means NULL (``json_strip_nulls``); ``disabled`` missing means false. A
row that breaks the types (a fingerprint item outside int32, a malformed UUID, an id that is
not a positive 32-bit integer) is a :class:`RowError`: reported and left out, not applied.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from dataclasses import dataclass
from typing import Any

import numpy as np

from earmark.db.types import Int32Array

INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1
#: Items of the longest fingerprint accepted (~2 hours of audio).
MAX_FINGERPRINT_ITEMS = 65_536
MAX_TEXT = 4096


class RowError(ValueError):
    """A row whose fields break the stream's types."""


@dataclass(frozen=True, slots=True)
class Row:
    """A validated upstream row: its id, its values, and a digest of what it said."""

    id: int
    values: dict[str, Any]
    digest: str
    raw: dict[str, Any]
    #: ``updated``, else ``created``, in UTC (ISO): orders the versions of one id.
    stamp: str = ""


def digest(raw: dict[str, Any], items: Int32Array | None = None) -> str:
    """A digest of what the row says; a fingerprint's items are hashed as bytes (fast)."""
    if items is not None:
        raw = {
            **raw,
            "fingerprint": hashlib.md5(items.tobytes(), usedforsecurity=False).hexdigest(),
        }
    text = json.dumps(raw, sort_keys=True, separators=(",", ":"))
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def _int(raw: dict[str, Any], name: str, *, required: bool, low: int = INT32_MIN) -> int | None:
    value = raw.get(name)
    if value is None:
        if required:
            raise RowError(f"{name} is missing")
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise RowError(f"{name} is not an integer: {value!r:.40}")
    if not low <= value <= INT32_MAX:
        raise RowError(f"{name} is out of range: {value}")
    return value


def _id(raw: dict[str, Any], name: str) -> int:
    value = _int(raw, name, required=True, low=1)
    assert value is not None
    return value


def _uuid(raw: dict[str, Any], name: str) -> uuid.UUID:
    value = raw.get(name)
    if not isinstance(value, str):
        raise RowError(f"{name} is missing or not a string")
    try:
        return uuid.UUID(value)
    except ValueError:
        raise RowError(f"{name} is not a UUID: {value!r:.40}") from None


def _time(raw: dict[str, Any], name: str) -> dt.datetime | None:
    value = raw.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 40:
        raise RowError(f"{name} is not a timestamp: {value!r:.40}")
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise RowError(f"{name} is not a timestamp: {value!r:.40}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _text(raw: dict[str, Any], name: str) -> str | None:
    value = raw.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise RowError(f"{name} is not a string")
    return value[:MAX_TEXT]


def _count(raw: dict[str, Any]) -> int:
    return _int(raw, "submission_count", required=False, low=0) or 0


def _fingerprint(raw: dict[str, Any]) -> Int32Array:
    items = raw.get("fingerprint")
    if not isinstance(items, list) or not items:
        raise RowError("fingerprint is missing or not a non-empty array")
    if len(items) > MAX_FINGERPRINT_ITEMS:
        raise RowError(f"fingerprint has more than {MAX_FINGERPRINT_ITEMS} items")
    try:
        wide = np.array(items)
    except (TypeError, ValueError, OverflowError):
        raise RowError("fingerprint holds a value that is not an integer") from None
    if wide.dtype == object:  # integers beyond 64 bits
        raise RowError("fingerprint holds a value outside int32")
    if wide.ndim != 1 or wide.dtype.kind not in "iu":
        raise RowError("fingerprint holds a value that is not an integer")
    if int(wide.min()) < INT32_MIN or int(wide.max()) > INT32_MAX:
        bad = int(wide[(wide < INT32_MIN) | (wide > INT32_MAX)][0])
        raise RowError(f"fingerprint holds a value outside int32: {bad}")
    return wide.astype(np.int32)


def _values(stream: str, raw: dict[str, Any]) -> dict[str, Any]:
    times = {"created": _time(raw, "created"), "updated": _time(raw, "updated")}
    if stream == "track":
        return {"gid": _uuid(raw, "gid"), "new_id": _int(raw, "new_id", required=False, low=1)}
    if stream == "fingerprint":
        length = _int(raw, "length", required=True, low=1)
        if length is None or length > 32767:
            raise RowError(f"length is out of range: {length}")
        return {"fingerprint": _fingerprint(raw), "length": length, "created": times["created"]}
    if stream == "meta":
        values: dict[str, Any] = {
            name: _text(raw, name) for name in ("track", "artist", "album", "album_artist")
        }
        for name in ("track_no", "disc_no", "year"):
            values[name] = _int(raw, name, required=False)
        return values | {"created": times["created"]}
    links = {"track_id": _id(raw, "track_id"), "submission_count": _count(raw)} | times
    if stream == "track_fingerprint":
        return links
    if stream == "track_mbid":
        disabled = raw.get("disabled", False)
        if not isinstance(disabled, bool):
            raise RowError("disabled is not a boolean")
        return links | {"mbid": _uuid(raw, "mbid"), "disabled": disabled}
    if stream == "track_puid":
        return links | {"puid": _uuid(raw, "puid")}
    if stream == "track_meta":
        return links | {"meta_id": _id(raw, "meta_id")}
    raise RowError(f"unknown stream {stream}")


def parse_row(stream: str, raw: dict[str, Any]) -> Row:
    """The validated row; raises RowError."""
    row_id = _id(raw, "id")
    values = _values(stream, raw)
    if stream == "track":
        values["created"] = _time(raw, "created")
        values["updated"] = _time(raw, "updated")
    when = _time(raw, "updated") or _time(raw, "created")
    stamp = when.astimezone(dt.UTC).isoformat() if when is not None else ""
    return Row(row_id, values, digest(raw, values.get("fingerprint")), raw, stamp)
