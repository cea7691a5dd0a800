"""The catalog's endpoints. Each: keys and rate limits (:meth:`Ctx.admit`), validation of its
inputs (:mod:`earmark.catalog.params`), then the mirror's named data functions in a worker
thread; errors become the envelope in exactly one place (:func:`endpoint`)."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, ParamSpec, TypeVar

import sqlalchemy as sa
from starlette.requests import Request
from starlette.responses import Response

from earmark.catalog import errors, params
from earmark.catalog.errors import CatalogError, error_response
from earmark.catalog.limits import application_id
from earmark.catalog.services import CatalogServices
from earmark.musicbrainz import catalog_render as render
from earmark.musicbrainz.catalog import CatalogData, CatalogQuery
from earmark.musicbrainz.catalog_store import CatalogReader, MirrorReadError

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")
JSON_TYPE = "application/json"
Compute = Callable[[CatalogReader], Any]


def _json(payload: Any) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


class Ctx:
    """One request as the handlers see it."""

    def __init__(self, request: Request, services: CatalogServices) -> None:
        self.request = request
        self.services = services

    @property
    def ip(self) -> str:
        client = self.request.client
        return client.host if client else "0.0.0.0"

    async def thread(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        return await self.services.threads.run(fn, *args, **kwargs)

    async def admit(self) -> None:
        """The application of the request's key (401 when unknown), then the rate limits
        (429), or the anonymous tier's limit (401 when it is off)."""
        key = self.request.headers.get("x-api-key") or self.request.query_params.get("client")
        found: int | None = None
        if key:
            keys = self.services.keys
            cached = keys.cached_application(key)
            found = (
                cached.id if cached is not None else await self.thread(application_id, keys, key)
            )
        await self.services.limits.admit(found, self.ip)

    def path_param(self, name: str) -> str:
        return str(self.request.path_params[name])

    async def answer(self, compute: Compute) -> Response:
        """``compute(reader)`` on the catalog's data as JSON, with ETag and Cache-Control; 304
        when the client's If-None-Match holds the ETag (nothing is read from the data then)."""
        state = await self.thread(self.services.state.get)
        url = self.request.url
        base = f"{state.sequence if state.sequence is not None else 0}"
        digest = hashlib.sha256(f"{url.path}?{url.query}".encode()).hexdigest()[:24]
        tag = f'"{base}-{digest}"'
        headers = {
            "ETag": tag,
            "Cache-Control": f"public, max-age={self.services.config.max_age}",
        }
        if _matches(self.request.headers.get("if-none-match", ""), tag):
            self.services.metrics.not_modified.inc()
            return Response(status_code=304, headers=headers)
        payload = await self.thread(_read, self.services, compute)
        return Response(_json(payload), headers=headers, media_type=JSON_TYPE)


def _matches(header: str, tag: str) -> bool:
    for item in header.split(","):
        item = item.strip()
        if item == "*" or item.removeprefix("W/") == tag:
            return True
    return False


def _read(services: CatalogServices, compute: Compute) -> Any:
    with services.store.read() as reader:
        return compute(reader)


Handler = Callable[[Ctx], Awaitable[Response]]


