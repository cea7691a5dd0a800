"""/v2/user/lookup, /v2/user/create_anonymous and /v2/user/create_musicbrainz (§5.4-§5.6).

MusicBrainz' OAuth userinfo endpoint is the outside world: a real local HTTP server plays it.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlencode
from xml.etree import ElementTree as ET

import httpx
import pytest
import sqlalchemy as sa
import uvicorn

from earmark.api import user as user_api
from earmark.api.services import ApiConfig
from earmark.db import accounts, applications
from earmark.db.engine import Databases
from earmark.db.tables import account as account_table
from earmark.ratelimit import Rates
from tests.api.harness import CLUSTER_SECRET, ApiHarness

Params = Sequence[tuple[str, str]] | dict[str, str]


def post(api: ApiHarness, url: str, params: Params, **headers: str) -> Any:
    """POST ``params`` urlencoded to ``url`` (a path, or an absolute https://testserver URL)."""
    items = list(params.items()) if isinstance(params, dict) else list(params)
    return api.client.post(
        url,
        content=urlencode(items, errors="surrogateescape"),
        headers={"Content-Type": "application/x-www-form-urlencoded", **headers},
    )


def error_of(response: Any) -> tuple[int, int, str]:
    body = response.json()
    assert body["status"] == "error", body
    return response.status_code, body["error"]["code"], body["error"]["message"]


def created_from(api: ApiHarness, account_id: int) -> str | None:
    """The IP an account was created from (not part of :class:`Account`)."""
    with api.dbs.read() as conns:
        query = sa.select(account_table.c.created_from).where(account_table.c.id == account_id)
        value: str | None = conns.app.execute(query).scalar_one()
    return value


# --- a fake MusicBrainz ---------------------------------------------------------------------


class FakeMusicBrainz:
    """MusicBrainz' userinfo endpoint: the reply depends on the bearer token.

    ``user:<name>`` → 200 with ``sub`` = name; the other tokens are the failure modes in
    :data:`REPLIES`, ``slow`` answers after two seconds.
    """

    REPLIES: ClassVar[dict[str, tuple[int, bytes]]] = {
        "refused": (401, b'{"error": "invalid_token"}'),
        "broken": (500, b"oops"),
        "garbage": (200, b"<html>this is not json</html>"),
        "not-utf8": (200, b'{"sub": "\xff\xfe"}'),
        "no-sub": (200, b'{"email": "x@example.org"}'),
        "empty-sub": (200, b'{"sub": "  "}'),
        "int-sub": (200, b'{"sub": 12}'),
        "null-sub": (200, b'{"sub": null}'),
        "list": (200, b'["sub"]'),
        "control-sub": (200, b'{"sub": "a\\u0000b"}'),
        "long-sub": (200, json.dumps({"sub": "x" * 1000}).encode()),
        "nested": (200, b"[" * 60_000),
        "huge": (200, json.dumps({"sub": "big", "pad": "x" * 200_000}).encode()),
        "redirect": (302, b""),
    }

    def __init__(self) -> None:
        self.seen: list[tuple[str, str | None]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                auth = self.headers.get("Authorization")
                fake.seen.append((self.path, auth))
                token = (auth or "").removeprefix("Bearer ")
                if token.startswith("user:"):
                    status, body = 200, json.dumps({"sub": token[5:], "email": "e"}).encode()
                elif token == "slow":
                    time.sleep(2)
                    status, body = 200, b'{"sub": "slowpoke"}'
                else:
                    status, body = fake.REPLIES.get(token, (401, b"{}"))
                self.send_response(status)
                if status == 302:
                    self.send_header("Location", "/elsewhere")
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/oauth2/userinfo"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture
def musicbrainz() -> Iterator[FakeMusicBrainz]:
    fake = FakeMusicBrainz()
    yield fake
    fake.close()


def harness(dbs: Databases, tmp_path: Path, url: str, **kw: Any) -> ApiHarness:
    config = ApiConfig(cluster_secret=CLUSTER_SECRET, musicbrainz_userinfo_url=url)
    return ApiHarness(dbs, tmp_path / "index", config=config, **kw)


@pytest.fixture
def mb_api(dbs: Databases, tmp_path: Path, musicbrainz: FakeMusicBrainz) -> Iterator[ApiHarness]:
    h = harness(dbs, tmp_path, musicbrainz.url)
    yield h
    h.close()


HTTPS = "https://testserver/v2/user/create_musicbrainz"
HTTP = "http://testserver/v2/user/create_musicbrainz"


# --- create_musicbrainz ---------------------------------------------------------------------

CREATE_MB_ERRORS: list[tuple[str, str, list[tuple[str, str]], int]] = [
    ("no token over http", HTTP, [], 2),
    ("no token over https", HTTPS, [], 2),
    ("empty token", HTTPS, [("access_token", "")], 2),
    ("bad format first", HTTP, [("format", "txt")], 1),
    ("http refused", HTTP, [("access_token", "user:alice")], 16),
    ("http refused with a bad token", HTTP, [("access_token", "refused")], 16),
    *[(f"mb says {t}", HTTPS, [("access_token", t)], 15) for t in FakeMusicBrainz.REPLIES],
    ("unknown token", HTTPS, [("access_token", "whatever")], 15),
]


def test_create_musicbrainz_errors(mb_api: ApiHarness, musicbrainz: FakeMusicBrainz) -> None:
    for case, url, params, code in CREATE_MB_ERRORS:
        musicbrainz.seen.clear()
        status, got, message = error_of(post(mb_api, url, params))
        assert (status, got) == (400, code), case
        if code == 15:
            assert message == "invalid MusicBrainz access token"
            assert musicbrainz.seen == [
                ("/oauth2/userinfo", f"Bearer {dict(params)['access_token']}")
            ], case
        else:
            assert musicbrainz.seen == [], case  # asked only over HTTPS with a token
        if code == 16:
            assert message == "only requests over HTTPS are allowed here"


def test_create_musicbrainz_token_that_cannot_be_a_header(
    mb_api: ApiHarness, musicbrainz: FakeMusicBrainz
) -> None:
    for token in ("tök", "a b", "a\nb", "a\x00b", "\udcff", "x" * 10_000):
        response = post(mb_api, HTTPS, {"access_token": token})
        assert error_of(response)[:2] == (400, 15), token[:10]
    assert musicbrainz.seen[:-1] == []
    # A long token is a token: MusicBrainz decides (here: refuses it).
    assert musicbrainz.seen[-1][1] == "Bearer " + "x" * 10_000


def test_create_musicbrainz_finds_or_creates_the_account(
    mb_api: ApiHarness, musicbrainz: FakeMusicBrainz
) -> None:
    first = post(mb_api, HTTPS, {"access_token": "user:Alice"})
    assert first.status_code == 200
    key = first.json()["user"]["apikey"]
    assert first.json() == {"status": "ok", "user": {"apikey": key}}
    assert musicbrainz.seen == [("/oauth2/userinfo", "Bearer user:Alice")]
    # The same MusicBrainz user in another case is the same account.
    again = post(mb_api, HTTPS, {"access_token": "user:ALICE"})
    assert again.json()["user"]["apikey"] == key
    other = post(mb_api, HTTPS, {"access_token": "user:bob"}).json()["user"]["apikey"]
    assert other != key
    with mb_api.dbs.read() as conns:
        account = accounts.get_by_api_key(conns.app, key)
    assert account is not None
    assert (account.name, account.mbuser, account.anonymous) == ("Alice", "Alice", False)
    assert created_from(mb_api, account.id) == "testclient"
    # The key is a working user key.
    assert post(mb_api, "/v2/user/lookup", {"user": key}).json()["user"] == {"apikey": key}
    xml = post(mb_api, HTTPS, {"access_token": "user:alice", "format": "xml"})
    assert ET.fromstring(xml.content).findtext("user/apikey") == key


def test_create_musicbrainz_plain_forwarded_proto_header_is_not_trusted(
    mb_api: ApiHarness, musicbrainz: FakeMusicBrainz
) -> None:
    """Only the server (uvicorn, from trusted proxies) may turn a request into HTTPS."""
    response = post(mb_api, HTTP, {"access_token": "user:eve"}, **{"X-Forwarded-Proto": "https"})
    assert error_of(response)[:2] == (400, 16)
    assert musicbrainz.seen == []


def test_create_musicbrainz_behind_a_trusted_proxy(
    mb_api: ApiHarness, musicbrainz: FakeMusicBrainz
) -> None:
    """Through uvicorn with ``forwarded_allow_ips``: X-Forwarded-Proto https from the trusted
    proxy counts as HTTPS; without it the request is plain HTTP."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        mb_api.app,
        lifespan="off",
        proxy_headers=True,
        forwarded_allow_ips="127.0.0.1",
        log_level="warning",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            assert time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.01)
        url = f"http://127.0.0.1:{port}/v2/user/create_musicbrainz"
        data = {"access_token": "user:carol"}
        proxied = httpx.post(url, data=data, headers={"X-Forwarded-Proto": "https"})
        assert proxied.json()["status"] == "ok", proxied.text
        plain = httpx.post(url, data=data)
        assert plain.json()["error"]["code"] == 16
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
    assert musicbrainz.seen == [("/oauth2/userinfo", "Bearer user:carol")]


def test_create_musicbrainz_times_out(
    mb_api: ApiHarness,
    musicbrainz: FakeMusicBrainz,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # "slow" is answered with a valid user after 2 s: error 15 means the 0.3 s timeout ended
    # the request first, and the log says it was a timeout.
    monkeypatch.setattr(user_api, "USERINFO_TIMEOUT", 0.3)
    with caplog.at_level(logging.WARNING, logger=user_api.log.name):
        assert error_of(post(mb_api, HTTPS, {"access_token": "slow"}))[:2] == (400, 15)
    assert musicbrainz.seen == [("/oauth2/userinfo", "Bearer slow")]
    [failure] = [r.getMessage() for r in caplog.records if r.name == user_api.log.name]
    assert failure.startswith("MusicBrainz userinfo request failed: ")
    assert "Timeout" in failure


def test_create_musicbrainz_unreachable(dbs: Databases, tmp_path: Path) -> None:
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()  # nothing listens there now
    h = harness(dbs, tmp_path, f"http://127.0.0.1:{port}/oauth2/userinfo")
    try:
        assert error_of(post(h, HTTPS, {"access_token": "user:x"}))[:2] == (400, 15)
    finally:
        h.close()


# --- lookup ---------------------------------------------------------------------------------

LOOKUP_ERRORS: list[tuple[str, list[tuple[str, str]], int]] = [
    ("no user", [], 2),
    ("empty user", [("user", "")], 2),
    ("unknown user", [("user", "nobody1234")], 6),
    ("huge user", [("user", "k" * 500_000)], 6),
    ("format first", [("format", "yaml"), ("user", "nobody")], 1),
]


def test_user_lookup_errors(api: ApiHarness) -> None:
    for case, params, code in LOOKUP_ERRORS:
        assert error_of(post(api, "/v2/user/lookup", params))[:2] == (400, code), case


def test_user_lookup_messages(api: ApiHarness) -> None:
    assert error_of(post(api, "/v2/user/lookup", {"user": api.client_key})) == (
        400,
        6,
        'invalid user API key ("User with the API key does not exist")',
    )
    non_utf8 = api.client.get("/v2/user/lookup?user=%FF%FE")
    assert error_of(non_utf8)[:2] == (400, 6)


def test_user_lookup_answers_the_key(api: ApiHarness) -> None:
    response = post(api, "/v2/user/lookup", [("user", api.user_key), ("user", "other")])
    assert response.json() == {"status": "ok", "user": {"apikey": api.user_key}}
    xml = post(api, "/v2/user/lookup", {"user": api.user_key, "format": "xml"})
    assert xml.headers["content-type"] == "text/xml; charset=UTF-8"
    assert ET.fromstring(xml.content).findtext("user/apikey") == api.user_key


def test_user_lookup_is_not_cached(dbs: Databases, tmp_path: Path) -> None:
    """Even with a key cache, a regenerated key stops answering at once."""
    h = ApiHarness(dbs, tmp_path / "index", key_cache_ttl=60.0)
    try:
        assert post(h, "/v2/user/lookup", {"user": h.user_key}).status_code == 200
        with h.dbs.write() as conns:
            new_key = accounts.regenerate_api_key(conns.app, h.account_id)
        assert error_of(post(h, "/v2/user/lookup", {"user": h.user_key}))[:2] == (400, 6)
        assert post(h, "/v2/user/lookup", {"user": new_key}).json()["user"]["apikey"] == new_key
    finally:
        h.close()


# --- create_anonymous -----------------------------------------------------------------------


def test_create_anonymous_errors(api: ApiHarness) -> None:
    with api.dbs.write() as conns:
        inactive = applications.create(
            conns.app, name="Old", version="0", account_id=api.account_id
        )
        applications.set_active(conns.app, inactive.id, False)
    cases: list[tuple[list[tuple[str, str]], int]] = [
        ([], 2),
        ([("client", "")], 2),
        ([("client", "nope")], 4),
        ([("client", inactive.apikey)], 4),
        ([("client", api.user_key)], 4),
        ([("client", "\udcff" * 10)], 4),
        ([("format", "x")], 1),
        ([("format", "x"), ("client", api.client_key)], 1),
    ]
    for params, code in cases:
        assert error_of(post(api, "/v2/user/create_anonymous", params))[:2] == (400, code), params


def test_create_anonymous_creates_accounts(api: ApiHarness) -> None:
    params = {"client": api.client_key, "clientversion": "2.5"}
    keys = [post(api, "/v2/user/create_anonymous", params).json()["user"]["apikey"] for _ in "ab"]
    assert len(set(keys)) == 2
    assert api.user_key not in keys
    with api.dbs.read() as conns:
        found = [accounts.get_by_api_key(conns.app, k) for k in keys]
    for account in found:
        assert account is not None
        assert (account.name, account.anonymous) == ("Anonymous", True)
        assert (account.application_id, account.application_version) == (api.application_id, "2.5")
        assert created_from(api, account.id) == "testclient"
    assert post(api, "/v2/user/lookup", {"user": keys[0]}).json()["user"]["apikey"] == keys[0]
    xml = post(api, "/v2/user/create_anonymous", {"client": api.client_key, "format": "xml"})
    key = ET.fromstring(xml.content).findtext("user/apikey")
    with api.dbs.read() as conns:
        account = accounts.get_by_api_key(conns.app, key or "")
    assert account is not None
    assert account.application_version is None


def test_create_anonymous_is_limited_per_application(dbs: Databases, tmp_path: Path) -> None:
    h = ApiHarness(dbs, tmp_path / "index", rates=Rates(application=0.1, global_=0, ip=0))
    try:
        for _ in range(2):
            assert post(h, "/v2/user/create_anonymous", {"client": h.client_key}).status_code == 200
        status, code, message = error_of(
            post(h, "/v2/user/create_anonymous", {"client": h.client_key})
        )
        assert (status, code) == (429, 14)
        assert "0.100000 requests per second" in message
        # Keyless user endpoints have no application bucket.
        assert post(h, "/v2/user/lookup", {"user": h.user_key}).status_code == 200
    finally:
        h.close()
