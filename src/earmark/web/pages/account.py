"""Local accounts: sign up, sign in, sign out (POST), change password, the user API key.

Sign-in and sign-up attempts are rate-limited per client IP and per login name (setting
``web_login_rate``), before any password is hashed. A wrong login and a wrong password get the
same answer after the same work (a dummy hash is checked when the login does not exist).
"""

from __future__ import annotations

import re
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from earmark import passwords
from earmark.db import accounts, logins
from earmark.db.engine import Connections
from earmark.ratelimit import Charge, canonical_ip
from earmark.web.access import (
    forget_account,
    require_account,
    safe_return_url,
    services_of,
    session_of,
)
from earmark.web.forms import read_form, text_field
from earmark.web.middleware import csp
from earmark.web.render import render

LOGIN_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{2,31}")
EMAIL_PATTERN = re.compile(r"[^@\s]{1,64}@[^@\s]{1,190}")
WRONG_LOGIN = "Wrong user name or password."
TOO_MANY = "Too many attempts: wait a minute and try again."


async def _allowed(request: Request, kind: str, login: str) -> bool:
    """Count one attempt of ``kind`` for the client's IP and for ``login``."""
    services = services_of(request)
    rate = services.config.login_rate
    if rate <= 0:
        return True
    ip = canonical_ip(request.client.host if request.client else "")
    verdict = await services.login_window.charge(
        [
            Charge(f"web_{kind}_ip", ip, rate),
            Charge(f"web_{kind}_login", logins.normalise(login)[: logins.LOGIN_MAX], rate),
        ]
    )
    return verdict.allowed


def _password_fields(form: FormData) -> tuple[str, str]:
    return (
        text_field(form, "password", max_length=passwords.MAX_LENGTH + 1, strip=False),
        text_field(form, "password2", max_length=passwords.MAX_LENGTH + 1, strip=False),
    )


# --- sign up ---------------------------------------------------------------------------------


def signup_problem(login: str, password: str, again: str, email: str) -> str | None:
    if not LOGIN_PATTERN.fullmatch(login):
        return (
            "The user name must have 3 to 32 characters: letters, digits, '.', '_' or '-', "
            "starting with a letter or digit."
        )
    if email and not EMAIL_PATTERN.fullmatch(email):
        return "The email address does not look like one."
    if password != again:
        return "The two passwords differ."
    return passwords.problem(password)


async def signup_form(request: Request) -> Response:
    context = {"values": {"login": "", "email": ""}, "error": None}
    return await render(request, "signup.html", context)


async def signup(request: Request) -> Response:
    form = await read_form(request)
    login = text_field(form, "login", max_length=logins.LOGIN_MAX)
    email = text_field(form, "email", max_length=254)
    password, again = _password_fields(form)
    values = {"login": login, "email": email}
    problem = signup_problem(login, password, again, email)
    status = 400
    if problem is None and not await _allowed(request, "signup", login):
        problem, status = TOO_MANY, 429
    if problem is None:
        password_hash = await _hash(password)
        services = services_of(request)

        def create(conns: Connections) -> accounts.Account | None:
            return logins.create_account(conns.app, login, password_hash, email=email or None)

        created = await services.write(create)
        if created is None:
            problem = "This user name is taken: choose another."
        else:
            _sign_in(request, created.id)
            return RedirectResponse("/api-key", status_code=303)
    context = {"values": values, "error": problem}
    return await render(request, "signup.html", context, status)


async def _hash(password: str) -> str:

    return await run_in_threadpool(passwords.hash_password, password)


def _sign_in(request: Request, account_id: int) -> None:
    session_of(request).sign_in(account_id)
    forget_account(request)


# --- sign in / out -----------------------------------------------------------------------------


def _login_page(request: Request, return_url: str, login: str) -> dict[str, Any]:
    """What the sign-in page shows besides its error: the form's values and the buttons of
    the OAuth providers this site offers (earmark.web.pages.signin_oauth)."""
    choices = services_of(request).config.oauth.choices()
    return {"return_url": return_url, "login": login, "sign_in_with": choices}


async def _render_login(request: Request, context: dict[str, Any], status: int = 200) -> Response:
    response = await render(request, "login.html", context, status)
    targets = services_of(request).config.oauth.form_targets()
    if targets:  # the sign-in buttons' forms redirect to the providers
        response.headers["content-security-policy"] = csp(form_action=targets)
    return response


async def login_form(request: Request) -> Response:
    return_url = safe_return_url(request.query_params.get("return_url"))
    context = _login_page(request, return_url, "")
    return await _render_login(request, {**context, "error": None})


