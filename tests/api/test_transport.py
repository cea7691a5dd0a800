"""Transport rules (reference §2): paths, CORS, body limits, gzip, the 404 envelope."""

from __future__ import annotations

import gzip
import zlib

import pytest

from tests.api.harness import ApiHarness

pytestmark = pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)


def test_slashes_are_collapsed_and_a_trailing_one_tolerated(api: ApiHarness) -> None:
    for path in ("/_health", "//_health", "/_health/", "///_health//"):
        response = api.client.get("http://testserver" + path)
        assert (response.status_code, response.text) == (200, "ok"), path


def test_every_response_allows_any_origin(api: ApiHarness) -> None:
    assert api.client.get("/_health").headers["access-control-allow-origin"] == "*"
    assert api.client.get("/v2/nothing-here").headers["access-control-allow-origin"] == "*"


def test_preflight_is_answered(api: ApiHarness) -> None:
    response = api.client.options(
        "/v2/lookup",
        headers={
            "Origin": "https://example.org",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-encoding",
        },
    )
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.headers["access-control-allow-headers"] == "content-encoding"


def test_unknown_path_gets_the_json_envelope(api: ApiHarness) -> None:
    response = api.client.get("/v2/nothing-here")
    assert response.status_code == 404
    assert response.json() == {
        "status": "error",
        "error": {"code": 21, "message": 'unknown endpoint "/v2/nothing-here"'},
    }


def test_unknown_path_honours_a_format_in_the_query_string(api: ApiHarness) -> None:
    response = api.client.get("/v2/nothing?format=xml")
    assert response.status_code == 404
    assert response.headers["content-type"] == "text/xml; charset=UTF-8"
    assert b"<code>21</code>" in response.content


def _post_raw(api: ApiHarness, body: bytes, **headers: str) -> object:
    return api.client.post(
        "/v2/nothing",
        content=body,
        headers={"Content-Type": "application/x-www-form-urlencoded", **headers},
    )


def test_body_over_one_mebibyte_is_error_19(api: ApiHarness) -> None:
    response = api.client.post(
        "/v2/nothing",
        content=b"a=" + b"x" * (1024 * 1024),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 413
    assert response.json()["error"] == {"code": 19, "message": "request too large"}


def test_gzip_bomb_is_refused_after_one_mebibyte(api: ApiHarness) -> None:
    # 200 MiB of zeros compress to ~200 KiB: under the raw limit, far over the inflated one.
    bomb = gzip.compress(b"0" * (200 * 1024 * 1024), compresslevel=9)
    assert len(bomb) < 1024 * 1024
    response = api.client.post(
        "/v2/nothing",
        content=bomb,
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Content-Encoding": "gzip",
        },
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == 19


@pytest.mark.parametrize(
    "body",
    [
        b"not gzip at all",
        gzip.compress(b"a=1&b=2", mtime=0)[:-6],  # truncated (mtime fixed: stable test ids)
        b"\x1f\x8b\x08\x00" + b"\xff" * 40,  # a gzip header, then garbage
    ],
)
def test_corrupt_gzip_is_error_20(api: ApiHarness, body: bytes) -> None:
    response = api.client.post(
        "/v2/nothing",
        content=body,
        headers={"Content-Type": "application/x-www-form-urlencoded", "Content-Encoding": "gzip"},
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == 20


def test_unsupported_content_encoding_is_error_20(api: ApiHarness) -> None:
    response = api.client.post("/v2/nothing", content=b"x", headers={"Content-Encoding": "br"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == 20


def test_deflate_bodies_are_inflated_too(api: ApiHarness) -> None:
    # Reaches routing (404) rather than failing in the transport.
    response = api.client.post(
        "/v2/nothing",
        content=zlib.compress(b"format=json"),
        headers={"Content-Encoding": "deflate"},
    )
    assert response.status_code == 404


def test_v1_paths_get_xml_errors_from_the_transport(api: ApiHarness) -> None:
    response = api.client.post("/lookup", content=b"garbage", headers={"Content-Encoding": "gzip"})
    assert response.status_code == 400
    assert response.headers["content-type"] == "text/xml; charset=UTF-8"
    assert b"<code>20</code>" in response.content


def test_error_format_survives_thousands_of_query_fields(api: ApiHarness) -> None:
    query = "&".join(f"a{i}=1" for i in range(3000)) + "&format=xml"
    response = api.client.get(f"/nope?{query}")
    assert response.status_code == 404
    assert response.headers["content-type"] == "text/xml; charset=UTF-8"


def test_control_characters_never_make_malformed_xml(api: ApiHarness) -> None:
    import xml.etree.ElementTree as ET

    response = api.client.get("/nope%01%02?format=xml")
    assert response.status_code == 404
    root = ET.fromstring(response.content)
    assert root.findtext("error/code") == "21"


@pytest.mark.parametrize(
    ("path", "params", "code"),
    [
        ("/v2/lookup", {"client": "ab\x00c", "duration": "1", "fingerprint": "x"}, 4),
        ("/v2/user/lookup", {"user": "a\x00"}, 6),
        ("/v2/lookup", {"client": "k" * 65, "duration": "1", "fingerprint": "x"}, 4),
    ],
)
def test_implausible_keys_are_refused_without_a_query(
    api: ApiHarness, path: str, params: dict[str, str], code: int
) -> None:
    response = api.call(path, params)
    assert response.json()["error"]["code"] == code
