"""The web service of a data directory, in this process: ``earmark identify`` and
``earmark import-audio`` without ``--server``.

The caller (the CLI, through :func:`earmark.app.local_service`) builds the real API app over
the data directory; :func:`in_process` runs its ASGI lifespan (httpx does not) and hands the
same :class:`~earmark.library.client.WebServiceClient` used for remote servers a transport to
it: one code path for local and remote use, and the local mode checks the API as much as the
remote one. Submissions made this way are stored as pending; the importer (``earmark serve``
or ``earmark run importer``) imports them.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass

import httpx
from starlette.types import ASGIApp, Message

from earmark.errors import EarmarkError
from earmark.settings import Settings

#: The base URL of the in-process app (never resolved: the transport is the app itself).
LOCAL_URL = "http://earmark.local"


@dataclass(frozen=True)
class Keys:
    client: str
    user: str


@dataclass(frozen=True)
class LocalService:
    """What a client needs to talk to the in-process app."""

    transport: httpx.AsyncBaseTransport
    base_url: str
    keys: Keys


#: Builds the data directory's in-process service (``earmark.app.local_service``).
LocalFactory = Callable[[Settings], AbstractAsyncContextManager[LocalService]]


@asynccontextmanager
async def in_process(app: ASGIApp, keys: Keys) -> AsyncIterator[LocalService]:
    """Run ``app``'s lifespan and yield a transport to it."""
    async with Lifespan(app):
        yield LocalService(httpx.ASGITransport(app=app), LOCAL_URL, keys)


class Lifespan:
    """Runs an ASGI app's lifespan protocol (startup on enter, shutdown on exit)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._to_app: asyncio.Queue[Message] = asyncio.Queue()
        self._from_app: asyncio.Queue[Message] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Lifespan:
        scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
        self._task = asyncio.create_task(
            self.app(scope, self._to_app.get, self._from_app.put)  # type: ignore[arg-type]
        )
        await self._to_app.put({"type": "lifespan.startup"})
        await self._expect("lifespan.startup.complete")
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._to_app.put({"type": "lifespan.shutdown"})
        await self._expect("lifespan.shutdown.complete")
        assert self._task is not None
        await self._task

    async def _expect(self, wanted: str) -> None:
        assert self._task is not None
        getter = asyncio.ensure_future(self._from_app.get())
        await asyncio.wait({getter, self._task}, return_when=asyncio.FIRST_COMPLETED)
        if not getter.done():
            getter.cancel()
            self._task.result()  # raises the app's error
            raise EarmarkError(f"the API app stopped during its lifespan (wanted {wanted})")
        message = getter.result()
        if message["type"] != wanted:
            raise EarmarkError(f"the API app failed: {message.get('message', message['type'])}")
