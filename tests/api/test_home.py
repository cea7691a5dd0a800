"""``/``: the start banner sends people to the server's address; it leads to the API docs."""

from __future__ import annotations

import pytest

from tests.api.harness import ApiHarness


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_root_redirects_to_the_docs_page(api: ApiHarness, method: str) -> None:
    response = api.client.request(method, "/", follow_redirects=False)
    assert response.status_code == 307
    assert response.headers["location"] == "/v2/docs"
    followed = api.client.request(method, "/")
    assert followed.status_code == 200
    assert followed.headers["content-type"] == "text/html; charset=utf-8"


def test_root_with_another_method_is_the_error_envelope(api: ApiHarness) -> None:
    response = api.client.post("/", follow_redirects=False)
    assert response.status_code in (404, 405)
    assert response.json()["status"] == "error"
    assert "location" not in response.headers


@pytest.mark.parametrize("path", ["//", "/%2F", "/?next=//evil.example", "/?url=http://x"])
def test_root_spellings_redirect_to_this_server_only(api: ApiHarness, path: str) -> None:
    # Neither the query nor extra slashes reach the Location: no open redirect through them.
    response = api.client.get(path, follow_redirects=False)
    assert response.status_code == 307
    assert response.headers["location"] == "/v2/docs"


@pytest.mark.parametrize("path", ["/index.html", "/v2", "/v2/", "/docs"])
def test_only_the_root_redirects(api: ApiHarness, path: str) -> None:
    response = api.client.get(path, follow_redirects=False)
    assert response.status_code == 404
    assert response.json()["status"] == "error"
