"""Operations endpoints: health checks and Prometheus metrics (being extended)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from earmark.api.metrics import CONTENT_TYPE
from earmark.api.services import ApiServices


def _services(request: Request) -> ApiServices:
    services: ApiServices = request.app.state.services
    return services


async def health(request: Request) -> Response:
    if _services(request).health.shutting_down.is_set():
        return PlainTextResponse("shutdown in process", 503)
    return PlainTextResponse("ok")


async def metrics(request: Request) -> Response:
    return Response(_services(request).metrics.render(), media_type=CONTENT_TYPE)


def routes() -> list[BaseRoute]:
    return [
        Route("/_health", health, methods=["GET", "HEAD"]),
        Route("/_health_ro", health, methods=["GET", "HEAD"]),
        Route("/_health_docker", health, methods=["GET", "HEAD"]),
        Route("/metrics", metrics, methods=["GET"]),
    ]
