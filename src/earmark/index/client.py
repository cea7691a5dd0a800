"""One client interface to the fingerprint index, two implementations.

- `LocalIndexClient` calls an in-process engine (`earmark serve`, tests);
- `HttpIndexClient` talks to an index server (`earmark run index`, or the reference
  acoustid-index) over HTTP/1.1 keep-alive with MessagePack bodies.

Both raise the engine's exceptions (`IndexNotFoundError`, `VersionMismatchError`, ...), so
callers handle errors the same way whichever is configured.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

import msgpack
import numpy as np

from earmark.index.engine import (
    Change,
    CreateResult,
    Delete,
    EngineError,
    IndexInfo,
    Insert,
    MultiIndex,
    SearchParams,
    SearchResult,
    SetMetadata,
    errors,
)
from earmark.index.engine.index import IndexStats, IndexStatus
from earmark.index.engine.search import DEFAULT_LIMIT, DEFAULT_SCORE_PCT, DEFAULT_TIMEOUT_MS
from earmark.index.keepalive import KeepAlivePool
from earmark.logs import REQUEST_ID, REQUEST_ID_HEADER
from earmark.tracing import trace_headers

MSGPACK_TYPE = "application/vnd.msgpack"


class IndexClient(Protocol):
    def create_index(
        self, name: str, *, expect_does_not_exist: bool = False, generation: int | None = None
    ) -> CreateResult: ...

    def delete_index(self, name: str, *, expect_exists: bool = False) -> bool: ...

    def index_exists(self, name: str) -> bool: ...

    def get_index(self, name: str) -> IndexInfo: ...

    def status(self, name: str) -> IndexStatus: ...

    def update(
        self,
        name: str,
        changes: Sequence[Change],
        *,
        metadata: Mapping[str, str] | None = None,
        expected_version: int | None = None,
    ) -> int: ...

    def insert(self, name: str, doc_id: int, hashes: Iterable[int]) -> None: ...

    def delete(self, name: str, doc_id: int) -> None: ...

    def get_document(self, name: str, doc_id: int) -> int: ...

    def search(
        self,
        name: str,
        query: Iterable[int],
        *,
        limit: int = DEFAULT_LIMIT,
        min_score: int | None = None,
        score_pct: int = DEFAULT_SCORE_PCT,
        timeout_ms: int = DEFAULT_TIMEOUT_MS,
    ) -> list[SearchResult]: ...

    def close(self) -> None: ...


def u32(values: Iterable[int]) -> np.ndarray[tuple[int], np.dtype[np.uint32]]:
    arr = np.asarray(list(values) if not isinstance(values, np.ndarray) else values)
    if arr.size and (arr.dtype.kind not in "iu" or arr.min() < 0 or arr.max() > 0xFFFFFFFF):
        raise ValueError("hashes must be unsigned 32-bit integers")
    return arr.astype(np.uint32)


class LocalIndexClient:
    """The client interface over an engine in this process (the caller owns the engine)."""

    def __init__(self, engine: MultiIndex) -> None:
        self.engine = engine

    def create_index(
        self, name: str, *, expect_does_not_exist: bool = False, generation: int | None = None
    ) -> CreateResult:
        return self.engine.create(
            name, expect_does_not_exist=expect_does_not_exist, generation=generation
        )

    def delete_index(self, name: str, *, expect_exists: bool = False) -> bool:
        return self.engine.delete(name, expect_exists=expect_exists)

    def index_exists(self, name: str) -> bool:
        return self.engine.exists(name)

    def get_index(self, name: str) -> IndexInfo:
        return self.engine.get(name).info()

    def status(self, name: str) -> IndexStatus:
        return self.engine.get(name).status()

    def update(
        self,
        name: str,
        changes: Sequence[Change],
        *,
        metadata: Mapping[str, str] | None = None,
        expected_version: int | None = None,
    ) -> int:
        ops = list(changes)
        if metadata:
            ops.append(SetMetadata(tuple(metadata.items())))
        return self.engine.get(name).update(ops, expected_version)

    def insert(self, name: str, doc_id: int, hashes: Iterable[int]) -> None:
        self.engine.get(name).update([Insert(doc_id, u32(hashes))])

    def delete(self, name: str, doc_id: int) -> None:
        self.engine.get(name).update([Delete(doc_id)])

    def get_document(self, name: str, doc_id: int) -> int:
        return self.engine.get(name).get_document(doc_id)

    def search(
        self,
        name: str,
        query: Iterable[int],
        *,
        limit: int = DEFAULT_LIMIT,
        min_score: int | None = None,
        score_pct: int = DEFAULT_SCORE_PCT,
        timeout_ms: int = DEFAULT_TIMEOUT_MS,
    ) -> list[SearchResult]:
        params = SearchParams(u32(query), limit, min_score, score_pct, timeout_ms)
        return self.engine.get(name).search(params)

    def close(self) -> None:
        """Nothing to release: the engine belongs to whoever built it."""


_ERRORS: dict[str, type[EngineError]] = {
    cls.name: cls
    for cls in (
        errors.IndexNotFoundError,
        errors.IndexAlreadyExistsError,
        errors.OlderIndexAlreadyExistsError,
        errors.NewerIndexAlreadyExistsError,
        errors.InvalidIndexNameError,
        errors.InvalidFingerprintIdError,
        errors.FingerprintNotFoundError,
        errors.VersionMismatchError,
        errors.SearchTimeoutError,
    )
}


class IndexServerError(EngineError):
    """An error answer without an engine counterpart (BadRequest, 5xx, ...)."""

    def __init__(self, name: str, status: int) -> None:
        super().__init__(f"index server answered {status} {name}")
        self.name = name
        self.status = status


def _encode_change(change: Change) -> dict[str, Any]:
    if isinstance(change, Insert):
        return {"i": {"i": change.id, "h": change.hashes.tolist()}}
    if isinstance(change, Delete):
        return {"d": {"i": change.id}}
    return {"s": {"e": [{"k": k, "v": v} for k, v in change.entries]}}


class HttpIndexClient:
    """The client interface over HTTP (keep-alive connection pool, MessagePack bodies).

    A server that cannot be reached or answers garbage raises
    :class:`~earmark.index.keepalive.IndexConnectionError` (an :class:`EngineError`).
    """

    def __init__(self, base_url: str, *, timeout: float = 30.0) -> None:
        self._pool = KeepAlivePool(base_url, timeout=timeout)
        self._headers = {"Content-Type": MSGPACK_TYPE, "Accept": MSGPACK_TYPE}

    def _call(
        self, method: str, path: str, body: object = None, *, repeatable: bool | None = None
    ) -> Any:
        content = None if body is None else msgpack.packb(body, use_bin_type=True)
        headers = self._headers
        request_id = REQUEST_ID.get()
        if request_id is not None:
            # The index server logs the API request's id with its own lines.
            headers = {**headers, REQUEST_ID_HEADER: request_id}
        # W3C traceparent: a tracing index server (or proxy) joins the API's trace.
        tracing = trace_headers()
        if tracing:
            headers = {**headers, **tracing}
        r = self._pool.request(method, path, content, headers, repeatable=repeatable)
        try:
            data = msgpack.unpackb(r.body, raw=False) if r.body else {}
        except (ValueError, msgpack.UnpackException) as exc:  # e.g. a proxy's HTML error page
            raise IndexServerError(r.reason or "BadResponse", r.status) from exc
        if r.status >= 400:
            name = data.get("e", "") if isinstance(data, dict) else ""
            cls = _ERRORS.get(name)
            if cls is not None:
                raise cls()
            raise IndexServerError(name or r.reason, r.status)
        return data

    def _head(self, path: str) -> bool:
        r = self._pool.request("HEAD", path, None, {})
        if r.status >= 500:
            raise IndexServerError(r.reason, r.status)
        return r.status == 200

    def create_index(
        self, name: str, *, expect_does_not_exist: bool = False, generation: int | None = None
    ) -> CreateResult:
        body: dict[str, Any] = {"e": expect_does_not_exist}
        if generation is not None:
            body["g"] = generation
        d = self._call("PUT", f"/{name}", body)
        return CreateResult(d["v"], d["r"], d["g"])

    def delete_index(self, name: str, *, expect_exists: bool = False) -> bool:
        return bool(self._call("DELETE", f"/{name}", {"e": expect_exists})["d"])

    def index_exists(self, name: str) -> bool:
        return self._head(f"/{name}")

    def get_index(self, name: str) -> IndexInfo:
        d = self._call("GET", f"/{name}")
        s = d["s"]
        stats = IndexStats(s["min_doc_id"], s["max_doc_id"], s["num_segments"], s["num_docs"])
        return IndexInfo(d["v"], d.get("m") or {}, stats)

    def status(self, name: str) -> IndexStatus:
        d = self._call("GET", f"/{name}/_status")
        return IndexStatus(d["g"], d["v"], d["f"])

    def update(
        self,
        name: str,
        changes: Sequence[Change],
        *,
        metadata: Mapping[str, str] | None = None,
        expected_version: int | None = None,
    ) -> int:
        body: dict[str, Any] = {"c": [_encode_change(c) for c in changes]}
        if metadata:
            body["m"] = dict(metadata)
        if expected_version is not None:
            body["e"] = expected_version
        return int(self._call("POST", f"/{name}/_update", body)["v"])

    def insert(self, name: str, doc_id: int, hashes: Iterable[int]) -> None:
        self._call("PUT", f"/{name}/{doc_id}", {"h": u32(hashes).tolist()})

    def delete(self, name: str, doc_id: int) -> None:
        self._call("DELETE", f"/{name}/{doc_id}")

    def get_document(self, name: str, doc_id: int) -> int:
        return int(self._call("GET", f"/{name}/{doc_id}")["v"])

    def search(
        self,
        name: str,
        query: Iterable[int],
        *,
        limit: int = DEFAULT_LIMIT,
        min_score: int | None = None,
        score_pct: int = DEFAULT_SCORE_PCT,
        timeout_ms: int = DEFAULT_TIMEOUT_MS,
    ) -> list[SearchResult]:
        body: dict[str, Any] = {
            "q": u32(query).tolist(),
            "l": limit,
            "s": score_pct,
            "t": timeout_ms,
        }
        if min_score is not None:
            body["m"] = min_score
        d = self._call("POST", f"/{name}/_search", body, repeatable=True)  # reads only
        return [SearchResult(r["i"], r["s"]) for r in d["r"]]

    def close(self) -> None:
        self._pool.close()
