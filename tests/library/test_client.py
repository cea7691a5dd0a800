"""The web-service client against the real API app (in process, through httpx's ASGI
transport), and against scripted servers for what the real one never does on purpose."""

from __future__ import annotations

import asyncio
import email.utils
import gzip
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from earmark.chromaprint.codec import encode_fingerprint_base64
from earmark.db.engine import Databases
from earmark.library.client import (
    LOOKUP_BATCH,
    AcoustidError,
    ProtocolError,
    Query,
    ServiceUnreachableError,
    SubmitResult,
    WebServiceClient,
    normalize_base_url,
    parse_retry_after,
)
from earmark.ratelimit import Rates
from tests.api.harness import ApiHarness
from tests.importer.harness import fixture_items
from tests.services import SqliteDatabases

T = TypeVar("T")
MBID = uuid.UUID("0a7e8f2c-1b3d-4e5f-8a9b-0c1d2e3f4a5b")


def run(factory: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(factory())  # type: ignore[arg-type]


def client_of(app: Any, key: str, **kw: Any) -> WebServiceClient:
    return WebServiceClient(
        "http://testserver", key, transport=httpx.ASGITransport(app=app), rate=0, **kw
    )


def _fp(vectors: Any, name: str) -> tuple[str, int]:
    items, length = fixture_items(vectors, name)
    return encode_fingerprint_base64(items), length


def test_lookup_batches_and_maps_results(api: ApiHarness, acoustid_fixtures: Any) -> None:
    items, length = fixture_items(acoustid_fixtures, "1A")
    gid = api.add_track(items, length, mbids=[MBID])
    match = Query(*_fp(acoustid_fixtures, "1B"))
    other = Query(*_fp(acoustid_fixtures, "2"))
    # More queries than one request holds: two requests, answers in the order asked.
    queries = [other] * LOOKUP_BATCH + [match, other]

    async def go() -> list[list[dict[str, Any]]]:
        async with client_of(api.app, api.client_key) as client:
            return await client.lookup(queries, "recordingids")

    found = run(go)
    assert len(found) == len(queries)
    assert found[LOOKUP_BATCH][0]["id"] == str(gid)
    assert found[LOOKUP_BATCH][0]["recordings"] == [{"id": str(MBID)}]
    assert all(results == [] for i, results in enumerate(found) if i != LOOKUP_BATCH)


def test_submit_splits_a_refused_entry_and_reports_status(
    api: ApiHarness, acoustid_fixtures: Any
) -> None:
    fingerprint, length = _fp(acoustid_fixtures, "1A")
    good = {"fingerprint": fingerprint, "duration": str(length), "mbid": [str(MBID)]}
    tagged = {"fingerprint": fingerprint, "duration": str(length), "track": "Song", "year": "1999"}
    broken = {"fingerprint": "not a fingerprint!", "duration": str(length), "track": "x"}

    async def submit() -> Any:
        async with client_of(api.app, api.client_key) as client:
            return await client.submit(api.user_key, [good, broken, tagged])

    results = run(submit)
    assert len(results[0].ids) == 1
    assert results[0].error is None
    # A bad entry among good ones is dropped silently by the server (reference §4.1).
    assert results[1] == SubmitResult()
    assert len(results[2].ids) == 1

    async def submit_broken() -> Any:
        async with client_of(api.app, api.client_key) as client:
            return await client.submit(api.user_key, [broken, broken])

    # When nothing parses, the server refuses the request: the client splits the batch to
    # tell which entries were refused.
    refused = run(submit_broken)
    assert [r.error.code if r.error else None for r in refused] == [3, 3]
    ids = [results[0].ids[0], results[2].ids[0]]

    async def status() -> Any:
        async with client_of(api.app, api.client_key) as client:
            return await client.submission_status(ids)

    assert {s["status"] for s in run(status).values()} == {"pending"}
    api.import_pending()
    statuses = run(status)
    assert [statuses[i]["status"] for i in ids] == ["imported", "imported"]
    assert statuses[ids[0]]["result"]["id"] == statuses[ids[1]]["result"]["id"]


def test_invalid_key_is_a_typed_error(api: ApiHarness, acoustid_fixtures: Any) -> None:
    async def go() -> None:
        async with client_of(api.app, "wrong-key") as client:
            await client.lookup([Query(*_fp(acoustid_fixtures, "1A"))], "")

    with pytest.raises(AcoustidError) as caught:
        run(go)
    assert (caught.value.code, caught.value.http_status) == (4, 400)
    assert caught.value.message == "invalid API key"


@pytest.mark.slow
def test_429_waits_for_retry_after_then_succeeds(
    sqlite_databases: SqliteDatabases, tmp_path: Path, acoustid_fixtures: Any
) -> None:
    # The limits are in memory whatever the database: SQLite alone is enough.
    dbs = Databases.single(sqlite_databases.create())
    # 0.1/s over the 20 s window: two requests pass, the third is refused with Retry-After.
    h = ApiHarness(dbs, tmp_path / "index", rates=Rates(application=0.1, global_=0, ip=0))
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        await asyncio.sleep(seconds)

    try:
        query = Query(*_fp(acoustid_fixtures, "1A"))

        async def go() -> tuple[int, float]:
            async with client_of(h.app, h.client_key, sleep=sleep) as client:
                started = time.monotonic()
                for _ in range(3):
                    assert await client.lookup([query], "") == [[]]
                return client.retried, time.monotonic() - started

        retried, elapsed = run(go)
    finally:
        h.close()
        dbs.dispose()
    assert retried >= 1
    assert waits
    assert all(1 <= w <= 20 for w in waits)
    assert elapsed >= waits[0]


def test_unreachable_server() -> None:
    async def go() -> None:
        async with WebServiceClient("http://127.0.0.1:9", "key", rate=0) as client:
            await client.lookup([Query("AQAA", 10)], "")

    with pytest.raises(ServiceUnreachableError, match=r"cannot reach http://127\.0\.0\.1:9/v2"):
        run(go)


def _scripted(
    answers: list[Response], seen: list[Request], bodies: list[bytes] | None = None
) -> Starlette:
    """A server that answers the given responses in turn (the outside world misbehaving)."""

    async def endpoint(request: Request) -> Response:
        seen.append(request)
        body = await request.body()
        if bodies is not None:
            bodies.append(body)
        return answers.pop(0)

    return Starlette(routes=[Route("/v2/{name}", endpoint, methods=["POST"])])


def test_503_backs_off_then_succeeds_and_sends_gzip_form() -> None:
    unavailable = {"status": "error", "error": {"code": 13, "message": "try again later"}}
    later = email.utils.formatdate(time.time() + 1, usegmt=True)
    answers: list[Response] = [
        JSONResponse(unavailable, status_code=503),
        JSONResponse(unavailable, status_code=503, headers={"Retry-After": later}),
        JSONResponse({"status": "ok", "fingerprints": [{"index": 0, "results": [{"id": "t"}]}]}),
    ]
    seen: list[Request] = []
    bodies: list[bytes] = []
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    async def go() -> Any:
        app = _scripted(answers, seen, bodies)
        client = WebServiceClient(
            "testserver", "k", transport=httpx.ASGITransport(app=app), rate=0, sleep=sleep
        )
        async with client:
            return await client.lookup([Query("AQAB", 30)], "recordings")

    assert run(go) == [[{"id": "t"}]]
    assert len(waits) == 2
    assert waits[0] == 1.0
    assert 0 <= waits[1] <= 2
    assert seen[0].headers["content-encoding"] == "gzip"
    form = gzip.decompress(bodies[0]).decode()
    assert "format=json" in form
    assert "batch=1" in form
    assert "meta=recordings" in form
    assert "fingerprint.0=AQAB" in form
    assert "duration.0=30" in form


def test_retries_are_bounded() -> None:
    unavailable = {"status": "error", "error": {"code": 13, "message": "down"}}
    answers: list[Response] = [JSONResponse(unavailable, status_code=503) for _ in range(4)]

    async def sleep(seconds: float) -> None:
        return None

    async def go() -> None:
        client = WebServiceClient(
            "http://x",
            "k",
            transport=httpx.ASGITransport(app=_scripted(answers, [])),
            rate=0,
            retries=3,
            sleep=sleep,
        )
        async with client:
            await client.call("lookup", [])

    with pytest.raises(AcoustidError) as caught:
        run(go)
    assert caught.value.code == 13
    assert answers == []


@pytest.mark.parametrize(
    "answer",
    [
        PlainTextResponse("<html>proxy error</html>", status_code=502),
        JSONResponse([1, 2]),
        JSONResponse({"status": "maybe"}),
    ],
)
def test_not_an_acoustid_server(answer: Response) -> None:
    async def go() -> None:
        transport = httpx.ASGITransport(app=_scripted([answer], []))
        async with WebServiceClient("http://x", "k", transport=transport, rate=0) as client:
            await client.call("lookup", [])

    with pytest.raises(ProtocolError):
        run(go)


def test_hostile_ok_payloads_are_tolerated() -> None:
    answers: list[Response] = [
        JSONResponse(
            {
                "status": "ok",
                "fingerprints": [
                    {"index": 7, "results": [{"id": "out of range"}]},
                    {"index": True, "results": [{"id": "bool"}]},
                    "junk",
                    {"index": 0, "results": ["junk", {"id": "kept"}]},
                ],
            }
        ),
        JSONResponse({"status": "error", "error": "not a dict"}, status_code=400),
    ]

    async def go() -> Any:
        transport = httpx.ASGITransport(app=_scripted(answers, []))
        async with WebServiceClient("http://x", "k", transport=transport, rate=0) as client:
            found = await client.lookup([Query("AQAB", 1), Query("AQAB", 1)], "")
            with pytest.raises(AcoustidError) as caught:
                await client.call("lookup", [])
            return found, caught.value.code

    assert run(go) == ([[{"id": "kept"}], []], 0)


def test_pacing_spaces_requests() -> None:
    answers: list[Response] = [JSONResponse({"status": "ok"}) for _ in range(3)]

    async def go() -> float:
        transport = httpx.ASGITransport(app=_scripted(answers, []))
        async with WebServiceClient("http://x", "k", transport=transport, rate=20) as client:
            started = time.monotonic()
            for _ in range(3):
                await client.call("lookup", [])
            return time.monotonic() - started

    assert run(go) >= 2 / 20 - 0.01


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, None), ("", None), ("3", 3.0), ("0.5", 0.5), ("-4", 0.0), ("99999", 60.0)],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value) == expected


def test_parse_retry_after_hostile() -> None:
    assert parse_retry_after("nan") is None
    assert parse_retry_after("inf") == 60.0
    assert parse_retry_after("tomorrow-ish") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0


def test_base_url_forms() -> None:
    for url in [
        "http://h:8080",
        "http://h:8080/",
        "http://h:8080/v2",
        "http://h:8080/v2/",
        "h:8080",
    ]:
        assert normalize_base_url(url) == "http://h:8080/v2"
