"""The HTTP API against the reference's test inventory (spec §7.3) and wire rules (§2)."""

from __future__ import annotations

import random

import numpy as np
import pytest

from .apiclient import mp, unmp

JSON = {"Content-Type": "application/json"}
MSGPACK = {"Content-Type": "application/vnd.msgpack"}


@pytest.fixture
def idx(client) -> str:
    assert client.put("/t1").status_code == 200
    return "t1"


def search(client, name: str, query: list[int], **kw) -> list[dict]:
    r = client.post(f"/{name}/_search", json={"query": query, **kw})
    assert r.status_code == 200, r.text
    return r.json()["results"]


# -- misc ---------------------------------------------------------------------------------


def test_health(client) -> None:
    r = client.get("/_health")
    assert (r.status_code, r.text) == (200, "OK\n")
    assert client.head("/_health").status_code == 200


def test_index_health(client, idx: str) -> None:
    assert client.get(f"/{idx}/_health").text == "OK\n"
    r = client.get("/nope/_health")
    assert (r.status_code, r.content) == (404, b"")


def test_metrics(client, idx: str) -> None:
    client.put(f"/{idx}/1", json={"hashes": [1, 2, 3]})
    search(client, idx, [1, 2, 3])
    search(client, idx, [9])
    r = client.get("/_metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = r.text
    for name in (
        "fpindex_searches_total",
        "fpindex_search_hits_total",
        "fpindex_search_misses_total",
        "fpindex_updates_total",
        "fpindex_checkpoints_total",
        "fpindex_search_duration_seconds_bucket",
        "fpindex_docs",
        "fpindex_version",
    ):
        assert name in text
    assert 'fpindex_searches_total{index="t1"} 2' in text
    assert 'fpindex_search_hits_total{index="t1"} 1' in text
    assert 'fpindex_version{index="t1"} 1' in text


# -- indexes ------------------------------------------------------------------------------


def test_head_and_get_missing_index(client) -> None:
    r = client.head("/nope")
    assert (r.status_code, r.content) == (404, b"")
    r = client.get("/nope")
    assert r.status_code == 404
    assert r.content == b'{"error":"IndexNotFound"}'


@pytest.mark.parametrize("fmt", ["json", "msgpack"])
def test_get_index(client, idx: str, fmt: str) -> None:
    body = {"changes": [{"insert": {"id": 1, "hashes": [1, 2, 3]}}], "metadata": {"foo": "bar"}}
    assert client.post(f"/{idx}/_update", json=body).json() == {"version": 1}
    if fmt == "json":
        r = client.get(f"/{idx}", headers={"Accept": "application/json"})
        assert r.json() == {
            "version": 1,
            "metadata": {"foo": "bar"},
            "stats": {"min_doc_id": 1, "max_doc_id": 1, "num_segments": 1, "num_docs": 1},
        }
    else:
        r = client.get(f"/{idx}", headers={"Accept": "application/vnd.msgpack"})
        assert r.headers["content-type"] == "application/vnd.msgpack"
        assert unmp(r.content) == {
            "v": 1,
            "m": {"foo": "bar"},
            "s": {"min_doc_id": 1, "max_doc_id": 1, "num_segments": 1, "num_docs": 1},
        }


@pytest.mark.parametrize("fmt", ["json", "msgpack"])
def test_create_and_delete_index(client, fmt: str) -> None:
    hdr = JSON if fmt == "json" else {"Accept": "application/vnd.msgpack"}
    for _ in range(2):
        r = client.put("/t2", headers=hdr)
        expected = {"version": 0, "ready": True, "generation": 1}
        if fmt == "json":
            assert r.json() == expected
        else:
            assert unmp(r.content) == {"v": 0, "r": True, "g": 1}
    assert client.head("/t2").status_code == 200
    r = client.delete("/t2", headers=hdr)
    assert (r.json() if fmt == "json" else unmp(r.content)) == (
        {"deleted": True} if fmt == "json" else {"d": True}
    )
    r = client.delete("/t2", headers=hdr)
    assert (r.json() if fmt == "json" else unmp(r.content)) == (
        {"deleted": False} if fmt == "json" else {"d": False}
    )
    assert client.head("/t2").status_code == 404


def test_create_options_and_generations(client) -> None:
    assert client.put("/g", json={"expect_does_not_exist": True}).status_code == 200
    r = client.put("/g", json={"expect_does_not_exist": True})
    assert (r.status_code, r.json()) == (409, {"error": "IndexAlreadyExists"})
    r = client.put("/g", json={"generation": 3})
    assert (r.status_code, r.json()) == (409, {"error": "NewerIndexAlreadyExists"})
    client.delete("/g")
    client.put("/g")
    client.delete("/g")
    r = client.put("/g", json={"generation": 2})
    assert (r.status_code, r.json()) == (409, {"error": "OlderIndexAlreadyExists"})
    assert client.put("/g", json={"generation": 7}).json()["generation"] == 7
    r = client.delete("/missing", json={"expect_exists": True})
    assert (r.status_code, r.json()) == (404, {"error": "IndexNotFound"})
    assert client.put("/_foo").status_code == 200


@pytest.mark.parametrize("name", ["a b", "x" * 256, "a.b", "é"])
def test_invalid_index_names(client, name: str) -> None:
    r = client.put(f"/{name}")
    assert (r.status_code, r.json()) == (400, {"error": "InvalidIndexName"})
    assert client.get(f"/{name}").status_code == 404
    assert client.post(f"/{name}/_search", json={"query": [1]}).status_code == 404


def test_status(client, idx: str) -> None:
    assert client.get(f"/{idx}/_status").json() == {
        "generation": 1,
        "version": 0,
        "file_version": 0,
    }
    r = client.get(f"/{idx}/_status", headers={"Accept": "application/vnd.msgpack"})
    assert unmp(r.content) == {"g": 1, "v": 0, "f": 0}
    assert client.get("/nope/_status").status_code == 404


# -- fingerprints -------------------------------------------------------------------------


def test_insert_single(client, idx: str) -> None:
    r = client.put(f"/{idx}/1", json={"hashes": [1, 2, 3]})
    assert (r.status_code, r.json()) == (200, {})
    assert search(client, idx, [1, 2, 3]) == [{"id": 1, "score": 3}]
    assert client.get(f"/{idx}/1").json() == {"version": 1}
    assert client.head(f"/{idx}/1").status_code == 200
    assert client.head(f"/{idx}/2").status_code == 404


def test_insert_multi(client, idx: str) -> None:
    body = {
        "changes": [
            {"insert": {"id": 1, "hashes": [1, 2, 3]}},
            {"insert": {"id": 2, "hashes": [1, 2, 3]}},
        ]
    }
    assert client.post(f"/{idx}/_update", json=body).json() == {"version": 1}
    assert search(client, idx, [1, 2, 3]) == [{"id": 1, "score": 3}, {"id": 2, "score": 3}]
    assert client.get(f"/{idx}/2").json() == {"version": 1}


def test_insert_many(client, idx: str) -> None:
    rng = random.Random(0)
    docs = {i: [rng.randint(0, 1 << 18) for _ in range(100)] for i in range(1, 10_001)}
    for start in range(1, 10_001, 1000):
        changes = [{"i": {"i": i, "h": docs[i]}} for i in range(start, start + 1000)]
        r = client.post(f"/{idx}/_update", content=mp({"c": changes}))
        assert r.status_code == 200
    assert search(client, idx, docs[100]) == [{"id": 100, "score": 100}]


def test_update_full_and_partial(client, idx: str) -> None:
    client.put(f"/{idx}/1", json={"hashes": [1, 2, 3]})
    client.put(f"/{idx}/1", json={"hashes": [4, 5, 6]})
    assert search(client, idx, [1, 2, 3]) == []
    assert search(client, idx, [4, 5, 6]) == [{"id": 1, "score": 3}]
    assert client.get(f"/{idx}/1").json() == {"version": 2}
    client.put(f"/{idx}/2", json={"hashes": [1, 2, 3]})
    client.put(f"/{idx}/2", json={"hashes": [2, 3, 4]})
    assert search(client, idx, [1, 2, 3]) == [{"id": 2, "score": 2}]


def test_delete(client, idx: str) -> None:
    body = {"changes": [{"insert": {"id": i, "hashes": [1, 2, 3]}} for i in (1, 2, 3)]}
    client.post(f"/{idx}/_update", json=body)
    body = {"changes": [{"delete": {"id": 1}}, {"delete": {"id": 2}}]}
    assert client.post(f"/{idx}/_update", json=body).status_code == 200
    assert search(client, idx, [1, 2, 3]) == [{"id": 3, "score": 3}]
    r = client.get(f"/{idx}/1")
    assert (r.status_code, r.json()) == (404, {"error": "FingerprintNotFound"})
    assert client.delete(f"/{idx}/3").json() == {}
    assert client.delete(f"/{idx}/12345").json() == {}
    assert search(client, idx, [1, 2, 3]) == []


def test_expected_version(client, idx: str) -> None:
    body = {"changes": [], "expected_version": 0}
    assert client.post(f"/{idx}/_update", json=body).json() == {"version": 1}
    r = client.post(f"/{idx}/_update", json=body)
    assert (r.status_code, r.json()) == (409, {"error": "VersionMismatch"})


def test_search_options(client, idx: str) -> None:
    body = {"changes": [{"insert": {"id": i, "hashes": [1, 2]}} for i in range(150, 0, -1)]}
    client.post(f"/{idx}/_update", json=body)
    assert len(search(client, idx, [1, 2], limit=0)) == 1
    assert len(search(client, idx, [1, 2], limit=1000)) == 100
    assert len(search(client, idx, [1, 2])) == 40
    assert search(client, idx, [1, 2], min_score=3) == []
    assert len(search(client, idx, [1, 2], timeout=0, score_pct=100)) == 40


def test_set_metadata_op(client, idx: str) -> None:
    body = {"changes": [{"set_metadata": {"entries": [{"key": "a", "value": "1"}]}}]}
    client.post(f"/{idx}/_update", json=body)
    short = {"c": [{"s": {"e": [{"k": "b", "v": "2"}]}}], "m": {"a": "3"}}
    assert unmp(client.post(f"/{idx}/_update", content=mp(short)).content) == {"v": 2}
    assert client.get(f"/{idx}").json()["metadata"] == {"a": "3", "b": "2"}


# -- content negotiation ------------------------------------------------------------------


def test_msgpack_default_no_headers(client, idx: str) -> None:
    r = client.put(f"/{idx}/1", content=mp({"hashes": [1, 2, 3]}))
    assert r.headers["content-type"] == "application/vnd.msgpack"
    assert unmp(r.content) == {}
    r = client.post(f"/{idx}/_search", content=mp({"q": [1, 2, 3]}))
    assert unmp(r.content) == {"r": [{"i": 1, "s": 3}]}
    r = client.post(f"/{idx}/_search", content=mp({"qu": [1, 2, 3], "l": 5}))
    assert unmp(r.content) == {"r": [{"i": 1, "s": 3}]}


def test_mixed_formats_with_accept_header(client, idx: str) -> None:
    r = client.put(
        f"/{idx}/1", json={"hashes": [1, 2, 3]}, headers={"Accept": "application/vnd.msgpack"}
    )
    assert unmp(r.content) == {}
    r = client.post(
        f"/{idx}/_search",
        content=mp({"query": [1, 2, 3]}),
        headers={**MSGPACK, "Accept": "application/json"},
    )
    assert r.json() == {"results": [{"id": 1, "score": 3}]}
    # lists are not parsed: the response mirrors the request
    r = client.post(
        f"/{idx}/_search",
        content=mp({"query": [1, 2, 3]}),
        headers={**MSGPACK, "Accept": "application/json, */*"},
    )
    assert unmp(r.content) == {"r": [{"i": 1, "s": 3}]}


def test_content_type_parameters_ignored(client, idx: str) -> None:
    r = client.put(
        f"/{idx}/1",
        content=b'{"hashes":[1]}',
        headers={"Content-Type": "Application/JSON; charset=utf-8"},
    )
    assert r.json() == {}


@pytest.mark.parametrize("ctype", ["invalid/type", "application/x-www-form-urlencoded"])
def test_invalid_content_type(client, idx: str, ctype: str) -> None:
    r = client.put(f"/{idx}/1", content=b"hashes=1", headers={"Content-Type": ctype})
    assert (r.status_code, r.json()) == (415, {"error": "UnsupportedMediaType"})


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"{", "BadRequest"),
        (b"[]", "BadRequest"),
        (b'{"hashes":[1],"extra":1}', "BadRequest"),
        (b'{"hashes":[-1]}', "BadRequest"),
        (b'{"hashes":[4294967296]}', "BadRequest"),
        (b'{"hashes":[18446744073709551616]}', "BadRequest"),
        (b'{"hashes":[1.5]}', "BadRequest"),
        (b'{"hashes":[true]}', "BadRequest"),
        (b'{"hashes":["1"]}', "BadRequest"),
        (b'{"hashes":1}', "BadRequest"),
        (b"{}", "BadRequest"),
        (b"", "BadRequest"),
    ],
)
def test_malformed_json_fingerprint(client, idx: str, body: bytes, error: str) -> None:
    r = client.put(f"/{idx}/1", content=body, headers=JSON)
    assert (r.status_code, r.json()) == (400, {"error": error})


