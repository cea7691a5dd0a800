"""HEAD on the catalog: answered like GET without a body (as /v2's health endpoints, the index
and the website answer it), never 405; a POST-only path says which methods it has."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from tests.catalog.data import gids, shared_isrc
from tests.musicbrainz.support import Mirror


def _paths(indexed: Mirror) -> list[str]:
    code, _ = shared_isrc(indexed)
    return [
        f"/lookup/isrc/{code}",
        f"/lookup/track/{gids(indexed, 'track', 1)[0]}",
        f"/lookup/album/{gids(indexed, 'release', 1)[0]}/tracks",
        "/search/track?q=synthetic&limit=3",
        "/health",
        "/openapi.json",
        "/docs",
    ]


def test_head_answers_like_get_without_a_body(client: TestClient, indexed: Mirror) -> None:
    for path in _paths(indexed):
        got = client.get(path)
        head = client.head(path)
        assert head.status_code == got.status_code == 200, path
        assert head.content == b"", path
        for name in ("content-type", "content-length", "etag", "cache-control"):
            assert head.headers.get(name) == got.headers.get(name), (path, name)


def test_head_honours_if_none_match_and_errors(client: TestClient, indexed: Mirror) -> None:
    path = _paths(indexed)[0]
    tag = client.get(path).headers["ETag"]
    assert client.head(path, headers={"If-None-Match": tag}).status_code == 304
    # A malformed id is the same 400 as on GET (its envelope's length, no body).
    got, head = client.get("/lookup/track/not-a-uuid"), client.head("/lookup/track/not-a-uuid")
    assert head.status_code == got.status_code == 400
    assert head.content == b""
    assert head.headers["content-length"] == got.headers["content-length"]


@pytest.mark.parametrize("method", ["HEAD", "GET"])
def test_a_post_only_path_names_its_method(client: TestClient, method: str) -> None:
    answer = client.request(method, "/batch/lookup")
    assert answer.status_code == 405
    assert answer.headers["Allow"] == "POST"
    if method == "GET":
        assert answer.json()["error"]["code"] == 27