def endpoint(name: str, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """A Starlette endpoint running ``handler`` with the shared rules and metrics."""

    async def run(request: Request) -> Response:
        services: CatalogServices = request.app.state.catalog
        started = time.perf_counter()
        try:
            response = await handler(Ctx(request, services))
        except CatalogError as exc:
            services.metrics.error(name, exc.kind.name)
            response = error_response(exc)
        except sa.exc.DBAPIError as exc:
            # No mirror (not loaded, unreachable): an outage of the data, not a bug.
            log.warning("catalog %s: the mirror failed (%s)", name, " ".join(str(exc.orig).split()))
            services.metrics.error(name, errors.SERVICE_UNAVAILABLE.name)
            response = error_response(errors.unavailable("the MusicBrainz mirror is unavailable"))
        except MirrorReadError as exc:
            log.warning("catalog %s: %s", name, exc)
            services.metrics.error(name, errors.SERVICE_UNAVAILABLE.name)
            response = error_response(errors.unavailable("the MusicBrainz mirror is unavailable"))
        except Exception:
            log.exception("catalog %s: unhandled error", name)
            services.metrics.error(name, errors.INTERNAL.name)
            response = error_response(errors.internal())
        services.metrics.observe(name, response.status_code, time.perf_counter() - started)
        return response

    return run


# --- lookups ------------------------------------------------------------------------------


#: How the answers name each kind of entity.
_PUBLIC_NAMES = {
    "track": "track",
    "recording": "recording",
    "release": "album",
    "release_group": "release group",
    "artist": "artist",
}


def _one(kind: str, asked: str, data: CatalogData) -> str:
    """The current MBID of ``asked`` (itself, or the one it was merged into); 404 else."""
    current = data.resolved.get(kind, {}).get(asked)
    if current is None:
        raise errors.not_found(_PUBLIC_NAMES[kind], asked)
    return current


async def lookup_isrc(ctx: Ctx) -> Response:
    await ctx.admit()
    code = params.isrc(ctx.path_param("isrc"))

    def compute(reader: CatalogReader) -> Any:
        data = reader.load(CatalogQuery(isrcs=[code]))
        return render.tracks(data, data.isrc_tracks.get(code, ()))

    return await ctx.answer(compute)


async def lookup_track(ctx: Ctx) -> Response:
    await ctx.admit()
    asked = params.mbid(ctx.path_param("id"))

    def compute(reader: CatalogReader) -> Any:
        data = reader.load(CatalogQuery(tracks=[asked]))
        return render.track(data, data.tracks[_one("track", asked, data)])

    return await ctx.answer(compute)


async def lookup_recording(ctx: Ctx) -> Response:
    await ctx.admit()
    asked = params.mbid(ctx.path_param("id"))

    def compute(reader: CatalogReader) -> Any:
        data = reader.load(CatalogQuery(recordings=[asked]))
        return render.recording(data, data.recordings[_one("recording", asked, data)])

    return await ctx.answer(compute)


async def lookup_album(ctx: Ctx) -> Response:
    await ctx.admit()
    asked = params.mbid(ctx.path_param("id"))

    def compute(reader: CatalogReader) -> Any:
        data = reader.load(CatalogQuery(releases=[asked]))
        return render.album(data.releases[_one("release", asked, data)])

    return await ctx.answer(compute)


async def lookup_album_tracks(ctx: Ctx) -> Response:
    await ctx.admit()
    asked = params.mbid(ctx.path_param("id"))

    def compute(reader: CatalogReader) -> Any:
        data = reader.load(CatalogQuery(releases=[asked], release_tracks=True))
        current = _one("release", asked, data)
        return render.tracks(data, data.release_tracks.get(current, ()), with_album=False)

    return await ctx.answer(compute)


async def lookup_release_group(ctx: Ctx) -> Response:
    await ctx.admit()
    asked = params.mbid(ctx.path_param("id"))

    def compute(reader: CatalogReader) -> Any:
        data = reader.load(CatalogQuery(release_groups=[asked]))
        current = _one("release_group", asked, data)
        return render.release_group(data, data.release_groups[current])

    return await ctx.answer(compute)


async def lookup_artist(ctx: Ctx) -> Response:
    await ctx.admit()
    asked = params.mbid(ctx.path_param("id"))

    def compute(reader: CatalogReader) -> Any:
        data = reader.load(CatalogQuery(artists=[asked]))
        return render.artist(data.artists[_one("artist", asked, data)])

    return await ctx.answer(compute)


async def lookup_barcode(ctx: Ctx) -> Response:
    await ctx.admit()
    code = params.barcode(ctx.path_param("upc"))

    def compute(reader: CatalogReader) -> Any:
        data = reader.load(CatalogQuery(barcodes=[code]))
        return [render.album(data.releases[r]) for r in data.barcode_releases.get(code, ())]

    return await ctx.answer(compute)


# --- search ---------------------------------------------------------------------------------

#: What each search kind loads for its matches.
_SEARCH_QUERY: dict[str, Callable[[tuple[str, ...]], CatalogQuery]] = {
    "track": lambda ids: CatalogQuery(tracks=ids),
    "album": lambda ids: CatalogQuery(releases=ids),
    "artist": lambda ids: CatalogQuery(artists=ids),
}


def _search(kind: str) -> Handler:
    async def handler(ctx: Ctx) -> Response:
        await ctx.admit()
        found = params.search(ctx.request.query_params)

        def compute(reader: CatalogReader) -> Any:
            page = _search_page(ctx.services, reader, kind, found)
            data = reader.load(_SEARCH_QUERY[kind](page))
            if kind == "track":
                results = [render.track(data, data.tracks[i]) for i in page if i in data.tracks]
            elif kind == "album":
                results = [render.album(data.releases[i]) for i in page if i in data.releases]
            else:
                results = [render.artist(data.artists[i]) for i in page if i in data.artists]
            return {
                "query": found.query,
                "limit": found.limit,
                "offset": found.offset,
                "results": results,
            }

        return await ctx.answer(compute)

    return handler


def _search_page(
    services: CatalogServices, reader: CatalogReader, kind: str, found: params.CatalogSearch
) -> tuple[str, ...]:
    try:
        return reader.search(kind, found.terms, found.limit, found.offset).mbids
    except (sa.exc.OperationalError, sa.exc.ProgrammingError):
        with services.store.read() as fresh:
            if not fresh.index_ready():
                raise errors.unavailable(
                    "the search index is not built: run `earmark catalog index`"
                ) from None
        raise


search_track = _search("track")
search_album = _search("album")
search_artist = _search("artist")


# --- batch ----------------------------------------------------------------------------------

#: Body list → (kind of CatalogData.resolved, CatalogQuery field).
_BATCH_KINDS = {
    "tracks": "track",
    "recordings": "recording",
    "albums": "release",
    "artists": "artist",
}


async def _body(ctx: Ctx) -> bytes:
    limit = ctx.services.config.max_body
    declared = ctx.request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise errors.too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in ctx.request.stream():
        size += len(chunk)
        if size > limit:
            raise errors.too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


async def batch_lookup(ctx: Ctx) -> Response:
    await ctx.admit()
    asked = params.batch(await _body(ctx))
    ctx.services.metrics.batch_ids.observe(asked.size)
    lists = asked.lists
    query = CatalogQuery(
        tracks=lists["tracks"],
        recordings=lists["recordings"],
        releases=lists["albums"],
        artists=lists["artists"],
        isrcs=lists["isrcs"],
    )

    def compute(reader: CatalogReader) -> Any:
        data = reader.load(query, fixed=True)
        answer: dict[str, Any] = {key: {} for key in params.BATCH_KEYS}
        missing: dict[str, list[str]] = {key: [] for key in params.BATCH_KEYS}
        for key, kind in _BATCH_KINDS.items():
            resolved = data.resolved.get(kind, {})
            for mbid in lists[key]:
                current = resolved.get(mbid)
                if current is None:
                    missing[key].append(mbid)
                elif kind == "track":
                    answer[key][mbid] = render.track(data, data.tracks[current])
                elif kind == "recording":
                    answer[key][mbid] = render.recording(data, data.recordings[current])
                elif kind == "release":
                    answer[key][mbid] = render.album_of(data, current)
                else:
                    answer[key][mbid] = render.artist(data.artists[current])
        for code in lists["isrcs"]:
            if code in data.isrc_tracks:
                answer["isrcs"][code] = render.tracks(data, data.isrc_tracks[code])
            else:
                missing["isrcs"].append(code)
        return {**answer, "not_found": missing}

    payload = await ctx.thread(_read, ctx.services, compute)
    return Response(_json(payload), media_type=JSON_TYPE, headers={"Cache-Control": "no-store"})


# --- operations -----------------------------------------------------------------------------


def _health(services: CatalogServices) -> dict[str, Any]:
    with services.store.read() as reader:
        reader.ping()
        state = reader.replication_state()
        indexed = reader.index_ready()
    date = state.last_replication_date
    age = None if date is None else max(0.0, (datetime.now(UTC) - date).total_seconds())
    return {
        "status": "ok",
        "database": "ok",
        "search_index": indexed,
        "replication": {
            "schema_sequence": state.schema_sequence,
            "sequence": state.sequence,
            "last_replication_date": None if date is None else date.isoformat(),
            "age_seconds": None if age is None else round(age),
        },
    }


async def health(ctx: Ctx) -> Response:
    try:
        payload = await ctx.thread(_health, ctx.services)
    except (sa.exc.SQLAlchemyError, MirrorReadError) as exc:
        log.warning("catalog health: the mirror does not answer (%s)", type(exc).__name__)
        raise errors.unavailable("the MusicBrainz mirror does not answer") from None
    return Response(_json(payload), media_type=JSON_TYPE, headers={"Cache-Control": "no-store"})


async def metrics(ctx: Ctx) -> Response:
    from earmark.catalog.metrics import CONTENT_TYPE

    body = ctx.services.metrics.render()
    return Response(body, media_type=CONTENT_TYPE, headers={"Cache-Control": "no-store"})