@pytest.mark.parametrize(
    "body",
    [
        {"changes": [{"insert": {"id": 0, "hashes": [1]}}]},
        {"changes": [{"delete": {"id": 0}}]},
    ],
)
def test_id_zero(client, idx: str, body: dict) -> None:
    r = client.post(f"/{idx}/_update", json=body)
    assert (r.status_code, r.json()) == (400, {"error": "InvalidFingerprintId"})
    r = client.put(f"/{idx}/0", json={"hashes": [1]})
    assert (r.status_code, r.json()) == (400, {"error": "InvalidFingerprintId"})
    assert client.get(f"/{idx}").json()["version"] == 0


@pytest.mark.parametrize(
    "body",
    [
        {"changes": [{"insert": {"id": -1, "hashes": [1]}}]},
        {"changes": [{"insert": {"id": 1 << 32, "hashes": [1]}}]},
        {"changes": [{"insert": {"id": 1}}]},
        {"changes": [{"upsert": {"id": 1, "hashes": [1]}}]},
        {"changes": [{"insert": {"id": 1, "hashes": [1]}, "delete": {"id": 1}}]},
        {"changes": {"insert": {"id": 1, "hashes": [1]}}},
        {"changes": [], "metadata": {"a": 1}},
        {"changes": [], "metadata": ["a"]},
        {"changes": [{"set_metadata": {"entries": [{"key": "a", "value": 2}]}}]},
        {"changes": [], "expected_version": -1},
        {"changes": [], "unknown": 1},
    ],
)
def test_malformed_updates(client, idx: str, body: dict) -> None:
    r = client.post(f"/{idx}/_update", json=body)
    assert (r.status_code, r.json()) == (400, {"error": "BadRequest"})
    assert client.get(f"/{idx}").json()["version"] == 0


