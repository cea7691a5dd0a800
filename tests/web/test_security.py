"""The Security list of issue 15 for the foundation: CSRF, the session cookie, headers,
static files, error pages, oversized forms, hostile text, sign-in rate limits."""

from __future__ import annotations

import base64
import json
import re

from starlette.requests import Request
from starlette.routing import Route

from earmark.db import accounts, logins, tables
from earmark.ratelimit import MemoryWindow
from earmark.web.services import WebConfig
from earmark.web.session import COOKIE_NAME
from tests.web.harness import PASSWORD, SECRET, WebHarness, csrf_token

HOSTILE = '"><img src=x onerror=alert(1)>'


def _cookie_header(answer) -> str:  # type: ignore[no-untyped-def]
    found = [v for k, v in answer.headers.multi_items() if k == "set-cookie"]
    assert found, "no cookie was set"
    last: str = found[-1]
    return last


def test_csrf_missing_or_wrong_is_403_and_changes_nothing(web: WebHarness) -> None:
    web.token("/signup")  # the visitor has a session
    data = {"login": "mallory", "password": PASSWORD, "password2": PASSWORD}
    for token in (None, "", "0" * 64):
        sent = data if token is None else {**data, "csrf_token": token}
        answer = web.client.post("/signup", data=sent)
        assert answer.status_code == 403
        assert "security token" in answer.text
        assert "<footer" in answer.text
    # A visitor without any session cookie cannot post either.
    fresh = web.new_client()
    assert fresh.post("/signup", data={**data, "csrf_token": "x"}).status_code == 403
    with web.dbs.read() as conns:
        assert logins.get(conns.app, "mallory") is None


def test_token_of_another_session_is_refused(web: WebHarness) -> None:
    other = web.new_client()
    foreign = web.token("/signup", other)
    web.token("/signup")
    data = {"login": "mallory", "password": PASSWORD, "password2": PASSWORD}
    assert web.client.post("/signup", data={**data, "csrf_token": foreign}).status_code == 403


def test_session_cookie_flags_and_rotation(web: WebHarness) -> None:
    web.create_account("grace")
    login_page = web.client.get("/login")
    before = _cookie_header(login_page)
    assert "HttpOnly" in before
    assert "SameSite=Lax" in before
    assert "Secure" not in before
    token = csrf_token(login_page.text)
    answer = web.client.post(
        "/login",
        data={"login": "grace", "password": PASSWORD, "csrf_token": token},
        follow_redirects=False,
    )
    after = _cookie_header(answer)
    assert after.split(";")[0] != before.split(";")[0]
    # The session id changed at sign-in: the token of the page before it is refused.
    assert web.client.post("/logout", data={"csrf_token": token}).status_code == 403
    # The cookie is JSON signed by itsdangerous: readable, never a pickle, and tamper-evident.
    value = after.split(";")[0].split("=", 1)[1]
    payload = value.split(".")[0]
    data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert set(data) == {"sid", "aid"}
    for cookie, signed_in in [
        (value, True),
        (value[:-2] + ("AA" if value[-2:] != "AA" else "BB"), False),
    ]:
        client = web.new_client()
        client.cookies.set(COOKIE_NAME, cookie)
        assert ("Signed in as" in client.get("/").text) is signed_in
        client.__exit__(None, None, None)


def test_secure_cookie_over_https(dbs) -> None:  # type: ignore[no-untyped-def]
    web = WebHarness(dbs, config=WebConfig(secret=SECRET, https=True, login_rate=0))
    try:
        assert "; Secure" in _cookie_header(web.client.get("/login"))
    finally:
        web.close()


def test_pages_without_forms_set_no_cookie(web: WebHarness) -> None:
    assert "set-cookie" not in web.client.get("/faq").headers


def test_security_headers_on_pages_errors_and_static(web: WebHarness) -> None:
    css = re.search(r'href="(/static/site\.[0-9a-f]{12}\.css)"', web.client.get("/").text)
    assert css is not None
    for path in ("/", "/login", "/no/such/page", css.group(1)):
        headers = web.client.get(path).headers
        csp = headers["content-security-policy"]
        assert "script-src 'self'" in csp
        assert "unsafe-inline" not in csp
        assert "frame-ancestors 'none'" in csp
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "same-origin"


