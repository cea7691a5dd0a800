"""The index server: a Starlette app over one `MultiIndex`, served by uvicorn.

`create_app` builds the ASGI app around an engine the caller owns (tests drive it in-process
through httpx); `serve` is the composition used by `earmark run index`: it opens the engine,
runs uvicorn (which turns SIGTERM/SIGINT into a graceful shutdown) and closes the engine, so
every acknowledged update is in the WAL and the maintenance threads are stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

import uvicorn
from starlette.applications import Starlette

from earmark.http_limits import ErrorAnswer, HttpLimits
from earmark.http_protocol import protocol_class
from earmark.index import codec
from earmark.index.api import BODY_LIMIT, IndexApi
from earmark.index.engine import IndexSettings, MultiIndex
from earmark.index.legacy import serve_legacy
from earmark.index.metrics import IndexMetrics
from earmark.requestid import RequestIdMiddleware
from earmark.server import bound_port

if TYPE_CHECKING:  # the NATS and httpx clients: imported only by a server that replicates
    from earmark.index.cluster.node import ClusterConfig, ClusterNode
    from earmark.index.replica import CoordinatorReplica, ReplicaConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ServerConfig:
    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 6080
    legacy_port: int = 0
    body_limit: int = BODY_LIMIT
    index: IndexSettings = field(default_factory=IndexSettings)
    http: HttpLimits = field(default_factory=HttpLimits)
    cluster: ClusterConfig | None = None  # None: standalone
    replica: ReplicaConfig | None = None  # a replica of a coordinator (--coordinator-url)


#: The index server's error names for the refusals of the HTTP front (by status).
FRONT_ERRORS = {
    400: "BadRequest",
    408: "RequestTimeout",
    414: "RequestLineTooLong",
    431: "HeadersTooLarge",
    503: "TooManyConnections",
}


def render_front_error(status: int, target: bytes | None) -> ErrorAnswer:
    """A refusal of the HTTP front in the index server's format: ``{"error": name}``, JSON
    (the head that would say otherwise was not read)."""
    name = FRONT_ERRORS[status]
    headers = (("retry-after", "1"),) if status == 503 else ()
    body = codec.error_body(name, codec.IndexFormat.JSON)
    return ErrorAnswer(codec.status_of(name), codec.IndexFormat.JSON.value, body, headers)


def create_app(
    engine: MultiIndex,
    *,
    body_limit: int = BODY_LIMIT,
    legacy_host: str = "127.0.0.1",
    legacy_port: int = 0,
    cluster: ClusterConfig | None = None,
    replica: ReplicaConfig | None = None,
) -> Starlette:
    metrics = IndexMetrics()
    node: ClusterNode | None = None
    follower: CoordinatorReplica | None = None
    if replica is not None:
        from earmark.index import replica as coordinator_replica

        follower = coordinator_replica.CoordinatorReplica(engine, replica)
        api = IndexApi(engine, metrics, body_limit=body_limit, cluster=follower, writer=follower)
    elif cluster is not None:
        from earmark.index.cluster import node as cluster_node
        from earmark.index.cluster import writes as cluster_writes

        node = cluster_node.ClusterNode(engine, cluster)
        writer = cluster_writes.ClusterWriter(node)
        api = IndexApi(engine, metrics, body_limit=body_limit, cluster=node, writer=writer)
    else:
        api = IndexApi(engine, metrics, body_limit=body_limit)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if node is not None:
            await node.start()
            log.info("following the cluster streams %s_* as %s", node.feed.prefix, node.replica_id)
        if follower is not None:
            await follower.start()
            log.info("replica of the coordinator %s", replica.coordinator_url if replica else "")
        try:
            async with _legacy(engine, legacy_host, legacy_port):
                yield
        finally:
            if node is not None:
                await node.close()
            if follower is not None:
                await follower.close()

    app = Starlette(
        routes=api.routes(),
        exception_handlers={404: api.not_found, 405: api.not_found},
        lifespan=lifespan,
    )
    app.state.engine = engine
    app.state.metrics = metrics
    app.state.cluster = node or follower
    return app


@contextlib.asynccontextmanager
async def _legacy(engine: MultiIndex, legacy_host: str, legacy_port: int) -> AsyncIterator[None]:
    legacy: asyncio.Server | None = None
    if legacy_port:
        legacy = await serve_legacy(engine, legacy_host, legacy_port)
        log.info("legacy protocol on %s:%d", legacy_host, legacy_port)
    try:
        yield
    finally:
        if legacy is not None:
            legacy.close()
            await legacy.wait_closed()


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, on_started: Callable[[int], None]) -> None:
        super().__init__(config)
        self.on_started = on_started

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            self.on_started(bound_port(self.servers, self.config.port))

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        # uvicorn re-raises a captured SIGTERM once it has shut down, which would kill the
        # process before `serve` closes the engine; stop gracefully and return instead.
        if self.should_exit and sig == signal.SIGINT:
            self.force_exit = True
        else:
            self.should_exit = True


def serve(config: ServerConfig) -> None:
    engine = MultiIndex(config.data_dir, config.index)
    try:
        app = create_app(
            engine,
            body_limit=config.body_limit,
            legacy_host=config.host,
            legacy_port=config.legacy_port,
            cluster=config.cluster,
            replica=config.replica,
        )
        uv_config = uvicorn.Config(
            # The API's X-Request-Id (or a new one) on this server's log lines too.
            RequestIdMiddleware(app),
            host=config.host,
            port=config.port,
            http=protocol_class(config.http, render_front_error),
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=10,
        )
        _Server(uv_config, lambda port: _log_started(config, port, engine.names())).run()
    finally:
        engine.close()
    log.info("index server stopped; data dir %s closed", config.data_dir.resolve())


def _log_started(config: ServerConfig, port: int, names: list[str]) -> None:
    # uvicorn's own start-up lines are silenced (log_level="warning"): this is the one line
    # that says where the server listens and what it serves.
    host = f"[{config.host}]" if ":" in config.host else config.host
    log.info(
        "index server listening on http://%s:%d; data dir %s; %d %s%s",
        host,
        port,
        config.data_dir.resolve(),
        len(names),
        "index" if len(names) == 1 else "indexes",
        f" ({', '.join(names)})" if names else "",
    )