@pytest.mark.parametrize(
    "body",
    [
        b"\xc1",  # never-used msgpack byte
        b"\x92\x01",  # truncated array
        mp({"z": [1]}),  # unknown letter
        mp({"q": [1], 1: 2}),  # non-string key
        mp({"q": [-1]}),
        mp({"q": [1 << 32]}),
        mp({"q": b"\x01\x02"}),
        mp({"q": [1], "l": -1}),
        mp([1, 2, 3]),
    ],
)
def test_malformed_msgpack_search(client, idx: str, body: bytes) -> None:
    r = client.post(f"/{idx}/_search", content=body)
    assert r.status_code == 400
    assert unmp(r.content) == {"e": "BadRequest"}


def test_error_in_json_when_content_type_invalid(client, idx: str) -> None:
    r = client.post(f"/{idx}/_search", content=b"x", headers={"Content-Type": "text/plain"})
    assert r.headers["content-type"] == "application/json"


def test_body_limit(engine) -> None:
    from earmark.index.server import create_app

    from .apiclient import sync_client

    with sync_client(create_app(engine, body_limit=1000)) as client:
        client.put("/t")
        r = client.put("/t/1", json={"hashes": list(range(1000))})
        assert (r.status_code, r.json()) == (413, {"error": "BodyTooBig"})

        async def chunks():  # no Content-Length: the limit applies while reading
            for _ in range(10):
                yield b"[" + b"1," * 100

        r = client.put("/t/1", content=chunks(), headers=JSON)
        assert (r.status_code, r.json()) == (413, {"error": "BodyTooBig"})
        assert client.put("/t/1", json={"hashes": [1]}).status_code == 200


