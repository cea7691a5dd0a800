"""Wire formats of the index HTTP API: content negotiation, JSON/MessagePack, validation.

Spec §2.1: JSON uses full field names and rejects unknown fields; MessagePack maps are keyed
by the first letter of the field name (on input only the first character is compared).
Numbers must fit their declared type (ids and hashes u32, versions u64), metadata values
must be strings. Everything is validated here, at the edge, into typed values.
"""

from __future__ import annotations

import enum
import functools
import itertools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import msgpack
import numpy as np

from earmark.index.engine import Change, Delete, Insert, SearchParams, SetMetadata
from earmark.index.engine.types import MAX_U32, U32Array

JSON_TYPE = "application/json"
MSGPACK_TYPE = "application/vnd.msgpack"
MAX_U64 = (1 << 64) - 1


class IndexFormat(enum.Enum):
    JSON = JSON_TYPE
    MSGPACK = MSGPACK_TYPE


class IndexApiError(Exception):
    """An error answered as `{"error": name}` with the status of spec §2.1."""

    def __init__(self, name: str, detail: str = "") -> None:
        super().__init__(detail or name)
        self.name = name


_STATUS = {
    "BadRequest": 400,
    "InvalidIndexName": 400,
    "InvalidFingerprintId": 400,
    "GenerationNotAllowed": 400,
    "CorruptFile": 400,  # a restore stream whose segment fails its checks
    "IndexNotFound": 404,
    "FingerprintNotFound": 404,
    "NotFound": 404,
    "MethodNotAllowed": 405,
    "VersionMismatch": 409,
    "VersionWentBackwards": 409,
    "FeedIsReadOnly": 403,
    "IndexAlreadyExists": 409,
    "OlderIndexAlreadyExists": 409,
    "NewerIndexAlreadyExists": 409,
    "RequestTimeout": 408,
    "BodyTooBig": 413,
    "RequestLineTooLong": 414,
    "HeadersTooLarge": 431,
    "UnsupportedMediaType": 415,
    "NotImplemented": 501,
    "IndexNotReady": 503,
    "SearchTimeout": 503,
    "TooManyConnections": 503,
    "ReplicationUnavailable": 503,
    "ReplicationTimeout": 503,
    "ReplicationStopped": 503,
}


def status_of(error_name: str) -> int:
    return _STATUS.get(error_name, 500)


def bad(detail: str) -> IndexApiError:
    return IndexApiError("BadRequest", detail)


# -- negotiation -----------------------------------------------------------------------------


def request_format(content_type: str | None, has_body: bool) -> IndexFormat:
    if content_type:
        media = content_type.split(";", 1)[0].strip().lower()
        if media == JSON_TYPE:
            return IndexFormat.JSON
        if media == MSGPACK_TYPE:
            return IndexFormat.MSGPACK
        raise IndexApiError("UnsupportedMediaType")
    # No Content-Type: a body is msgpack, no body means JSON (spec §2.1).
    return IndexFormat.MSGPACK if has_body else IndexFormat.JSON


def response_format(accept: str | None, request_fmt: IndexFormat | None) -> IndexFormat:
    # Only an Accept value that is exactly one of the two types counts; lists are not parsed.
    if accept == JSON_TYPE:
        return IndexFormat.JSON
    if accept == MSGPACK_TYPE:
        return IndexFormat.MSGPACK
    return request_fmt or IndexFormat.JSON


def encode(obj: object, fmt: IndexFormat) -> bytes:
    if fmt is IndexFormat.JSON:
        return json.dumps(obj, separators=(",", ":")).encode()
    data: bytes = msgpack.packb(obj, use_bin_type=True)
    return data


def decode(body: bytes, fmt: IndexFormat) -> Any:
    if not body:
        raise bad("missing body")
    try:
        if fmt is IndexFormat.JSON:
            return json.loads(body)
        return msgpack.unpackb(body, raw=False, strict_map_key=False)
    except (ValueError, msgpack.UnpackException, RecursionError) as exc:
        raise bad(f"undecodable body: {exc}") from exc


# -- field access ----------------------------------------------------------------------------


