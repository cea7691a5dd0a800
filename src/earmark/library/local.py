"""The web service of a data directory, in this process: ``earmark identify`` and
``earmark import-audio`` without ``--server``.

The real API app (:func:`earmark.api.app.create_app`) is built over the data directory's
databases, index and mirror, and the same :class:`~earmark.library.client.WebServiceClient`
talks to it through ``httpx.ASGITransport``: one code path for local and remote use, and the
local mode checks the API as much as the remote one. Rate limits are off (the only client is
this process). The data directory is the all-in-one service's (:mod:`earmark.embedded`:
SQLite, index and queue in the directory, whatever the settings say for production) and its
administrator's keys are used unless others are given. The ASGI lifespan is driven here
(httpx does not), so the app's queue starts and stops as under a server.

Submissions made this way are stored as pending; the importer (``earmark serve`` or ``earmark
run importer``) imports them.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass

import httpx
import sqlalchemy as sa
from starlette.types import ASGIApp, Message

from earmark import embedded
from earmark.api.app import create_app
from earmark.app import api_services, open_databases, open_index
from earmark.counters import open_backends
from earmark.db import migrate
from earmark.db.engine import Databases
from earmark.embedded import DataDirError
from earmark.errors import EarmarkError
from earmark.importer.backends import open_queue
from earmark.musicbrainz.schema import MusicBrainzDatabase
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


def unlimited(settings: Settings) -> Settings:
    """The settings with every rate limit off."""
    return dataclasses.replace(
        settings,
        rate_limit_application=0.0,
        rate_limit_global=0.0,
        rate_limit_ip=0.0,
        rate_limit_user=0.0,
        rate_limit_overrides="",
    )


def check_initialised(settings: Settings, dbs: Databases) -> None:
    """Raise :class:`DataDirError` unless the databases are at the newest migration (an older
    data directory is upgraded by ``earmark serve``, never behind its back by a lookup)."""
    if not migrate.is_current(dbs):
        raise DataDirError(
            f"data directory {settings.data_dir} is at an older schema: run "
            f"`earmark serve --data-dir {settings.data_dir}` once to upgrade it"
        )


def open_mirror(settings: Settings) -> MusicBrainzDatabase | None:
    """The MusicBrainz mirror when one is loaded (an absent SQLite file is not created)."""
    default = not str(settings.musicbrainz_database_url)
    if default and not (settings.data_dir / "musicbrainz.db").exists():
        return None
    mirror = MusicBrainzDatabase.from_settings(settings)
    try:
        with mirror.read() as conn:
            schema = None if conn.dialect.name == "sqlite" else mirror.schema_name
            if sa.inspect(conn).has_table("recording", schema=schema):
                return mirror
    except sa.exc.SQLAlchemyError:
        pass
    mirror.dispose()
    return None


@asynccontextmanager
async def local_service(settings: Settings) -> AsyncIterator[LocalService]:
    """Build the data directory's API app, run its lifespan, and yield a transport to it."""
    settings = unlimited(embedded.embedded_settings(settings))
    found = embedded.read_keys(settings)  # raises when the directory is not initialised
    keys = Keys(client=found.client, user=found.user)
    async with AsyncExitStack() as stack:
        dbs = open_databases(settings)
        stack.callback(dbs.dispose)
        check_initialised(settings, dbs)
        index = open_index(settings)
        stack.callback(index.close)
        counters = open_backends(str(settings.redis_url), settings.redis_prefix)
        stack.callback(counters.close)
        mirror = open_mirror(settings)
        if mirror is not None:
            stack.callback(mirror.dispose)
        services = api_services(
            settings,
            dbs=dbs,
            index=index,
            counters=counters,
            mirror=mirror,
            queue=open_queue(settings, dbs),
        )
        app = create_app(services)
        await stack.enter_async_context(Lifespan(app))
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
