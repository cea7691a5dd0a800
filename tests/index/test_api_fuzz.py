"""Whatever the body, the API answers a documented 4xx (or 200), never a crash."""

from __future__ import annotations

import json

import msgpack
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**64 - 1),
    st.floats(allow_nan=False),
    st.text(max_size=5),
)
KEYS = st.sampled_from(
    [
        "q",
        "query",
        "l",
        "limit",
        "c",
        "changes",
        "i",
        "id",
        "h",
        "hashes",
        "insert",
        "d",
        "delete",
        "s",
        "set_metadata",
        "e",
        "entries",
        "k",
        "v",
        "m",
        "metadata",
        "g",
        "x",
        "",
    ]
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(KEYS, inner, max_size=4)),
    max_leaves=20,
)
PATHS = st.sampled_from(
    [
        ("POST", "/t/_search"),
        ("POST", "/t/_update"),
        ("PUT", "/t/5"),
        ("PUT", "/t"),
        ("DELETE", "/t"),
        ("DELETE", "/t/5"),
        ("POST", "/missing/_update"),
    ]
)
DOCUMENTED = {200, 400, 404, 405, 409, 413, 415}


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    target=PATHS,
    value=VALUES,
    encoding=st.sampled_from(["json", "msgpack", "msgpack-bare", "raw"]),
    raw=st.binary(max_size=40),
)
def test_any_body_gets_a_documented_status(client, target, value, encoding, raw) -> None:
    client.put("/t")
    method, path = target
    if encoding == "json":
        body = json.dumps(value).encode()
        headers = {"Content-Type": "application/json"}
    elif encoding == "raw":
        body, headers = raw, {}
    else:
        body = msgpack.packb(value)
        headers = {} if encoding == "msgpack-bare" else {"Content-Type": "application/vnd.msgpack"}
    r = client.request(method, path, content=body, headers=headers)
    assert r.status_code in DOCUMENTED, (r.status_code, r.content)
    assert r.status_code == 200 or b"rror" in r.content or r.content.startswith(b"\x81\xa1e")
