"""Sign up, sign in, sign out, change password, the user API key."""

from __future__ import annotations

from earmark.db import accounts, logins
from tests.web.harness import PASSWORD, WebHarness, csrf_token


def _signup(web: WebHarness, login: str, password: str = PASSWORD, again: str | None = None):  # type: ignore[no-untyped-def]
    token = web.token("/signup")
    return web.client.post(
        "/signup",
        data={
            "login": login,
            "email": "",
            "password": password,
            "password2": password if again is None else again,
            "csrf_token": token,
        },
        follow_redirects=False,
    )


def test_sign_up_creates_a_signed_in_account(web: WebHarness) -> None:
    answer = _signup(web, "newcomer")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/api-key"
    page = web.client.get("/api-key")
    with web.dbs.read() as conns:
        found = logins.get(conns.app, "NEWCOMER")
        assert found is not None
        account = accounts.get(conns.app, found.account_id)
    assert account is not None
    assert account.name == "newcomer"
    assert account.apikey in page.text
    assert "Signed in as" in page.text
    # The hash is argon2id, never the password.
    assert found.password_hash.startswith("$argon2id$")
    assert PASSWORD not in found.password_hash


def test_sign_up_refuses_bad_input_and_taken_names(web: WebHarness) -> None:
    web.create_account("taken")
    for login, password, again, message in [
        ("taken", PASSWORD, None, "taken"),
        ("TAKEN", PASSWORD, None, "taken"),
        ("x", PASSWORD, None, "3 to 32 characters"),
        ('"><img src=x>', PASSWORD, None, "3 to 32 characters"),
        ("fine-name", "short", None, "at least 8"),
        ("fine-name", PASSWORD, PASSWORD + "!", "differ"),
    ]:
        answer = _signup(web, login, password, again)
        assert answer.status_code == 400, login
        assert message in answer.text
    with web.dbs.read() as conns:
        assert logins.get(conns.app, "fine-name") is None
        assert len(accounts.list_by_name(conns.app, "taken")) == 1


def test_sign_in_wrong_password_and_unknown_user(web: WebHarness) -> None:
    web.create_account("alice")
    token = web.token("/login")
    for login, password in [("alice", "wrong password"), ("nobody", PASSWORD), ("", "")]:
        answer = web.client.post(
            "/login", data={"login": login, "password": password, "csrf_token": token}
        )
        assert answer.status_code == 400
        assert "Wrong user name or password." in answer.text
        assert "Signed in as" not in answer.text


def test_sign_in_follows_a_local_return_url_only(web: WebHarness) -> None:
    web.create_account("bob")
    for given, expected in [
        ("/api-key", "/api-key"),
        ("https://evil.example/", "/"),
        ("//evil.example/x", "/"),
        ("/\\evil.example", "/"),
        ("javascript:alert(1)", "/"),
    ]:
        client = web.new_client()
        token = web.token("/login", client)
        answer = client.post(
            "/login",
            data={"login": "bob", "password": PASSWORD, "csrf_token": token, "return_url": given},
            follow_redirects=False,
        )
        assert answer.status_code == 303
        assert answer.headers["location"] == expected, given
        client.__exit__(None, None, None)
    form = web.client.get("/login", params={"return_url": "https://evil.example/"}).text
    assert 'name="return_url" value="/"' in form


def test_sign_out_is_a_post(web: WebHarness) -> None:
    web.create_account("carol")
    web.sign_in("carol")
    assert web.client.get("/logout").status_code == 405
    assert "Signed in as" in web.client.get("/").text
    token = csrf_token(web.client.get("/").text)
    answer = web.client.post("/logout", data={"csrf_token": token}, follow_redirects=False)
    assert answer.status_code == 303
    assert "Signed in as" not in web.client.get("/").text
    assert web.client.get("/api-key", follow_redirects=False).status_code == 303


def test_change_password(web: WebHarness) -> None:
    web.create_account("dave")
    web.sign_in("dave")
    new = "a much better passphrase"
    token = web.token("/change-password")
    wrong = web.client.post(
        "/change-password",
        data={"current": "nope nope", "password": new, "password2": new, "csrf_token": token},
    )
    assert wrong.status_code == 400
    assert "current password is wrong" in wrong.text
    done = web.client.post(
        "/change-password",
        data={"current": PASSWORD, "password": new, "password2": new, "csrf_token": token},
    )
    assert done.status_code == 200
    assert "has been changed" in done.text
    # The session id changed: the old form token no longer works.
    stale = web.client.post("/logout", data={"csrf_token": token})
    assert stale.status_code == 403
    other = web.new_client()
    web.sign_in("dave", new, client=other)
    login_page = web.token("/login", other)
    refused = other.post(
        "/login", data={"login": "dave", "password": PASSWORD, "csrf_token": login_page}
    )
    assert refused.status_code == 400
    other.__exit__(None, None, None)


def test_api_key_regenerates_after_confirmation_only(web: WebHarness) -> None:
    account = web.create_account("erin")
    web.sign_in("erin")
    page = web.client.get("/api-key")
    assert account.apikey in page.text
    token = csrf_token(page.text)
    confirm = web.client.post("/api-key", data={"csrf_token": token})
    assert confirm.status_code == 200
    assert "Yes, generate a new key" in confirm.text
    with web.dbs.read() as conns:
        assert accounts.get(conns.app, account.id).apikey == account.apikey  # type: ignore[union-attr]
    no_token = web.client.post("/api-key", data={"confirm": "yes"})
    assert no_token.status_code == 403
    with web.dbs.read() as conns:
        assert accounts.get(conns.app, account.id).apikey == account.apikey  # type: ignore[union-attr]
    renewed = web.client.post("/api-key", data={"csrf_token": token, "confirm": "yes"})
    assert renewed.status_code == 200
    assert "A new key was generated" in renewed.text
    with web.dbs.read() as conns:
        new_key = accounts.get(conns.app, account.id).apikey  # type: ignore[union-attr]
    assert new_key != account.apikey
    assert new_key in renewed.text


def test_deactivated_account_is_signed_out(web: WebHarness) -> None:
    account = web.create_account("frank")
    web.sign_in("frank")
    with web.dbs.write() as conns:
        accounts.set_active(conns.app, account.id, False)
    assert "Signed in as" not in web.client.get("/").text
    token = web.token("/login")
    answer = web.client.post(
        "/login", data={"login": "frank", "password": PASSWORD, "csrf_token": token}
    )
    assert answer.status_code == 400