def fields(obj: Any, fmt: IndexFormat, names: Sequence[str]) -> dict[str, Any]:
    """Map a decoded struct onto the field names; null values count as absent."""
    if not isinstance(obj, dict):
        raise bad("expected an object")
    out: dict[str, Any] = {}
    lookup = _lookup(tuple(names), fmt)
    for key, value in obj.items():
        if not isinstance(key, str) or not key:
            raise bad("bad field name")
        name = lookup.get(key if fmt is IndexFormat.JSON else key[0])
        if name is None:
            raise bad(f"unknown field {key!r}")
        if value is not None:
            out[name] = value
    return out


@functools.cache
def _lookup(names: tuple[str, ...], fmt: IndexFormat) -> dict[str, str]:
    if fmt is IndexFormat.JSON:
        return {n: n for n in names}
    return {n[0]: n for n in names}


def u32(value: Any, what: str) -> int:
    if type(value) is not int or not 0 <= value <= MAX_U32:
        raise bad(f"{what} must be an unsigned 32-bit integer")
    return value


def u64(value: Any, what: str) -> int:
    if type(value) is not int or not 0 <= value <= MAX_U64:
        raise bad(f"{what} must be an unsigned 64-bit integer")
    return value


def boolean(value: Any, what: str) -> bool:
    if type(value) is not bool:
        raise bad(f"{what} must be a boolean")
    return value


def hashes(value: Any) -> U32Array:
    """A list of u32."""
    return hash_lists([value])[0]


def hash_lists(values: Sequence[Any]) -> list[U32Array]:
    """Several lists of u32, checked and converted in one vectorised pass: an update of
    1000 documents x 120 hashes is one conversion, not a thousand."""
    lengths = []
    for value in values:
        if not isinstance(value, list):
            raise bad("hashes must be a list")
        lengths.append(len(value))
    flat = list(itertools.chain.from_iterable(values))
    if not flat:
        return [np.zeros(0, dtype=np.uint32) for _ in values]
    # Every element must be a plain int (not bool, float or str): set(map(type, ...)) runs in C.
    if set(map(type, flat)) != {int}:
        raise bad("hashes must be integers")
    try:
        arr = np.array(flat, dtype=np.int64)
    except OverflowError as exc:
        raise bad("hash out of range") from exc
    if int(arr.min()) < 0 or int(arr.max()) > MAX_U32:
        raise bad("hash out of range")
    arr32 = arr.astype(np.uint32)
    ends = list(itertools.accumulate(lengths))
    return [arr32[end - n : end] for n, end in zip(lengths, ends, strict=True)]


