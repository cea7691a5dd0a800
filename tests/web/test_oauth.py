"""Sign-in with MusicBrainz and OpenID Connect against a real provider on 127.0.0.1."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import socket
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar
from urllib.parse import parse_qs, parse_qsl, urlsplit

import httpx
import pytest

from earmark.settings import Secret, Settings
from earmark.web.oauth import (
    MAX_ANSWER_BYTES,
    OIDC,
    Identity,
    OAuthError,
    Provider,
    Token,
    authorization_url,
    check_callback,
    endpoint_problem,
    exchange_code,
    musicbrainz_provider,
    new_state,
    oidc_provider,
    userinfo,
)
from tests.web.oauth_provider import (
    DISCOVERY,
    TOKEN,
    USERINFO,
    Misbehaviour,
    OAuthProvider,
    User,
    running_provider,
)

REDIRECT = "http://127.0.0.1:9/login/musicbrainz"  # never followed: the test reads Location
T = TypeVar("T")


@pytest.fixture
def idp() -> Iterator[OAuthProvider]:
    with running_provider(redirect_uris={REDIRECT}, user=User(sub="alice")) as provider:
        yield provider


def settings_for(idp: OAuthProvider, **changes: Any) -> Settings:
    return dataclasses.replace(
        Settings(),
        musicbrainz_oauth_client_id=idp.client_id,
        musicbrainz_oauth_client_secret=Secret(idp.client_secret),
        musicbrainz_oauth_authorize_url=idp.authorize_url,
        musicbrainz_oauth_token_url=idp.token_url,
        musicbrainz_userinfo_url=idp.userinfo_url,
        **changes,
    )


def mb(idp: OAuthProvider) -> Provider:
    provider = musicbrainz_provider(settings_for(idp))
    assert provider is not None
    return provider


def run(work: Callable[[httpx.AsyncClient], Awaitable[T]]) -> T:
    async def main() -> T:
        async with httpx.AsyncClient() as http:
            return await work(http)

    return asyncio.run(main())


async def browser_visit(provider: Provider, http: httpx.AsyncClient) -> tuple[dict[str, str], str]:
    """What a browser does: open the authorization URL and come back; the callback's query and
    the state the site stored."""
    state = new_state()
    response = await http.get(authorization_url(provider, state, REDIRECT))
    assert response.status_code == 302, response.text
    location = response.headers["location"]
    assert location.startswith(REDIRECT + "?")
    return dict(parse_qsl(urlsplit(location).query)), state


async def full_flow(provider: Provider, http: httpx.AsyncClient) -> Identity:
    params, state = await browser_visit(provider, http)
    code = check_callback(params, state)
    token = await exchange_code(provider, code, REDIRECT, http)
    return await userinfo(provider, token, http)


def failure(work: Callable[[httpx.AsyncClient], Awaitable[Any]]) -> OAuthError:
    with pytest.raises(OAuthError) as caught:
        run(work)
    return caught.value


# --- the flows -------------------------------------------------------------------------------


def test_musicbrainz_sign_in(idp: OAuthProvider) -> None:
    provider = mb(idp)
    assert provider.scope == "profile"
    url = urlsplit(authorization_url(provider, "s t&ate", REDIRECT))
    query = parse_qs(url.query)
    assert f"{url.scheme}://{url.netloc}{url.path}" == idp.authorize_url
    assert query == {
        "response_type": ["code"],
        "client_id": [idp.client_id],
        "redirect_uri": [REDIRECT],
        "scope": ["profile"],
        "state": ["s t&ate"],
    }
    identity = run(lambda http: full_flow(provider, http))
    assert identity == Identity("musicbrainz", "alice", "alice", None)
    assert idp.token_auth_seen == ["post"]


def test_musicbrainz_is_off_without_a_client_id() -> None:
    assert musicbrainz_provider(Settings()) is None
    assert Settings().musicbrainz_oauth_authorize_url == "https://musicbrainz.org/oauth2/authorize"
    assert Settings().musicbrainz_oauth_token_url == "https://musicbrainz.org/oauth2/token"


def oidc_settings(idp: OAuthProvider, **changes: Any) -> Settings:
    return dataclasses.replace(
        Settings(),
        oidc_client_id=idp.client_id,
        oidc_client_secret=Secret(idp.client_secret),
        **changes,
    )


def test_oidc_sign_in_with_discovery(idp: OAuthProvider) -> None:
    idp.user = User(sub="10769150350006150715113082367", name="Ada L", email="ada@example.org")
    settings = oidc_settings(idp, oidc_issuer=idp.issuer, oidc_name="Example ID")

    async def work(http: httpx.AsyncClient) -> tuple[Provider, Identity]:
        provider = await oidc_provider(settings, http)
        assert provider is not None
        return provider, await full_flow(provider, http)

    provider, identity = run(work)
    assert (provider.label, provider.scope, provider.token_auth) == (
        "Example ID",
        "openid email profile",
        "post",
    )
    assert provider.token_url == idp.token_url
    assert identity == Identity(OIDC, "10769150350006150715113082367", "Ada L", "ada@example.org")


def test_oidc_basic_client_auth_when_discovery_says_so(idp: OAuthProvider) -> None:
    document = run(lambda http: http.get(idp.issuer + DISCOVERY)).json()
    document["token_endpoint_auth_methods_supported"] = ["client_secret_basic"]
    idp.misbehave[DISCOVERY] = Misbehaviour(body=json.dumps(document).encode())
    settings = oidc_settings(idp, oidc_issuer=idp.issuer)

    async def work(http: httpx.AsyncClient) -> Identity:
        provider = await oidc_provider(settings, http)
        assert provider is not None
        assert provider.token_auth == "basic"
        assert provider.label == "127.0.0.1"  # no oidc_name: the issuer's host
        return await full_flow(provider, http)

    assert run(work).subject == "alice"
    assert idp.token_auth_seen == ["basic"]


def test_oidc_endpoints_from_settings_need_no_discovery(idp: OAuthProvider) -> None:
    idp.misbehave[DISCOVERY] = Misbehaviour(status=500)  # never asked
    idp.user = User(sub="u1", email="bob@example.org", email_verified=False)
    settings = oidc_settings(
        idp,
        oidc_authorize_url=idp.authorize_url,
        oidc_token_url=idp.token_url,
        oidc_userinfo_url=idp.userinfo_url,
    )

    async def work(http: httpx.AsyncClient) -> Identity:
        provider = await oidc_provider(settings, http)
        assert provider is not None
        return await full_flow(provider, http)

    # An email the provider says is unverified is not taken.
    assert run(work) == Identity(OIDC, "u1", None, None)


def test_oidc_settings_that_cannot_work(idp: OAuthProvider) -> None:
    assert run(lambda http: oidc_provider(Settings(), http)) is None
    with pytest.raises(ValueError, match="oidc_issuer"):
        run(lambda http: oidc_provider(oidc_settings(idp, oidc_token_url=idp.token_url), http))
    with pytest.raises(ValueError, match="https"):
        run(lambda http: oidc_provider(oidc_settings(idp, oidc_issuer="http://example.org"), http))


@pytest.mark.parametrize(
    ("document", "why"),
    [
        ({"issuer": "https://evil.example"}, "names another issuer"),
        ({"authorization_endpoint": "http://example.org/auth"}, "plain http off loopback"),
        ({"token_endpoint": 5}, "an endpoint that is not a string"),
    ],
)
def test_a_discovery_document_that_cannot_be_trusted(
    idp: OAuthProvider, document: dict[str, Any], why: str
) -> None:
    good = run(lambda http: http.get(idp.issuer + DISCOVERY)).json()
    idp.misbehave[DISCOVERY] = Misbehaviour(body=json.dumps(good | document).encode())
    settings = oidc_settings(idp, oidc_issuer=idp.issuer)
    assert failure(lambda http: oidc_provider(settings, http)).reason == "malformed", why


def test_a_discovery_document_without_an_endpoint(idp: OAuthProvider) -> None:
    good = run(lambda http: http.get(idp.issuer + DISCOVERY)).json()
    del good["userinfo_endpoint"]
    idp.misbehave[DISCOVERY] = Misbehaviour(body=json.dumps(good).encode())
    settings = oidc_settings(idp, oidc_issuer=idp.issuer)
    error = failure(lambda http: oidc_provider(settings, http))
    assert error.reason == "misconfigured"
    assert "userinfo_endpoint" in error.message


# --- the callback ----------------------------------------------------------------------------


def test_a_wrong_missing_or_reused_state_is_refused(idp: OAuthProvider) -> None:
    params, state = run(lambda http: browser_visit(mb(idp), http))
    for expected, received in [
        (new_state(), params),  # another session's, or forged
        (None, params),  # no sign-in started here, or the state was used already
        ("", params),
        (state, {k: v for k, v in params.items() if k != "state"}),
        (state, params | {"state": state + "x"}),
    ]:
        with pytest.raises(OAuthError) as caught:
            check_callback(received, expected)
        assert caught.value.reason == "bad_state"
        assert "sign-in link" in caught.value.message
    assert check_callback(params, state) == params["code"]


def test_a_user_who_declines(idp: OAuthProvider) -> None:
    idp.deny = True
    params, state = run(lambda http: browser_visit(mb(idp), http))
    assert "code" not in params
    with pytest.raises(OAuthError) as caught:
        check_callback(params, state)
    assert caught.value.reason == "denied"
    with pytest.raises(OAuthError) as caught:  # a forged "declined" learns nothing
        check_callback(params, new_state())
    assert caught.value.reason == "bad_state"
    with pytest.raises(OAuthError) as caught:
        check_callback({"state": state, "error": "server_error"}, state)
    assert caught.value.reason == "refused"


@pytest.mark.parametrize("code", [None, "", "a b", "a\r\nSet-Cookie: x=1", "é", "c" * 2049])
def test_an_unusable_code(code: str | None) -> None:
    params = {"state": "s"} | ({} if code is None else {"code": code})
    with pytest.raises(OAuthError) as caught:
        check_callback(params, "s")
    assert caught.value.reason == "bad_callback"


def test_the_provider_refuses_an_unregistered_redirect(idp: OAuthProvider) -> None:
    url = authorization_url(mb(idp), new_state(), "http://127.0.0.1:9/elsewhere")
    assert run(lambda http: http.get(url)).status_code == 400


# --- the code exchange ------------------------------------------------------------------------


def test_a_code_works_once_and_a_replay_revokes_its_token(idp: OAuthProvider) -> None:
    provider = mb(idp)

    async def work(http: httpx.AsyncClient) -> tuple[Token, OAuthError]:
        params, state = await browser_visit(provider, http)
        code = check_callback(params, state)
        token = await exchange_code(provider, code, REDIRECT, http)
        assert (await userinfo(provider, token, http)).subject == "alice"
        with pytest.raises(OAuthError) as again:
            await exchange_code(provider, code, REDIRECT, http)
        return token, again.value

    token, again = run(work)
    assert again.reason == "refused"
    assert "used already" in again.message
    assert failure(lambda http: userinfo(provider, token, http)).reason == "refused"


def test_a_code_for_another_redirect_or_unknown_is_refused(idp: OAuthProvider) -> None:
    provider = mb(idp)

    async def other_redirect(http: httpx.AsyncClient) -> Token:
        params, state = await browser_visit(provider, http)
        return await exchange_code(provider, check_callback(params, state), REDIRECT + "x", http)

    assert failure(other_redirect).reason == "refused"
    assert failure(lambda http: exchange_code(provider, "made-up", REDIRECT, http)).reason == (
        "refused"
    )


def test_a_wrong_client_secret_says_the_site_is_misconfigured(idp: OAuthProvider) -> None:
    provider = dataclasses.replace(mb(idp), client_secret=Secret("wrong"))

    async def work(http: httpx.AsyncClient) -> Token:
        params, state = await browser_visit(provider, http)
        return await exchange_code(provider, check_callback(params, state), REDIRECT, http)

    error = failure(work)
    assert error.reason == "misconfigured"
    assert "wrong" not in error.message


# --- a provider that misbehaves ---------------------------------------------------------------

VALID_TOKEN = b'{"access_token": "abc", "token_type": "Bearer"}'


def said(answer: Any, status: int = 200) -> Misbehaviour:
    """An endpoint answering ``answer`` as JSON."""
    return Misbehaviour(status, json.dumps(answer).encode())


def page(body: bytes, status: int = 200) -> Misbehaviour:
    """An endpoint answering something that is not JSON."""
    return Misbehaviour(status, body, "text/html")


HOSTILE_ANSWERS: list[tuple[str, str, Misbehaviour, str]] = [
    ("token 500", TOKEN, page(b"<h1>Internal trace: secret</h1>", 500), "unavailable"),
    ("token 502 JSON", TOKEN, said({"error": "bad gateway"}, 502), "unavailable"),
    ("token redirect", TOKEN, page(b"", 302), "unavailable"),
    ("token not JSON", TOKEN, page(b"<html>hello</html>"), "malformed"),
    ("token not UTF-8", TOKEN, Misbehaviour(200, b"\xff\xfe{}"), "malformed"),
    ("token empty", TOKEN, Misbehaviour(200, b""), "malformed"),
    ("token a list", TOKEN, said([1, 2]), "malformed"),
    ("token deep", TOKEN, Misbehaviour(200, b"[" * 60000), "malformed"),
    ("token no access_token", TOKEN, said({"token_type": "Bearer"}), "malformed"),
    ("token type mac", TOKEN, said({"access_token": "a", "token_type": "mac"}), "malformed"),
    ("token with space", TOKEN, said({"access_token": "a b", "token_type": "bearer"}), "malformed"),
    ("token huge declared", TOKEN, page(b" " * MAX_ANSWER_BYTES + VALID_TOKEN), "too_large"),
    ("token huge streamed", TOKEN, Misbehaviour(huge=10 * 1024 * 1024), "too_large"),
    ("token hangs", TOKEN, Misbehaviour(hang=True), "timeout"),
    ("token trickles", TOKEN, Misbehaviour(trickle=True), "timeout"),
    ("userinfo 503", USERINFO, page(b"down", 503), "unavailable"),
    ("userinfo 401", USERINFO, page(b"", 401), "refused"),
    ("userinfo not JSON", USERINFO, page(b"sub=alice"), "malformed"),
    ("userinfo no sub", USERINFO, said({"name": "alice"}), "malformed"),
    ("userinfo sub a number", USERINFO, said({"sub": 42}), "malformed"),
    ("userinfo sub blank", USERINFO, said({"sub": "  "}), "malformed"),
    ("userinfo sub control", USERINFO, said({"sub": "al\u0000ice"}), "malformed"),
    ("userinfo sub long", USERINFO, said({"sub": "a" * 256}), "malformed"),
    ("userinfo huge streamed", USERINFO, Misbehaviour(huge=1024 * 1024), "too_large"),
    ("userinfo hangs", USERINFO, Misbehaviour(hang=True), "timeout"),
]


@pytest.mark.parametrize(
    ("path", "bad", "reason"),
    [case[1:] for case in HOSTILE_ANSWERS],
    ids=[case[0] for case in HOSTILE_ANSWERS],
)
def test_hostile_or_broken_answers(
    idp: OAuthProvider, path: str, bad: Misbehaviour, reason: str
) -> None:
    provider = mb(idp)

    async def work(http: httpx.AsyncClient) -> Identity:
        params, state = await browser_visit(provider, http)
        code = check_callback(params, state)
        token = await exchange_code(provider, code, REDIRECT, http, timeout=0.5)
        idp.misbehave[path] = bad  # from now on: the token endpoint has answered already
        return await userinfo(provider, token, http, timeout=0.5)

    if path == TOKEN:
        idp.misbehave[path] = bad
    error = failure(work)
    assert error.reason == reason
    assert error.message.startswith("MusicBrainz ")
    assert "secret" not in error.message
    assert "Internal" not in error.message


def test_a_provider_that_is_down() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    provider = Provider(
        name="musicbrainz",
        label="MusicBrainz",
        client_id="c",
        client_secret=Secret("s"),
        authorize_url=base + "/oauth2/authorize",
        token_url=base + "/oauth2/token",
        userinfo_url=base + "/oauth2/userinfo",
        scope="profile",
    )
    error = failure(lambda http: exchange_code(provider, "code", REDIRECT, http))
    assert (error.reason, error.message) == (
        "unavailable",
        "MusicBrainz is not available right now. Please try again later.",
    )


def test_a_discovery_that_fails(idp: OAuthProvider) -> None:
    settings = oidc_settings(idp, oidc_issuer=idp.issuer)
    for bad, reason in [
        (Misbehaviour(500, b"oops", "text/plain"), "unavailable"),
        (Misbehaviour(200, b"not json", "text/plain"), "malformed"),
        (Misbehaviour(huge=1024 * 1024), "too_large"),
        (Misbehaviour(hang=True), "timeout"),
    ]:
        idp.misbehave[DISCOVERY] = bad
        error = failure(lambda http: oidc_provider(settings, http, timeout=0.5))
        assert error.reason == reason


# --- configuration ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("https://musicbrainz.org/oauth2/token", None),
        ("http://127.0.0.1:8080/token", None),
        ("http://localhost/token", None),
        ("http://[::1]/token", None),
        ("http://musicbrainz.org/oauth2/token", "https"),
        ("http://127.0.0.1.evil.example/token", "https"),
        ("ftp://example.org/token", "https"),
        ("/oauth2/token", "absolute"),
        ("", "absolute"),
    ],
)
def test_endpoints_must_be_https(url: str, problem: str | None) -> None:
    found = endpoint_problem(url)
    assert (found is None) if problem is None else (found is not None and problem in found)


def test_a_provider_with_a_plain_http_endpoint_is_refused(idp: OAuthProvider) -> None:
    with pytest.raises(ValueError, match="token_url must be an https URL"):
        dataclasses.replace(mb(idp), token_url="http://example.org/token")
    with pytest.raises(ValueError, match="client id"):
        dataclasses.replace(mb(idp), client_id="")


def test_secrets_stay_out_of_reprs(idp: OAuthProvider) -> None:
    provider = mb(idp)
    token = Token(Secret("the-access-token"), "Bearer", 3600, None)
    assert idp.client_secret not in repr(provider)
    assert "the-access-token" not in repr(token)


def test_authorization_url_keeps_the_configured_query(idp: OAuthProvider) -> None:
    provider = dataclasses.replace(mb(idp), authorize_url=idp.authorize_url + "?prompt=consent")
    query = parse_qs(urlsplit(authorization_url(provider, "st", REDIRECT)).query)
    assert query["prompt"] == ["consent"]
    assert query["state"] == ["st"]


def test_new_state_is_random_and_url_safe() -> None:
    states = {new_state() for _ in range(100)}
    assert len(states) == 100
    assert all(len(s) >= 43 and s.replace("-", "").replace("_", "").isalnum() for s in states)
