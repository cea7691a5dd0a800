"""Rate limits through the real app (reference §6): 429 envelopes with Retry-After, buckets,
the cluster-secret bypass, Redis and in-memory windows."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis
import redis.asyncio
from starlette.applications import Starlette
from starlette.routing import Route
from starlette.testclient import TestClient

from earmark.api.call import Call, Payload, endpoint
from earmark.db import accounts
from earmark.db.engine import Databases
from earmark.ratelimit import RateLimits, Rates, RedisWindow
from tests.api.harness import CLUSTER_SECRET, ApiHarness
from tests.services import REDIS_URL, RUN_ID, SqliteDatabases, require_redis

MBID = "b1a9c0e9-d987-4042-ae91-78d6a3267d69"


Factory = Callable[[Rates], ApiHarness]


@pytest.fixture
def harness(sqlite_databases: SqliteDatabases, tmp_path: Path) -> Iterator[Factory]:
    """Builds API harnesses with the given rates (closed at the end). Rate limits do not
    depend on the database engine: SQLite alone keeps these tests quick."""
    made: list[ApiHarness] = []

    def make(rates: Rates) -> ApiHarness:
        dbs = Databases.single(sqlite_databases.create())
        made.append(ApiHarness(dbs, tmp_path / f"index{len(made)}", rates=rates))
        return made[-1]

    yield make
    for h in made:
        h.close()
        h.dbs.dispose()


@pytest.fixture
def limited(harness: Factory) -> ApiHarness:
    """0.1/s per IP and application (two requests per window), the global bucket generous."""
    return harness(Rates(application=0.1, global_=1000, ip=0.1))


def metric(h: ApiHarness, line_start: str) -> str | None:
    for line in h.client.get("/metrics").text.splitlines():
        if line.startswith(line_start):
            return line.rsplit(" ", 1)[1]
    return None


def test_429_envelope_with_retry_after(limited: ApiHarness) -> None:
    path = "/v2/track/list_by_mbid"
    for _ in range(2):
        assert limited.call(path, {"mbid": MBID}).status_code == 200
    response = limited.call(path, {"mbid": MBID})
    assert response.status_code == 429
    assert response.json() == {
        "status": "error",
        "error": {
            "code": 14,
            "message": "rate limit (0.100000 requests per second) exceeded, try again later",
        },
    }
    assert 1 <= int(response.headers["retry-after"]) <= 20
    assert response.headers["access-control-allow-origin"] == "*"
    # In the requested format too.
    xml = limited.call(path, {"mbid": MBID, "format": "xml"})
    assert xml.status_code == 429
    assert "<code>14</code>" in xml.text
    assert "retry-after" in xml.headers
    assert metric(limited, 'earmark_api_rate_limited_total{bucket="ip"}') == "2.0"
    assert (
        metric(
            limited, 'earmark_api_errors_total{endpoint="list_by_mbid",error="too_many_requests"}'
        )
        == "2.0"
    )


def test_invalid_requests_are_not_rate_limited(limited: ApiHarness) -> None:
    """Validation comes first (§2): rejected parameters neither count nor get a 429."""
    for _ in range(10):
        bad = limited.call("/v2/track/list_by_mbid", {"mbid": "not-a-uuid"}).json()
        assert bad["error"]["code"] == 7
    for _ in range(2):
        assert limited.call("/v2/track/list_by_mbid", {"mbid": MBID}).status_code == 200
    assert limited.call("/v2/track/list_by_mbid", {"mbid": MBID}).status_code == 429


def test_cluster_secret_bypasses_every_bucket(limited: ApiHarness) -> None:
    for _ in range(10):
        response = limited.call("/v2/track/list_by_mbid", {"mbid": MBID, "secret": CLUSTER_SECRET})
        assert response.status_code == 200
    wrong = [
        limited.call("/v2/track/list_by_mbid", {"mbid": MBID, "secret": "guess"}).status_code
        for _ in range(3)
    ]
    assert wrong == [200, 200, 429]


def test_application_bucket_through_submission_status(harness: Factory) -> None:
    h = harness(Rates(application=0.1, ip=1000))
    params = {"client": h.client_key, "id": "1"}
    codes = [h.call("/v2/submission_status", params).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    assert metric(h, 'earmark_api_rate_limited_total{bucket="app"}') == "1.0"
    # No client key, no application bucket.
    assert h.call("/v2/track/list_by_mbid", {"mbid": MBID}).status_code == 200


def test_explicit_application_rate_skips_the_ip_bucket(harness: Factory) -> None:
    h = harness(Rates(ip=0.1))
    h.services.limits = RateLimits(
        h.services.limits.window, Rates(ip=0.1, applications={h.application_id: 50})
    )
    params = {"client": h.client_key, "id": "1"}
    assert all(h.call("/v2/submission_status", params).status_code == 200 for _ in range(10))
    codes = [h.call("/v2/track/list_by_mbid", {"mbid": MBID}).status_code for _ in range(3)]
    assert codes == [200, 200, 429]


async def probe_handler(call: Call) -> Payload:
    """A handler charging the user bucket (no real endpoint takes a user key and is cheap
    to call many times)."""
    application = await call.application()
    account = await call.user()
    await call.admit(application_id=application.id, account_id=account.id)
    return {"account": account.id}


def test_user_bucket_through_an_endpoint(harness: Factory) -> None:
    h = harness(Rates(application=0.1, user=0.1, ip=0))
    app = Starlette(routes=[Route("/probe", endpoint("probe", probe_handler), methods=["POST"])])
    app.state.services = h.services
    with h.dbs.write() as conns:
        other = accounts.create(conns.app, name="second user")
    with TestClient(app) as client:

        def call(user_key: str) -> int:
            data = {"client": h.client_key, "user": user_key}
            return client.post("/probe", data=data).status_code

        assert [call(h.user_key) for _ in range(3)] == [200, 200, 429]
        # Same application, another user: its own bucket (beets #6510).
        assert [call(other.apikey) for _ in range(3)] == [200, 200, 429]
        response = client.post("/probe", data={"client": h.client_key, "user": h.user_key})
        assert response.json()["error"]["message"].startswith("rate limit (0.100000")


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    require_redis()
    name = f"earmark-test:{RUN_ID}:{uuid.uuid4().hex[:8]}:"
    yield name
    client = redis.Redis.from_url(REDIS_URL)
    keys = set(client.scan_iter(match=name + "*"))  # SCAN may return a key twice
    if keys:
        client.delete(*keys)
    client.close()


def test_redis_window_through_the_app(harness: Factory, redis_prefix: str) -> None:
    h = harness(Rates(ip=0.1))
    # Replaced before the first request; the app's lifespan closes it (and its client).
    h.services.limits = RateLimits(
        RedisWindow(redis.asyncio.Redis.from_url(REDIS_URL), redis_prefix), Rates(ip=0.1)
    )
    codes = [h.call("/v2/track/list_by_mbid", {"mbid": MBID}).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    client = redis.Redis.from_url(REDIS_URL)
    keys = sorted({k.decode() for k in client.scan_iter(match=redis_prefix + "*")})  # no repeats
    client.close()
    assert [k.rsplit(":", 1)[0] for k in keys] == [
        f"{redis_prefix}rl:global:",
        f"{redis_prefix}rl:ip:testclient",
    ]


def test_redis_down_lets_requests_through_and_counts_them(harness: Factory) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    h = harness(Rates(ip=0.1))
    h.services.limits = RateLimits(
        RedisWindow(redis.asyncio.Redis.from_url(f"redis://127.0.0.1:{port}/0"), "x:"),
        Rates(ip=0.1),
        on_unavailable=h.services.metrics.unchecked,
    )
    codes = [h.call("/v2/track/list_by_mbid", {"mbid": MBID}).status_code for _ in range(5)]
    assert codes == [200] * 5
    assert metric(h, "earmark_api_rate_limit_unchecked_total") == "5.0"
