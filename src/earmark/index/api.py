"""Routes of the index HTTP API (spec §2.2), over one `MultiIndex`.

Searches run directly on the event loop: they take well under a millisecond of numpy work
and a thread hop would cost about as much again. Updates (fsync, segment building) and
snapshot streams run in the thread pool so the loop keeps answering searches meanwhile.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from earmark.index import codec
from earmark.index.cluster.state import IndexReplication, State
from earmark.index.codec import IndexApiError, IndexFormat
from earmark.index.engine import Change, CreateResult, Delete, EngineError, Insert, MultiIndex
from earmark.index.engine.lineage import is_valid_name
from earmark.index.engine.snapshot import export_snapshot
from earmark.index.engine.types import MAX_U32
from earmark.index.metrics import CONTENT_TYPE, IndexMetrics, render_replication

BODY_LIMIT = 16 << 20
_BODY_METHODS = frozenset({"PUT", "POST", "DELETE", "PATCH"})


class ClusterMember(Protocol):
    """What the API asks of a replicating node (JetStream node or coordinator replica)."""

    replica_id: str
    counters: dict[str, int]

    @property
    def connected(self) -> bool: ...

    @property
    def stopped(self) -> list[str]: ...

    def not_ready(self, name: str) -> State | None: ...

    async def report(self) -> list[IndexReplication]: ...


class ClusterWrites(Protocol):
    """The writes of a replicating node: acknowledged once replicated and applied here."""

    async def update(
        self, name: str, changes: Sequence[Change], expected_version: int | None = None
    ) -> int: ...

    async def create(
        self, name: str, *, expect_does_not_exist: bool = False, generation: int | None = None
    ) -> CreateResult: ...

    async def delete(self, name: str, *, expect_exists: bool = False) -> bool: ...


Handler = Callable[[Request, bytes, IndexFormat, IndexFormat], Awaitable[Response]]


def respond(obj: object, fmt: IndexFormat, status: int = 200) -> Response:
    return Response(codec.encode(obj, fmt), status_code=status, media_type=fmt.value)


def error_response(name: str, fmt: IndexFormat) -> Response:
    return Response(codec.error_body(name, fmt), codec.status_of(name), media_type=fmt.value)


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refusing more than `limit` bytes while reading (413 BodyTooBig)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise IndexApiError("BodyTooBig")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise IndexApiError("BodyTooBig")
        chunks.append(chunk)
    return b"".join(chunks)


def _doc_id(raw: str) -> int:
    if not raw.isdigit() or int(raw) > MAX_U32:
        raise IndexApiError("BadRequest", "bad fingerprint id")
    return int(raw)


class IndexApi:
    def __init__(
        self,
        engine: MultiIndex,
        metrics: IndexMetrics,
        *,
        body_limit: int = BODY_LIMIT,
        cluster: ClusterMember | None = None,
        writer: ClusterWrites | None = None,
    ) -> None:
        self.engine = engine
        self.metrics = metrics
        self.body_limit = body_limit
        self.cluster = cluster
        self.writer = writer

    def routes(self) -> list[Route]:
        w = self._wrap
        # A cluster node's state; standalone, /_cluster stays what it was (an index name).
        cluster = [Route("/_cluster", self.cluster_status, methods=["GET"])] if self.cluster else []
        return [
            Route("/_health", self.health, methods=["GET", "HEAD"]),
            Route("/_metrics", self.metrics_text, methods=["GET"]),
            *cluster,
            Route("/{index}/_health", self.index_health, methods=["GET", "HEAD"]),
            Route("/{index}/_search", w(self.search), methods=["POST"]),
            Route("/{index}/_update", w(self.update), methods=["POST"]),
            Route("/{index}/_status", w(self.status), methods=["GET"]),
            Route("/{index}/_snapshot", w(self.snapshot), methods=["GET"]),
            Route("/{index}/{id}", w(self.fingerprint), methods=["GET", "HEAD", "PUT", "DELETE"]),
            Route("/{index}", w(self.index), methods=["GET", "HEAD", "PUT", "DELETE"]),
        ]

    async def not_found(self, request: Request, exc: Exception) -> Response:
        name = "NotFound"
        if isinstance(exc, HTTPException) and exc.status_code == 405:
            name = "MethodNotAllowed"
        ct = request.headers.get("content-type")
        try:
            in_fmt: IndexFormat | None = codec.request_format(ct, False)
        except IndexApiError:
            in_fmt = None
        return error_response(name, codec.response_format(request.headers.get("accept"), in_fmt))

    def _wrap(self, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            accept = request.headers.get("accept")
            in_fmt: IndexFormat | None = None
            try:
                body = b""
                if request.method in _BODY_METHODS:
                    body = await read_body(request, self.body_limit)
                in_fmt = codec.request_format(request.headers.get("content-type"), bool(body))
                out_fmt = codec.response_format(accept, in_fmt)
                return await handler(request, body, in_fmt, out_fmt)
            except (IndexApiError, EngineError) as exc:
                return error_response(exc.name, codec.response_format(accept, in_fmt))

        return endpoint

    def _index_name(self, request: Request) -> str:
        name: str = request.path_params["index"]
        if not is_valid_name(name):
            raise IndexApiError("IndexNotFound")
        return name

    def _readable(self, request: Request) -> str:
        """The index name of a read; 503 IndexNotReady while a replica loads or is stopped
        (spec §6.4: no stale reads during a bootstrap)."""
        name = self._index_name(request)
        if self.cluster is not None and self.cluster.not_ready(name) is not None:
            raise IndexApiError("IndexNotReady")
        return name

    # -- service endpoints -------------------------------------------------------------------

    async def health(self, request: Request) -> Response:
        if self.cluster is not None and self.cluster.stopped:
            return PlainTextResponse("STOPPED\n", status_code=503)
        return PlainTextResponse("OK\n")

    async def metrics_text(self, request: Request) -> Response:
        text = await run_in_threadpool(self.metrics.render, self.engine)
        if self.cluster is not None:
            text += render_replication(await self.cluster.report(), self.cluster.counters)
        return Response(text, media_type=CONTENT_TYPE)

    async def cluster_status(self, request: Request) -> Response:
        """Replication state of every index (JSON); a route of cluster nodes only."""
        assert self.cluster is not None
        rows = await self.cluster.report()
        obj = {
            "replica_id": self.cluster.replica_id,
            "connected": self.cluster.connected,
            "indexes": {
                r.name: {
                    "generation": r.generation,
                    "state": r.state.value,
                    "version": r.version,
                    "stream_version": r.stream_version,
                    "lag": r.lag,
                    "pending": r.pending,
                    "error": r.error,
                }
                for r in rows
            },
        }
        return respond(obj, IndexFormat.JSON)

    async def index_health(self, request: Request) -> Response:
        name = request.path_params["index"]
        state = self.cluster.not_ready(name) if self.cluster is not None else None
        if state is not None:  # spec §6.4: 503 LOADING while a bootstrap fills the index
            return PlainTextResponse(f"{state.value}\n", status_code=503)
        if self.engine.exists(name):
            return PlainTextResponse("OK\n")
        return Response(b"", status_code=404)

    # -- indexes -----------------------------------------------------------------------------

    async def index(
        self, request: Request, body: bytes, fmt: IndexFormat, out: IndexFormat
    ) -> Response:
        method = request.method
        raw_name: str = request.path_params["index"]
        if method == "PUT":
            req = (
                codec.parse_create(codec.decode(body, fmt), fmt) if body else codec.CreateRequest()
            )
            if self.writer is not None:
                result = await self.writer.create(
                    raw_name,
                    expect_does_not_exist=req.expect_does_not_exist,
                    generation=req.generation,
                )
            else:
                result = await run_in_threadpool(
                    self.engine.create,
                    raw_name,
                    expect_does_not_exist=req.expect_does_not_exist,
                    generation=req.generation,
                )
            obj: dict[str, object] = {
                "version": result.version,
                "ready": result.ready,
                "generation": result.generation,
            }
            return respond(codec.short(obj, out), out)
        name = self._index_name(request)
        if method == "DELETE":
            dreq = (
                codec.parse_delete(codec.decode(body, fmt), fmt) if body else codec.DeleteRequest()
            )
            if self.writer is not None:
                deleted = await self.writer.delete(name, expect_exists=dreq.expect_exists)
            else:
                deleted = await run_in_threadpool(
                    self.engine.delete, name, expect_exists=dreq.expect_exists
                )
            if deleted:
                self.metrics.forget(name)
            return respond(codec.short({"deleted": deleted}, out), out)
        if method == "HEAD":
            return Response(b"", status_code=200 if self.engine.exists(name) else 404)
        info = self.engine.get(self._readable(request)).info()
        s = info.stats
        stats = {
            "min_doc_id": s.min_doc_id,
            "max_doc_id": s.max_doc_id,
            "num_segments": s.num_segments,
            "num_docs": s.num_docs,
        }
        obj = {
            "version": info.version,
            "metadata": dict(info.metadata),
            "stats": stats,
        }
        return respond(codec.short(obj, out), out)

    async def status(
        self, request: Request, body: bytes, fmt: IndexFormat, out: IndexFormat
    ) -> Response:
        st = self.engine.get(self._readable(request)).status()
        obj = {"generation": st.generation, "version": st.version, "file_version": st.file_version}
        return respond(codec.short(obj, out), out)

    async def snapshot(
        self, request: Request, body: bytes, fmt: IndexFormat, out: IndexFormat
    ) -> Response:
        index = self.engine.get(self._readable(request))
        return StreamingResponse(export_snapshot(index), media_type="application/octet-stream")

    # -- documents ---------------------------------------------------------------------------

    async def search(
        self, request: Request, body: bytes, fmt: IndexFormat, out: IndexFormat
    ) -> Response:
        name = self._readable(request)
        index = self.engine.get(name)
        params = codec.parse_search(codec.decode(body, fmt), fmt)
        start = time.perf_counter()
        results = index.search(params)
        self.metrics.search_done(name, time.perf_counter() - start, bool(results))
        return respond(codec.search_body([(r.id, r.score) for r in results], out), out)

    async def update(
        self, request: Request, body: bytes, fmt: IndexFormat, out: IndexFormat
    ) -> Response:
        name = self._index_name(request)
        if self.writer is not None:
            # The writer looks the index up itself, after its own refusals: a read-only
            # replica answers 403 FeedIsReadOnly even for an index it has not caught up on.
            req = await run_in_threadpool(lambda: codec.parse_update(codec.decode(body, fmt), fmt))
            version = await self.writer.update(name, req.changes, req.expected_version)
        else:
            index = self.engine.get(name)

            def work() -> int:
                req = codec.parse_update(codec.decode(body, fmt), fmt)
                return index.update(req.changes, req.expected_version)

            version = await run_in_threadpool(work)
        self.metrics.update_done(name)
        return respond(codec.short({"version": version}, out), out)

    async def fingerprint(
        self, request: Request, body: bytes, fmt: IndexFormat, out: IndexFormat
    ) -> Response:
        method = request.method
        name = self._readable(request) if method in ("GET", "HEAD") else self._index_name(request)
        # A cluster writer looks the index up after its own refusals (see update).
        local = (
            None
            if self.writer is not None and method not in ("GET", "HEAD")
            else (self.engine.get(name))
        )
        doc_id = _doc_id(request.path_params["id"])
        if method in ("GET", "HEAD"):
            assert local is not None
            try:
                version = local.get_document(doc_id)
            except EngineError:
                if method == "HEAD":
                    return Response(b"", status_code=404)
                raise
            if method == "HEAD":
                return Response(b"", status_code=200)
            return respond(codec.short({"version": version}, out), out)
        change: Any
        if method == "PUT":
            hashes = codec.parse_fingerprint(codec.decode(body, fmt), fmt)
            change = Insert(doc_id, hashes)
        else:
            change = Delete(doc_id)
        if local is None:
            assert self.writer is not None
            await self.writer.update(name, [change])
        else:
            await run_in_threadpool(local.update, [change])
        self.metrics.update_done(name)
        return respond({}, out)