def test_unknown_routes_are_404(client, idx: str) -> None:
    r = client.get("/a/b/c")
    assert (r.status_code, r.json()) == (404, {"error": "NotFound"})
    r = client.request("PATCH", f"/{idx}")
    assert (r.status_code, r.json()) == (405, {"error": "MethodNotAllowed"})
    r = client.post(f"/{idx}/1", json={})
    assert r.status_code == 405
    r = client.get(f"/{idx}/_search")  # like the reference: the fingerprint route, bad id
    assert (r.status_code, r.json()) == (400, {"error": "BadRequest"})
    r = client.get(f"/{idx}/notanumber")
    assert (r.status_code, r.json()) == (400, {"error": "BadRequest"})
    r = client.get(f"/{idx}/4294967296")
    assert (r.status_code, r.json()) == (400, {"error": "BadRequest"})


def test_snapshot_export(client, idx: str) -> None:
    import io

    import msgpack

    client.put(f"/{idx}/1", json={"hashes": [1, 2, 3]})
    r = client.get(f"/{idx}/_snapshot")
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/octet-stream"
    unpacker = msgpack.Unpacker(io.BytesIO(r.content), raw=False)
    header = unpacker.unpack()
    assert header["f"] == 1
    assert header["g"] >= 1
    assert isinstance(header["s"], list)
    assert header["v"] == 1
    assert unpacker.tell() + sum(s["s"] for s in header["s"]) == len(r.content)
    assert client.get("/missing/_snapshot").status_code == 404