def test_hashed_static_files(web: WebHarness) -> None:
    url = web.app.state.templates.static.url("site.css")
    answer = web.client.get(url)
    assert answer.status_code == 200
    assert answer.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert answer.headers["content-type"].startswith("text/css")
    for wrong in ("/static/site.css", "/static/site.000000000000.css", "/static/../app.py"):
        assert web.client.get(wrong).status_code == 404


def test_the_favicon_is_linked_and_found_at_its_usual_address(web: WebHarness) -> None:
    icon = web.app.state.templates.static.url("favicon.svg")
    assert f'rel="icon" type="image/svg+xml" href="{icon}"' in web.client.get("/").text
    moved = web.client.get("/favicon.ico", follow_redirects=False)
    assert moved.status_code == 301
    assert moved.headers["location"] == icon
    answer = web.client.get(icon)
    assert answer.headers["content-type"] == "image/svg+xml"
    assert answer.content.startswith(b"<svg")


def test_error_pages(web: WebHarness) -> None:
    missing = web.client.get("/no/such/page")
    assert missing.status_code == 404
    assert "Page not found" in missing.text
    assert "<footer" in missing.text
    wrong_method = web.client.delete("/login")
    assert wrong_method.status_code == 405
    assert "Method not allowed" in wrong_method.text


def test_server_error_page_shows_no_trace(web: WebHarness) -> None:
    async def broken(request: Request) -> None:
        raise RuntimeError("secret internals")

    web.app.router.routes.append(Route("/broken", broken))
    client = web.new_client(raise_server_exceptions=False)
    answer = client.get("/broken")
    assert answer.status_code == 500
    assert "Something went wrong" in answer.text
    assert "secret internals" not in answer.text
    assert "Traceback" not in answer.text
    assert answer.headers["x-content-type-options"] == "nosniff"


def test_oversized_form_is_413_and_changes_nothing(web: WebHarness) -> None:
    token = web.token("/signup")
    big = "x" * (web.services.config.form_max_bytes + 1)
    answer = web.client.post(
        "/signup",
        data={
            "login": "bigger",
            "password": PASSWORD,
            "password2": PASSWORD,
            "email": big,
            "csrf_token": token,
        },
    )
    assert answer.status_code == 413
    assert "Too much data" in answer.text
    with web.dbs.read() as conns:
        assert logins.get(conns.app, "bigger") is None


def test_malformed_forms(web: WebHarness) -> None:
    token = web.token("/login")
    bad_utf8 = web.client.post(
        "/login",
        content=b"csrf_token=" + token.encode() + b"&login=\xff\xfe",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert bad_utf8.status_code == 400
    json_body = web.client.post("/login", json={"csrf_token": token})
    assert json_body.status_code == 400
    many = "&".join(f"f{n}=1" for n in range(500))
    too_many = web.client.post(
        "/login", content=many, headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert too_many.status_code == 400


def test_hostile_account_name_is_escaped(web: WebHarness) -> None:
    account = web.create_account("hostile")
    with web.dbs.write() as conns:
        accounts.create(conns.app, name=HOSTILE)  # another account named so: harmless
        conns.app.execute(
            tables.account.update().where(tables.account.c.id == account.id).values(name=HOSTILE)
        )
    web.sign_in("hostile")
    page = web.client.get("/api-key").text
    assert HOSTILE not in page
    assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in page


def test_sign_in_attempts_are_rate_limited(dbs) -> None:  # type: ignore[no-untyped-def]
    # 0.1 per second over the 20 s window: two attempts, then refused.
    web = WebHarness(dbs, config=WebConfig(secret=SECRET, login_rate=0.1), window=MemoryWindow())
    try:
        web.create_account("henry")
        token = web.token("/login")
        codes = [
            web.client.post(
                "/login", data={"login": "henry", "password": "wrong pass", "csrf_token": token}
            ).status_code
            for _ in range(3)
        ]
        assert codes == [400, 400, 429]
        # Even the right password is refused now, for this login from any address...
        right = web.client.post(
            "/login", data={"login": "henry", "password": PASSWORD, "csrf_token": token}
        )
        assert right.status_code == 429
        assert "Too many attempts" in right.text
        # ...and this address for any login.
        other = web.client.post(
            "/login", data={"login": "someone", "password": PASSWORD, "csrf_token": token}
        )
        assert other.status_code == 429
    finally:
        web.close()
