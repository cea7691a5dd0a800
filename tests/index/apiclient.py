"""A synchronous test client for the index ASGI app, over httpx.ASGITransport."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import msgpack
from anyio.from_thread import BlockingPortal, start_blocking_portal
from starlette.types import ASGIApp


class SyncClient:
    def __init__(self, portal: BlockingPortal, client: httpx.AsyncClient) -> None:
        self._portal = portal
        self._client = client

    def request(self, method: str, url: str, **kw: Any) -> httpx.Response:
        return self._portal.call(lambda: self._client.request(method, url, **kw))

    def get(self, url: str, **kw: Any) -> httpx.Response:
        return self.request("GET", url, **kw)

    def head(self, url: str, **kw: Any) -> httpx.Response:
        return self.request("HEAD", url, **kw)

    def put(self, url: str, **kw: Any) -> httpx.Response:
        return self.request("PUT", url, **kw)

    def post(self, url: str, **kw: Any) -> httpx.Response:
        return self.request("POST", url, **kw)

    def delete(self, url: str, **kw: Any) -> httpx.Response:
        return self.request("DELETE", url, **kw)


@contextmanager
def sync_client(app: ASGIApp) -> Iterator[SyncClient]:
    with start_blocking_portal() as portal:
        transport = httpx.ASGITransport(app=app)
        client = httpx.AsyncClient(transport=transport, base_url="http://index")
        try:
            yield SyncClient(portal, client)
        finally:
            portal.call(client.aclose)


def mp(obj: Any) -> bytes:
    return msgpack.packb(obj)


def unmp(data: bytes) -> Any:
    return msgpack.unpackb(data, raw=False)
