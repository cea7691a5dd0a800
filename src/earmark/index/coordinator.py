"""`earmark run index --coordinator`: the reference's coordinator protocol (spec §6.3) over
a changelog kept in NATS JetStream (:mod:`earmark.index.cluster.changelog`).

Bodies are msgpack only; errors are plain-text bodies with status 400, 404, 409, 410 (413 for
a body over the limit, where the reference answers 500) and 503 while JetStream is out of
reach. Reads never block: ``r`` (retry_after_ms) is 0 after a full page, else 1000.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import msgpack
import nats
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from earmark.http_limits import HttpLimits
from earmark.http_protocol import protocol_class
from earmark.index import codec
from earmark.index.api import BODY_LIMIT, read_body
from earmark.index.cluster.changelog import DEFAULT_READ, MAX_READ, Changelog, ChangelogError
from earmark.index.cluster.node import NATS_ERRORS
from earmark.index.codec import IndexApiError, IndexFormat
from earmark.index.engine import EngineError
from earmark.index.engine.index import validate_changes
from earmark.index.engine.lineage import is_valid_name
from earmark.index.server import render_front_error

log = logging.getLogger(__name__)
MSGPACK = "application/vnd.msgpack"
IDLE_RETRY_MS = 1000


@dataclass(frozen=True)
class CoordinatorConfig:
    nats_url: str
    prefix: str
    host: str = "127.0.0.1"
    port: int = 6080
    stream_replicas: int = 1
    http: HttpLimits = field(default_factory=HttpLimits)


def _packed(obj: object) -> Response:
    data: bytes = msgpack.packb(obj, use_bin_type=True)
    return Response(data, media_type=MSGPACK)


def _fail(status: int, message: str) -> Response:
    return PlainTextResponse(message + "\n", status_code=status)


def _query_int(request: Request, name: str, default: int | None) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        if default is None:
            raise ChangelogError(400, f"missing {name}")
        return default
    if not raw.isdigit() or len(raw) > 19:
        raise ChangelogError(400, f"bad {name}")
    return int(raw)


def _lineage(request: Request) -> tuple[str, int]:
    name: str = request.path_params["index"]
    gen: str = request.path_params["gen"]
    if not is_valid_name(name):
        raise ChangelogError(400, "bad index name")
    if not gen.isdigit() or len(gen) > 19:
        raise ChangelogError(400, "bad generation")
    return name, int(gen)


class CoordinatorApi:
    def __init__(self) -> None:
        self._log: Changelog | None = None

    @property
    def log(self) -> Changelog:
        if self._log is None:
            raise ChangelogError(503, "ReplicationUnavailable")
        return self._log

    def routes(self) -> list[Route]:
        g = self._guard
        return [
            Route("/_health", self.health, methods=["GET", "HEAD"]),
            Route("/_changelog/{index}/{gen}", g(self.append), methods=["POST"]),
            Route("/_changelog/{index}/{gen}", g(self.read), methods=["GET"]),
            Route("/_index/{index}", g(self.index), methods=["PUT", "DELETE"]),
            Route("/_meta", g(self.meta), methods=["GET"]),
            Route("/_bootstrap/{index}/{gen}", g(self.bootstrap), methods=["GET"]),
            Route("/_truncate/{index}/{gen}", g(self.truncate), methods=["POST"]),
        ]

    def _guard(self, handler: Any) -> Any:
        async def endpoint(request: Request) -> Response:
            try:
                response: Response = await handler(request)
                return response
            except ChangelogError as exc:
                return _fail(exc.status, str(exc))
            except (IndexApiError, EngineError) as exc:
                return _fail(codec.status_of(exc.name), f"{exc.name}: {exc}")
            except NATS_ERRORS as exc:
                return _fail(503, f"ReplicationUnavailable: {exc!r}")

        return endpoint

    async def health(self, request: Request) -> Response:
        if self._log is None or not self._connected():
            return _fail(503, "ReplicationUnavailable")
        return PlainTextResponse("OK\n")

    def _connected(self) -> bool:
        nc = getattr(self.log.js, "_nc", None)
        return bool(nc is not None and nc.is_connected)

    async def append(self, request: Request) -> Response:
        name, gen = _lineage(request)
        body = await read_body(request, BODY_LIMIT)
        obj = codec.decode(body, IndexFormat.MSGPACK)
        f = codec.fields(obj, IndexFormat.MSGPACK, ("changes", "expected"))
        if "changes" not in f:
            raise ChangelogError(400, "missing changes")
        changes = codec.parse_changes(f["changes"], IndexFormat.MSGPACK)
        validate_changes(changes)
        expected = f.get("expected")
        if expected is not None:
            expected = codec.u64(expected, "expected")
        last = await self.log.append(name, gen, changes, expected)
        return _packed({"i": last})

    async def read(self, request: Request) -> Response:
        name, gen = _lineage(request)
        after = _query_int(request, "after", 0)
        limit = min(_query_int(request, "max", DEFAULT_READ), MAX_READ)
        entries = await self.log.read(name, gen, after, limit) if limit else []
        retry = 0 if limit and len(entries) == limit else IDLE_RETRY_MS
        return _packed({"e": [{"i": seq, "c": change} for seq, change in entries], "r": retry})

    async def index(self, request: Request) -> Response:
        name: str = request.path_params["index"]
        if not is_valid_name(name):
            raise ChangelogError(400, "bad index name")
        if request.method == "PUT":
            return _packed({"g": await self.log.create_index(name)})
        return _packed({"p": await self.log.delete_index(name)})

    async def meta(self, request: Request) -> Response:
        after = _query_int(request, "after", 0)
        limit = min(_query_int(request, "max", DEFAULT_READ), MAX_READ)
        ops = self.log.read_meta(after, limit)
        retry = 0 if limit and len(ops) == limit else IDLE_RETRY_MS
        return _packed({"o": [{"p": o.pos, "k": o.kind, "i": o.name} for o in ops], "r": retry})

    async def bootstrap(self, request: Request) -> Response:
        name, gen = _lineage(request)
        position, batches = await self.log.bootstrap(name, gen)

        async def body() -> AsyncIterator[bytes]:
            yield msgpack.packb({"p": position})
            async for changes in batches:
                if changes:
                    yield msgpack.packb(changes, use_bin_type=True)
            yield msgpack.packb([])

        return StreamingResponse(body(), media_type=MSGPACK)

    async def truncate(self, request: Request) -> Response:
        name, gen = _lineage(request)
        await self.log.truncate(name, gen, _query_int(request, "floor", None))
        return _packed({})


def create_coordinator_app(config: CoordinatorConfig) -> Starlette:
    coordinator = CoordinatorApi()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        servers = [u.strip() for u in config.nats_url.split(",") if u.strip()]
        nc = await nats.connect(
            servers=servers, name="earmark-coordinator", max_reconnect_attempts=-1
        )
        try:
            js = nc.jetstream(timeout=5.0)
            changelog = Changelog(js, config.prefix, max_payload=nc.max_payload)
            await changelog.open(config.stream_replicas)
            coordinator._log = changelog
            log.info(
                "coordinator: changelog in JetStream %s_CMETA/_CLOG, %d meta ops",
                config.prefix,
                len(changelog.ops),
            )
            yield
        finally:
            coordinator._log = None
            with contextlib.suppress(*NATS_ERRORS):
                await nc.close()

    async def not_found(request: Request, exc: Exception) -> Response:
        return _fail(404, "not found")

    return Starlette(
        routes=coordinator.routes(),
        exception_handlers={404: not_found, 405: not_found},
        lifespan=lifespan,
    )


def serve_coordinator(config: CoordinatorConfig) -> None:
    uv_config = uvicorn.Config(
        create_coordinator_app(config),
        host=config.host,
        port=config.port,
        http=protocol_class(config.http, render_front_error),
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=10,
    )
    server = uvicorn.Server(uv_config)
    log.info("coordinator listening on http://%s:%d", config.host, config.port)
    server.run()