def test_search_timeout_is_503(client, idx: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import itertools

    from earmark.index.engine import search as search_module

    client.put(f"/{idx}/1", json={"hashes": [1, 2, 3]})
    clock = itertools.count(0.0, 1.0)  # every reading is one second later
    monkeypatch.setattr(search_module.time, "monotonic", lambda: next(clock))
    r = client.post(f"/{idx}/_search", json={"query": [1, 2, 3], "timeout": 10})
    assert (r.status_code, r.json()) == (503, {"error": "SearchTimeout"})
    r = client.post(f"/{idx}/_search", json={"query": [1, 2, 3], "timeout": 0})
    assert r.json() == {"results": [{"id": 1, "score": 3}]}


def test_snapshot_restores_elsewhere(client, idx: str, tmp_path) -> None:
    from earmark.index.engine import MultiIndex, SearchParams

    from .conftest import MANUAL

    client.post(
        f"/{idx}/_update",
        json={
            "changes": [{"insert": {"id": i, "hashes": [i, i + 1, 7]}} for i in range(1, 50)],
            "metadata": {"k": "v"},
        },
    )
    client.delete(f"/{idx}/3")
    body = client.get(f"/{idx}/_snapshot").content
    other = MultiIndex(tmp_path / "other", MANUAL)
    try:
        other.restore("copy", [body[:10], body[10:]])
        copy = other.get("copy")
        assert copy.version == 2
        assert copy.info().metadata == {"k": "v"}
        res = copy.search(SearchParams(np.array([3, 4, 7], dtype=np.uint32), min_score=2))
        # doc 6 is [6, 7, 7] and doc 7 is [7, 8, 7]: stored duplicates count
        assert [(r.id, r.score) for r in res] == [(2, 2), (4, 2), (6, 2), (7, 2)]
    finally:
        other.close()