def metadata_map(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        raise bad("metadata must be an object")
    for k, v in value.items():
        if not isinstance(k, str) or not isinstance(v, str):
            raise bad("metadata keys and values must be strings")
    return dict(value)


# -- requests --------------------------------------------------------------------------------


@dataclass(frozen=True)
class CreateRequest:
    expect_does_not_exist: bool = False
    generation: int | None = None


@dataclass(frozen=True)
class DeleteRequest:
    expect_exists: bool = False


@dataclass(frozen=True)
class UpdateRequest:
    changes: list[Change]
    expected_version: int | None


def parse_create(obj: Any, fmt: IndexFormat) -> CreateRequest:
    f = fields(obj, fmt, ("expect_does_not_exist", "generation"))
    gen = f.get("generation")
    return CreateRequest(
        boolean(f.get("expect_does_not_exist", False), "expect_does_not_exist"),
        None if gen is None else u64(gen, "generation"),
    )


def parse_delete(obj: Any, fmt: IndexFormat) -> DeleteRequest:
    f = fields(obj, fmt, ("expect_exists",))
    return DeleteRequest(boolean(f.get("expect_exists", False), "expect_exists"))


def parse_search(obj: Any, fmt: IndexFormat) -> SearchParams:
    f = fields(obj, fmt, ("query", "limit", "timeout", "min_score", "score_pct"))
    if "query" not in f:
        raise bad("query is required")
    kw: dict[str, Any] = {}
    if "limit" in f:
        kw["limit"] = u32(f["limit"], "limit")
    if "timeout" in f:
        kw["timeout_ms"] = u32(f["timeout"], "timeout")
    if "min_score" in f:
        kw["min_score"] = u32(f["min_score"], "min_score")
    if "score_pct" in f:
        kw["score_pct"] = u32(f["score_pct"], "score_pct")
    return SearchParams(query=hashes(f["query"]), **kw)


def parse_fingerprint(obj: Any, fmt: IndexFormat) -> U32Array:
    f = fields(obj, fmt, ("hashes",))
    if "hashes" not in f:
        raise bad("hashes is required")
    return hashes(f["hashes"])


@dataclass(frozen=True)
class _PendingInsert:
    id: int
    hashes: Any  # converted in bulk by parse_update


def _parse_change(obj: Any, fmt: IndexFormat) -> Change | _PendingInsert:
    if not isinstance(obj, dict) or len(obj) != 1:
        raise bad("a change is an object with one key")
    ((tag, body),) = obj.items()
    if not isinstance(tag, str) or not tag:
        raise bad("bad change")
    kind = (
        tag
        if fmt is IndexFormat.JSON
        else {"i": "insert", "d": "delete", "s": "set_metadata"}.get(tag[0], "")
    )
    if kind == "insert":
        f = fields(body, fmt, ("id", "hashes"))
        if "id" not in f or "hashes" not in f:
            raise bad("insert needs id and hashes")
        return _PendingInsert(u32(f["id"], "id"), f["hashes"])
    if kind == "delete":
        f = fields(body, fmt, ("id",))
        if "id" not in f:
            raise bad("delete needs id")
        return Delete(u32(f["id"], "id"))
    if kind == "set_metadata":
        f = fields(body, fmt, ("entries",))
        entries = f.get("entries", [])
        if not isinstance(entries, list):
            raise bad("entries must be a list")
        pairs = []
        for entry in entries:
            e = fields(entry, fmt, ("key", "value"))
            key, value = e.get("key"), e.get("value")
            if not isinstance(key, str) or not isinstance(value, str):
                raise bad("metadata keys and values must be strings")
            pairs.append((key, value))
        return SetMetadata(tuple(pairs))
    raise bad(f"unknown change {tag!r}")


def parse_changes(raw_changes: Any, fmt: IndexFormat) -> list[Change]:
    """A list of changes (spec §2.4 shapes; also the coordinator's ``c``), checked."""
    if not isinstance(raw_changes, list):
        raise bad("changes must be a list")
    parsed = [_parse_change(c, fmt) for c in raw_changes]
    pending = [p for p in parsed if isinstance(p, _PendingInsert)]
    converted = iter(hash_lists([p.hashes for p in pending]))
    return [Insert(p.id, next(converted)) if isinstance(p, _PendingInsert) else p for p in parsed]


def parse_update(obj: Any, fmt: IndexFormat) -> UpdateRequest:
    f = fields(obj, fmt, ("changes", "metadata", "expected_version"))
    changes = parse_changes(f.get("changes", []), fmt)
    if "metadata" in f:
        # Folded in as one trailing op: it applies after the explicit changes (spec §2.4).
        changes.append(SetMetadata(tuple(metadata_map(f["metadata"]).items())))
    ev = f.get("expected_version")
    return UpdateRequest(changes, None if ev is None else u64(ev, "expected_version"))


# -- responses -------------------------------------------------------------------------------


def short(obj: Mapping[str, Any], fmt: IndexFormat) -> dict[str, Any]:
    """Top-level keys to their first letter for msgpack (spec §2.2 key table)."""
    if fmt is IndexFormat.JSON:
        return dict(obj)
    return {k[0]: v for k, v in obj.items()}


def search_body(results: Sequence[tuple[int, int]], fmt: IndexFormat) -> dict[str, Any]:
    if fmt is IndexFormat.JSON:
        return {"results": [{"id": i, "score": s} for i, s in results]}
    return {"r": [{"i": i, "s": s} for i, s in results]}


def error_body(name: str, fmt: IndexFormat) -> bytes:
    return encode({"error": name} if fmt is IndexFormat.JSON else {"e": name}, fmt)
