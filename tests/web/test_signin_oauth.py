"""Sign in with MusicBrainz and OpenID Connect: the site's pages against the real test provider
(tests/web/oauth_provider.py) on 127.0.0.1, over SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from earmark.db import accounts, oauth_signins
from earmark.db.engine import Databases
from earmark.db.tables import account, account_oidc, oauth_state
from earmark.settings import Secret, Settings
from earmark.web.access import is_moderator
from earmark.web.services import WebConfig
from earmark.web.session import COOKIE_NAME, SessionCodec
from earmark.web.signin_providers import SignInProviders
from tests.web.harness import SECRET, WebHarness, csrf_token
from tests.web.oauth_provider import (
    TOKEN,
    USERINFO,
    Misbehaviour,
    OAuthProvider,
    User,
    running_provider,
)

SITE = "http://testserver"


@pytest.fixture
def idp() -> Iterator[OAuthProvider]:
    uris = {f"{SITE}/login/musicbrainz", f"{SITE}/login/oidc"}
    with running_provider(redirect_uris=uris, user=User(sub="alice")) as provider:
        yield provider


def provider_settings(idp: OAuthProvider, *, oidc: bool = True, **changes: Any) -> Settings:
    values: dict[str, Any] = {
        "musicbrainz_oauth_client_id": idp.client_id,
        "musicbrainz_oauth_client_secret": Secret(idp.client_secret),
        "musicbrainz_oauth_authorize_url": idp.authorize_url,
        "musicbrainz_oauth_token_url": idp.token_url,
        "musicbrainz_userinfo_url": idp.userinfo_url,
    }
    if oidc:
        values |= {
            "oidc_client_id": idp.client_id,
            "oidc_client_secret": Secret(idp.client_secret),
            "oidc_issuer": idp.issuer,
            "oidc_name": "Test ID",
        }
    return dataclasses.replace(Settings(), **(values | changes))


def harness(dbs: Databases, settings: Settings | None, *, timeout: float = 5.0) -> WebHarness:
    providers = SignInProviders(settings, timeout=timeout)
    return WebHarness(dbs, config=WebConfig(secret=SECRET, login_rate=0, oauth=providers))


@pytest.fixture
def site(dbs: Databases, idp: OAuthProvider) -> Iterator[WebHarness]:
    web = harness(dbs, provider_settings(idp), timeout=2.0)
    yield web
    web.close()


def start(
    web: WebHarness, name: str, return_url: str = "/", client: TestClient | None = None
) -> str:
    """Press "Sign in with …": the provider's authorization URL the site redirects to."""
    client = client or web.client
    token = web.token("/login", client)
    answer = client.post(
        f"/login/{name}",
        data={"csrf_token": token, "return_url": return_url},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    return answer.headers["location"]


def approve(authorize_url: str) -> str:
    """What the browser does at the provider (it approves at once): the URL it comes back to."""
    answer = httpx.get(authorize_url, follow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text
    return answer.headers["location"]


def sign_in(
    web: WebHarness, name: str, return_url: str = "/", client: TestClient | None = None
) -> httpx.Response:
    back = approve(start(web, name, return_url, client))
    return (client or web.client).get(back, follow_redirects=False)


def session_id(client: TestClient) -> str | None:
    value = client.cookies.get(COOKIE_NAME)
    found = SessionCodec(SECRET).loads(value) if value else None
    return None if found is None else found.sid


def pending(conn: sa.Connection) -> int:
    return int(conn.execute(sa.select(sa.func.count()).select_from(oauth_state)).scalar_one())


def account_count(web: WebHarness) -> int:
    with web.dbs.read() as conns:
        return int(conns.app.execute(sa.select(sa.func.count()).select_from(account)).scalar_one())


# --- the flows -------------------------------------------------------------------------------


def test_musicbrainz_sign_in_makes_a_moderator_account(
    site: WebHarness, idp: OAuthProvider
) -> None:
    authorize = start(site, "musicbrainz", "/api-key")
    query = parse_qs(urlsplit(authorize).query)
    assert authorize.startswith(idp.authorize_url + "?")
    assert query["scope"] == ["profile"]
    assert query["redirect_uri"] == [f"{SITE}/login/musicbrainz"]
    before = session_id(site.client)
    assert before is not None
    back = site.client.get(approve(authorize), follow_redirects=False)
    assert back.status_code == 303, back.text
    assert back.headers["location"] == "/api-key"
    after = session_id(site.client)
    assert after is not None
    assert after != before
    page = site.client.get("/api-key")
    assert 'Signed in as <a href="/api-key">alice</a>' in page.text
    assert "Signed in with MusicBrainz as alice" in page.text
    assert "Moderator" in page.text
    with site.dbs.read() as conns:
        found = accounts.get_by_mbuser(conns.app, "alice")
    assert found is not None
    assert found.name == "alice"
    assert is_moderator(found)
    assert found.lastlogin is not None
    # Signing in again (another browser) finds the same account.
    other = site.new_client()
    assert sign_in(site, "musicbrainz", client=other).status_code == 303
    assert account_count(site) == 1
    assert found.apikey in other.get("/api-key").text


def test_oidc_sign_in_links_the_identity(site: WebHarness, idp: OAuthProvider) -> None:
    idp.user = User(sub="g-1234", name="Grace H", email="grace@example.org", email_verified=True)
    assert sign_in(site, "oidc").status_code == 303
    page = site.client.get("/api-key")
    assert 'Signed in as <a href="/api-key">Grace H</a>' in page.text
    assert "Moderator" not in page.text
    with site.dbs.read() as conns:
        rows = conns.app.execute(sa.select(account_oidc)).all()
        assert [(r.issuer, r.subject, r.email) for r in rows] == [
            (idp.issuer, "g-1234", "grace@example.org")
        ]
        first = accounts.get(conns.app, rows[0].account_id)
    assert first is not None
    assert not is_moderator(first)
    # The same subject under a new name: the same account. Another subject: another account.
    idp.user = User(sub="g-1234", name="Grace Hopper")
    assert sign_in(site, "oidc", client=site.new_client()).status_code == 303
    assert account_count(site) == 1
    idp.user = User(sub="g-5678")
    assert sign_in(site, "oidc", client=site.new_client()).status_code == 303
    with site.dbs.read() as conns:
        second = oauth_signins.get_by_oidc(conns.app, idp.issuer, "g-5678")
    assert second is not None
    assert second.name == "Test ID user"
    assert second.id != first.id


def test_the_login_page_offers_only_enabled_providers(dbs: Databases, idp: OAuthProvider) -> None:
    none = harness(dbs, None)
    mb_only = harness(dbs, provider_settings(idp, oidc=False))
    both = harness(dbs, provider_settings(idp))
    try:
        page = none.client.get("/login").text
        assert "Sign in with" not in page
        token = csrf_token(page)
        refused = none.client.post("/login/musicbrainz", data={"csrf_token": token})
        assert refused.status_code == 404
        assert none.client.get("/login/oidc?code=x&state=y").status_code == 404
        page = mb_only.client.get("/login?return_url=/faq").text
        assert 'action="/login/musicbrainz"' in page
        assert "Sign in with MusicBrainz" in page
        assert 'action="/login/oidc"' not in page
        assert 'name="return_url" value="/faq"' in page
        assert mb_only.client.post("/login/oidc", data={"csrf_token": token}).status_code == 404
        page = both.client.get("/login").text
        assert "Sign in with MusicBrainz" in page
        assert "Sign in with Test ID" in page
    finally:
        for web in (none, mb_only, both):
            web.close()


def test_starting_needs_the_form_token_and_a_bare_callback_goes_to_login(site: WebHarness) -> None:
    site.client.get("/login")
    assert site.client.post("/login/musicbrainz", data={"return_url": "/"}).status_code == 403
    bare = site.client.get("/login/musicbrainz", follow_redirects=False)
    assert bare.status_code == 303
    assert bare.headers["location"] == "/login"
    with site.dbs.read() as conns:
        assert pending(conns.app) == 0
    # A HEAD (a link checker) spends nothing.
    back = approve(start(site, "musicbrainz"))
    assert site.client.head(back).status_code == 200
    assert site.client.get(back, follow_redirects=False).status_code == 303


# --- hostile cases ---------------------------------------------------------------------------


def _with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()} | changes
    return parts._replace(query=httpx.QueryParams(query).__str__()).geturl()


def test_a_wrong_or_reused_state_is_refused(site: WebHarness, idp: OAuthProvider) -> None:
    back = approve(start(site, "musicbrainz"))
    forged = site.client.get(_with_query(back, state="forged-state"), follow_redirects=False)
    assert forged.status_code == 400
    assert "expired or was already used" in forged.text
    assert account_count(site) == 0
    # The real state still works once...
    assert site.client.get(back, follow_redirects=False).status_code == 303
    assert account_count(site) == 1
    # ...and not twice (a replayed callback), even from the session that started it.
    site.client.post("/logout", data={"csrf_token": site.token("/")})
    replay = site.client.get(back, follow_redirects=False)
    assert replay.status_code == 400
    assert "Signed in as" not in replay.text


def test_a_state_works_only_for_its_own_session_and_provider(site: WebHarness) -> None:
    back = approve(start(site, "musicbrainz"))
    # Another browser (an attacker sending the victim their own callback: login CSRF).
    other = site.new_client()
    other.get("/login")
    stolen = other.get(back, follow_redirects=False)
    assert stolen.status_code == 400
    assert "Signed in as" not in other.get("/").text
    # It was spent by the attempt: the session that started it cannot use it either.
    assert site.client.get(back, follow_redirects=False).status_code == 400
    # A state of MusicBrainz presented to the OpenID Connect callback.
    back = approve(start(site, "musicbrainz"))
    crossed = site.client.get(
        back.replace("/login/musicbrainz", "/login/oidc"), follow_redirects=False
    )
    assert crossed.status_code == 400
    # No cookie at all.
    fresh = TestClient(site.app)
    assert fresh.get(approve(start(site, "oidc")), follow_redirects=False).status_code == 400
    assert account_count(site) == 0


def test_an_expired_state_is_refused(site: WebHarness) -> None:
    site.client.get("/login")
    sid = session_id(site.client)
    assert sid is not None
    now = int(time.time())
    with site.dbs.write() as conns:
        assert oauth_signins.save_state(
            conns.app,
            state="an-old-state",
            session_id=sid,
            provider="musicbrainz",
            return_url="/",
            expires=now - 1,
            now=now - 700,
        )
    answer = site.client.get(
        "/login/musicbrainz?state=an-old-state&code=abc", follow_redirects=False
    )
    assert answer.status_code == 400
    with site.dbs.read() as conns:
        assert pending(conns.app) == 0


def test_a_reused_code_is_refused(site: WebHarness) -> None:
    back = approve(start(site, "musicbrainz"))
    code = parse_qs(urlsplit(back).query)["code"][0]
    assert site.client.get(back, follow_redirects=False).status_code == 303
    # Someone who saw the code starts their own sign-in and presents it with their state.
    other = site.new_client()
    theirs = approve(start(site, "musicbrainz", client=other))
    replayed = other.get(_with_query(theirs, code=code), follow_redirects=False)
    assert replayed.status_code == 400
    assert "did not accept the sign-in code" in replayed.text
    assert "Signed in as" not in other.get("/").text
    assert account_count(site) == 1


@pytest.mark.parametrize(
    ("misbehaviour", "status", "message"),
    [
        ("deny", 400, "Sign-in was cancelled"),
        ("token_500", 502, "not available right now"),
        ("userinfo_garbage", 502, "cannot read"),
        ("userinfo_hangs", 504, "did not answer in time"),
    ],
)
def test_provider_failures_are_a_clear_page_and_create_nothing(
    dbs: Databases, idp: OAuthProvider, misbehaviour: str, status: int, message: str
) -> None:
    web = harness(dbs, provider_settings(idp), timeout=1.0)
    try:
        if misbehaviour == "deny":
            idp.deny = True
        elif misbehaviour == "token_500":
            idp.misbehave[TOKEN] = Misbehaviour(500, b"<h1>Internal error</h1>", "text/html")
        elif misbehaviour == "userinfo_garbage":
            idp.misbehave[USERINFO] = Misbehaviour(200, b"<html>not json</html>", "text/html")
        else:
            idp.misbehave[USERINFO] = Misbehaviour(hang=True)
        answer = sign_in(web, "musicbrainz")
        assert answer.status_code == status
        assert message in answer.text
        assert "Internal error" not in answer.text
        assert "Traceback" not in answer.text
        assert "Back to sign-in" in answer.text
        assert account_count(web) == 0
        assert "Signed in as" not in web.client.get("/").text
    finally:
        idp.release()
        web.close()


def test_oidc_discovery_down_is_a_clear_page(dbs: Databases, idp: OAuthProvider) -> None:
    from tests.web.oauth_provider import DISCOVERY

    idp.misbehave[DISCOVERY] = Misbehaviour(503, b"down")
    web = harness(dbs, provider_settings(idp), timeout=1.0)
    try:
        token = web.token("/login")
        answer = web.client.post("/login/oidc", data={"csrf_token": token, "return_url": "/faq"})
        assert answer.status_code == 502
        assert "not available right now" in answer.text
        assert 'href="/login?return_url=/faq"' in answer.text
        with web.dbs.read() as conns:
            assert pending(conns.app) == 0
        # Once it is back, the same site signs in (discovery is retried, then kept).
        del idp.misbehave[DISCOVERY]
        assert sign_in(web, "oidc").status_code == 303
    finally:
        web.close()


@pytest.mark.parametrize(
    "return_url",
    [
        "//evil.example/x",
        "https://evil.example/",
        "/\\evil.example",
        "javascript:alert(1)",
        "/%0d%0aSet-Cookie:x=1",
    ],
)
def test_return_url_must_be_local(site: WebHarness, return_url: str) -> None:
    answer = sign_in(site, "musicbrainz", return_url)
    assert answer.status_code == 303
    # A path of this site (still percent-encoded: no header can be injected) is followed;
    # anything that leaves the site goes home.
    expected = return_url if return_url.startswith("/%") else "/"
    assert answer.headers["location"] == expected


def test_a_local_return_url_is_kept(site: WebHarness) -> None:
    answer = sign_in(site, "oidc", "/api-key?from=signin")
    assert answer.headers["location"] == "/api-key?from=signin"


def test_a_deactivated_account_cannot_sign_in(site: WebHarness) -> None:
    with site.dbs.write() as conns:
        found = accounts.find_or_create_by_mbuser(conns.app, "alice")
        accounts.set_active(conns.app, found.id, False)
    answer = sign_in(site, "musicbrainz")
    assert answer.status_code == 403
    assert "deactivated" in answer.text
    assert "Signed in as" not in site.client.get("/").text


def test_pending_sign_ins_are_bounded(dbs: Databases, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(oauth_signins, "MAX_PENDING", 2)
    now = int(time.time())
    with dbs.write() as conns:
        saved = [
            oauth_signins.save_state(
                conns.app,
                state=f"s{i}",
                session_id="sid",
                provider="oidc",
                return_url="/",
                expires=now + 60,
                now=now,
            )
            for i in range(3)
        ]
        assert saved == [True, True, False]
        # Expired ones make room.
        assert oauth_signins.save_state(
            conns.app,
            state="s9",
            session_id="sid",
            provider="oidc",
            return_url="/",
            expires=now + 700,
            now=now + 61,
        )
        assert pending(conns.app) == 1
        taken = oauth_signins.take_state(conns.app, "s9")
        assert taken is not None
        assert taken.session_hash == oauth_signins.digest("sid")
        assert oauth_signins.take_state(conns.app, "s9") is None


def test_the_login_page_lets_its_forms_go_to_the_providers(
    site: WebHarness, idp: OAuthProvider
) -> None:
    """A form's redirect counts as its target for CSP form-action: the sign-in page allows the
    providers' origins (Chromium blocks the redirect otherwise); other pages only the site."""
    login = site.client.get("/login").headers["content-security-policy"]
    origin = idp.base_url  # http://127.0.0.1:<port>, MusicBrainz and the OIDC issuer alike
    assert f"form-action 'self' {origin};" in login
    assert "script-src 'self';" in login
    assert "frame-ancestors 'none'" in login
    home = site.client.get("/").headers["content-security-policy"]
    assert "form-action 'self';" in home


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"oidc_client_id": "x"}, "set oidc_issuer"),
        ({"oidc_client_id": "x", "oidc_issuer": "http://id.example.org"}, "must be an https URL"),
        (
            {
                "musicbrainz_oauth_client_id": "x",
                "musicbrainz_oauth_token_url": "http://mb.example",
            },
            "must be an https URL",
        ),
    ],
)
def test_unusable_sign_in_settings_stop_the_site_at_start(
    changes: dict[str, str], problem: str
) -> None:
    from earmark.app_web import web_config
    from earmark.errors import ConfigError

    settings = dataclasses.replace(Settings(), web_secret=Secret("s" * 32), **changes)
    with pytest.raises(ConfigError, match=problem):
        web_config(settings)
