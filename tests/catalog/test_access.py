"""Keys, the anonymous tier, rate limits, ETag/304, health, metrics, OpenAPI and the docs page."""

from __future__ import annotations

import uuid

from redis import Redis
from starlette.testclient import TestClient

from earmark.app_catalog import catalog_window
from earmark.ratelimit import RedisWindow
from earmark.settings import Secret, Settings
from tests.catalog.conftest import Factory, Keys
from tests.catalog.data import shared_isrc
from tests.musicbrainz.support import Mirror
from tests.services import require_redis

UNKNOWN_ISRC = "/lookup/isrc/ZZ0000000000"


def test_keys_in_the_header_or_the_client_parameter(
    catalog_client: Factory, app_keys: Keys
) -> None:
    client = catalog_client(catalog_anonymous_rate=0.0)
    # Anonymous access off: a key is required.
    refused = client.get(UNKNOWN_ISRC)
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == 26
    assert client.get(UNKNOWN_ISRC, headers={"X-Api-Key": app_keys.client}).status_code == 200
    assert client.get(UNKNOWN_ISRC, params={"client": app_keys.client}).status_code == 200
    for bad in ("nope", app_keys.inactive, "x" * 65, "\x01\x02"):
        answer = client.get(UNKNOWN_ISRC, params={"client": bad})
        assert answer.status_code == 401, bad
        assert answer.json()["error"] == {"code": 4, "message": "invalid API key"}


def test_the_anonymous_tier_has_its_own_limit(catalog_client: Factory, app_keys: Keys) -> None:
    # 0.05/s is one request per 20 s window.
    client = catalog_client(catalog_anonymous_rate=0.05)
    assert client.get(UNKNOWN_ISRC).status_code == 200
    limited = client.get(UNKNOWN_ISRC)
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == 14
    assert int(limited.headers["Retry-After"]) >= 1
    # A key has its own budget.
    assert client.get(UNKNOWN_ISRC, headers={"X-Api-Key": app_keys.client}).status_code == 200


def test_keyed_requests_are_limited_per_application(
    catalog_client: Factory, app_keys: Keys
) -> None:
    client = catalog_client(rate_limit_application=0.05)
    headers = {"X-Api-Key": app_keys.client}
    assert client.get(UNKNOWN_ISRC, headers=headers).status_code == 200
    limited = client.get(UNKNOWN_ISRC, headers=headers)
    assert limited.status_code == 429
    assert "Retry-After" in limited.headers


def test_the_limits_count_in_redis_under_their_own_prefix(catalog_client: Factory) -> None:
    require_redis()
    url = "redis://127.0.0.1:6379/0"
    prefix = f"earmark-test-{uuid.uuid4().hex}:"
    window = catalog_window(Settings(redis_url=Secret(url), redis_prefix=prefix))
    assert isinstance(window, RedisWindow)
    assert window.prefix == prefix + "catalog:"
    client = catalog_client(redis_url=Secret(url), redis_prefix=prefix, catalog_anonymous_rate=0.05)
    assert client.get(UNKNOWN_ISRC).status_code == 200
    assert client.get(UNKNOWN_ISRC).status_code == 429
    redis = Redis.from_url(url)
    try:
        keys = [key.decode() for key in redis.scan_iter(match=f"{prefix}*")]
        assert keys
        assert all(key.startswith(f"{prefix}catalog:rl:") for key in keys), keys
        assert any(":anonymous:" in key for key in keys), keys
        redis.delete(*keys)
    finally:
        redis.close()


def test_etag_and_cache_control(catalog_client: Factory, indexed: Mirror) -> None:
    client = catalog_client(catalog_cache_max_age=123)
    code, _ = shared_isrc(indexed)
    first = client.get(f"/lookup/isrc/{code}")
    tag = first.headers["ETag"]
    assert first.headers["Cache-Control"] == "public, max-age=123"
    # The mirror's replication sequence (0 in the synthetic data) is the ETag's base.
    assert tag.startswith('"0-')
    again = client.get(f"/lookup/isrc/{code}", headers={"If-None-Match": tag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["ETag"] == tag
    assert (
        client.get(f"/lookup/isrc/{code}", headers={"If-None-Match": '"other"'}).status_code == 200
    )
    # Another path (or query) is another ETag.
    other = client.get("/search/album", params={"q": "polar"}).headers["ETag"]
    paged = client.get("/search/album", params={"q": "polar", "limit": 5}).headers["ETag"]
    assert len({tag, other, paged}) == 3


def test_health_reports_the_replication_state(client: TestClient) -> None:
    answer = client.get("/health")
    assert answer.status_code == 200
    health = answer.json()
    assert health["status"] == "ok"
    assert health["database"] == "ok"
    assert health["search_index"] is True
    replication = health["replication"]
    assert replication["sequence"] == 0
    assert replication["last_replication_date"].startswith("2026-01-01")
    assert isinstance(replication["age_seconds"], int)


def test_metrics_count_requests_and_errors(client: TestClient) -> None:
    client.get(UNKNOWN_ISRC)
    client.get("/lookup/isrc/bad")
    text = client.get("/metrics").text
    assert 'earmark_catalog_requests_total{endpoint="lookup_isrc",status="200"}' in text
    assert 'earmark_catalog_errors_total{endpoint="lookup_isrc",error="invalid_parameter"}' in text


def test_openapi_and_the_docs_page(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    assert document["openapi"].startswith("3.1")
    for path in (
        "/lookup/isrc/{isrc}",
        "/lookup/album/{id}/tracks",
        "/lookup/release-group/{id}",
        "/lookup/barcode/{upc}",
        "/search/track",
        "/batch/lookup",
        "/health",
    ):
        assert path in document["paths"], path
    page = client.get("/docs")
    assert page.status_code == 200
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]
    assert 'href="docs/catalog.css"' in page.text
    assert "http" not in page.text.split("<body>")[0].replace("http-equiv", "")
    assert client.get("/docs/catalog.css").headers["content-type"].startswith("text/css")
