"""Who is asking, and what they may see: the helpers every page group uses.

- :func:`current_account`: the signed-in account, or None (a deactivated account counts as
  signed out);
- :func:`require_account`: the same, or a redirect to the sign-in page that comes back here;
- :func:`is_moderator`, :func:`is_admin`: the roles (reference §9.4: a MusicBrainz user name
  makes a moderator; here an admin can also grant it);
- :func:`not_found`: owner-only pages answer 404 to everybody else, not 403;
- :func:`safe_return_url`: a ``return_url`` is followed only when it is a path of this site.
"""

from __future__ import annotations

from typing import NoReturn
from urllib.parse import urlencode

from starlette.exceptions import HTTPException
from starlette.requests import Request

from earmark.db import accounts
from earmark.db.accounts import Account
from earmark.web.middleware import SCOPE_KEY
from earmark.web.services import WebServices
from earmark.web.session import WebSession

_ACCOUNT_KEY = "earmark.web.account"
LOGIN_PATH = "/login"


class Redirect(Exception):  # noqa: N818 - a control-flow signal, not an error
    """Raised by a helper to answer with a redirect (303: the next request is a GET)."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.url = url


def services_of(request: Request) -> WebServices:
    services: WebServices = request.app.state.web
    return services


def session_of(request: Request) -> WebSession:
    session: WebSession = request.scope[SCOPE_KEY]
    return session


async def current_account(request: Request) -> Account | None:
    """The signed-in account (read once per request)."""
    if _ACCOUNT_KEY in request.scope:
        found: Account | None = request.scope[_ACCOUNT_KEY]
        return found
    session = session_of(request)
    account = None
    if session.account_id is not None:
        account_id = session.account_id
        account = await services_of(request).read(lambda c: accounts.get(c.app, account_id))
        if account is not None and not account.active:
            account = None
    request.scope[_ACCOUNT_KEY] = account
    return account


def forget_account(request: Request) -> None:
    """After a sign-in or sign-out: the next :func:`current_account` reads the session again."""
    request.scope.pop(_ACCOUNT_KEY, None)


async def require_account(request: Request) -> Account:
    """The signed-in account; else a redirect to the sign-in page, back here afterwards."""
    account = await current_account(request)
    if account is None:
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise Redirect(f"{LOGIN_PATH}?{urlencode({'return_url': here})}")
    return account


def is_moderator(account: Account | None) -> bool:
    """May link and unlink MBIDs: a MusicBrainz user (as the reference), a granted
    moderator, or an admin."""
    if account is None:
        return False
    return bool(account.mbuser) or account.is_moderator or account.is_admin


def is_admin(account: Account | None) -> bool:
    return account is not None and account.is_admin


def not_found() -> NoReturn:
    """Answer the 404 page (also to whoever may not see a page that exists)."""
    raise HTTPException(404)


def safe_return_url(url: str | None, default: str = "/") -> str:
    """``url`` when it is a path of this site (``/…``, not ``//host``, no scheme, no
    backslash, no control character); else ``default``."""
    if not url or not url.startswith("/") or url.startswith("//"):
        return default
    if "\\" in url or any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in url):
        return default
    return url