async def _check_login(request: Request, login: str, password: str) -> int | None:
    """The account id of a right login and password (an active account); else None."""

    services = services_of(request)

    def find(conns: Connections) -> tuple[logins.Login | None, accounts.Account | None]:
        found = logins.get(conns.app, login)
        return found, None if found is None else accounts.get(conns.app, found.account_id)

    found, account = await services.read(find)
    stored = found.password_hash if found is not None else passwords.dummy_hash()
    right = await run_in_threadpool(passwords.verify, stored, password)
    if not right or account is None or not account.active:
        return None
    return account.id


async def login(request: Request) -> Response:
    form = await read_form(request)
    login_name = text_field(form, "login", max_length=logins.LOGIN_MAX)
    password = text_field(form, "password", max_length=passwords.MAX_LENGTH, strip=False)
    return_url = safe_return_url(text_field(form, "return_url", max_length=2000))
    context = _login_page(request, return_url, login_name)
    if not await _allowed(request, "login", login_name):
        return await _render_login(request, {**context, "error": TOO_MANY}, 429)
    account_id = await _check_login(request, login_name, password) if login_name else None
    if account_id is None:
        return await _render_login(request, {**context, "error": WRONG_LOGIN}, 400)
    await services_of(request).write(lambda c: accounts.touch_login(c.app, account_id))
    _sign_in(request, account_id)
    return RedirectResponse(return_url, status_code=303)


async def logout(request: Request) -> Response:
    await read_form(request)
    session_of(request).sign_out()
    forget_account(request)
    return RedirectResponse("/", status_code=303)


# --- change password -------------------------------------------------------------------------


async def change_password_form(request: Request) -> Response:
    account = await require_account(request)
    found = await services_of(request).read(lambda c: logins.get_by_account(c.app, account.id))
    context = {"has_password": found is not None, "error": None, "done": False}
    return await render(request, "change_password.html", context)


async def change_password(request: Request) -> Response:
    account = await require_account(request)
    form = await read_form(request)
    current = text_field(form, "current", max_length=passwords.MAX_LENGTH, strip=False)
    password, again = _password_fields(form)
    services = services_of(request)
    found = await services.read(lambda c: logins.get_by_account(c.app, account.id))
    context: dict[str, Any] = {"has_password": found is not None, "done": False}
    if found is None:
        return await render(request, "change_password.html", {**context, "error": None}, 400)

    if not await _allowed(request, "login", found.login):
        return await render(request, "change_password.html", {**context, "error": TOO_MANY}, 429)
    if not await run_in_threadpool(passwords.verify, found.password_hash, current):
        error = "The current password is wrong."
        return await render(request, "change_password.html", {**context, "error": error}, 400)
    problem = "The two new passwords differ." if password != again else None
    problem = problem or passwords.problem(password)
    if problem is not None:
        return await render(request, "change_password.html", {**context, "error": problem}, 400)
    new_hash = await _hash(password)
    await services.write(lambda c: logins.set_password(c.app, account.id, new_hash))
    _sign_in(request, account.id)  # a new session id: tokens of the old one stop working
    return await render(request, "change_password.html", {**context, "error": None, "done": True})


# --- the user API key ------------------------------------------------------------------------


async def api_key(request: Request) -> Response:
    account = await require_account(request)
    context = {"apikey": account.apikey, "renewed": request.query_params.get("renewed") == "1"}
    return await render(request, "api_key.html", context)


async def api_key_renew(request: Request) -> Response:
    """A POST: first the confirmation page, then (``confirm=yes``) the new key."""
    account = await require_account(request)
    form = await read_form(request)
    if text_field(form, "confirm", max_length=10) != "yes":
        return await render(request, "api_key_confirm.html")
    await services_of(request).write(lambda c: accounts.regenerate_api_key(c.app, account.id))
    return RedirectResponse("/api-key?renewed=1", status_code=303)


ROUTES: list[BaseRoute] = [
    Route("/signup", signup_form, methods=["GET", "HEAD"], name="signup_form"),
    Route("/signup", signup, methods=["POST"], name="signup"),
    Route("/login", login_form, methods=["GET", "HEAD"], name="login_form"),
    Route("/login", login, methods=["POST"], name="login"),
    Route("/logout", logout, methods=["POST"], name="logout"),
    Route("/change-password", change_password_form, methods=["GET", "HEAD"]),
    Route("/change-password", change_password, methods=["POST"], name="change_password"),
    Route("/api-key", api_key, methods=["GET", "HEAD"], name="api_key"),
    Route("/api-key", api_key_renew, methods=["POST"], name="api_key_renew"),
]
