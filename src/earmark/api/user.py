"""User keys: look one up, create an anonymous account, or log in with MusicBrainz (§5.4-§5.6).

``create_musicbrainz`` trusts nobody but MusicBrainz: the access token is sent to the configured
OAuth userinfo URL (``services.config.musicbrainz_userinfo_url``) and the account is the one of
the user name (``sub``) that MusicBrainz answers. Any failure there (refusal, unusable reply,
network error, timeout) is error 15, never error 5: the cause is outside Earmark.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import httpx
import sqlalchemy as sa

from earmark.api import errors
from earmark.api.call import Call, Handler, Payload
from earmark.api.params import clean_label
from earmark.db import accounts
from earmark.db.accounts import Account
from earmark.db.engine import write_transaction

log = logging.getLogger(__name__)

#: Seconds to wait for MusicBrainz' userinfo endpoint (connect, read, each).
USERINFO_TIMEOUT = 5.0
#: A userinfo reply is a small JSON object; anything bigger is not one.
_MAX_USERINFO_BYTES = 64 * 1024
#: MusicBrainz user names are short; the cap keeps a hostile reply out of the database.
_MAX_MBUSER_LENGTH = 255


def _user(account: Account) -> Payload:
    return {"user": {"apikey": account.apikey}}


async def lookup(call: Call) -> Payload:
    """``user`` (2 when missing, 6 when unknown) → the same key; never answered from the cache,
    so a regenerated key stops working at once."""
    account = await call.user(cached=False)
    await call.admit(account_id=account.id)
    return _user(account)


async def create_anonymous(call: Call) -> Payload:
    """``client`` (2/4) → a new account named "Anonymous" with its own user key, recording the
    client's IP, application and ``clientversion``."""
    app = await call.application()
    version = clean_label(call.params.get("clientversion"))
    await call.admit(application_id=app.id)

    def create() -> Account:
        with write_transaction(call.services.dbs.app) as conn:
            return accounts.create_anonymous(
                conn, application_id=app.id, application_version=version, created_from=call.ip
            )

    return _user(await call.thread(create))


async def create_musicbrainz(call: Call) -> Payload:
    """``access_token`` (2) over HTTPS only (16) → the account of the MusicBrainz user the token
    belongs to (15 when MusicBrainz does not vouch for it), created on first use."""
    token = call.required("access_token")
    await call.admit()
    if not call.secure:
        raise errors.insecure_request()
    mbuser = await _musicbrainz_user(call.services.config.musicbrainz_userinfo_url, token)
    if mbuser is None:
        raise errors.invalid_musicbrainz_access_token()

    def find_or_create() -> Account:
        with write_transaction(call.services.dbs.app) as conn:
            return accounts.find_or_create_by_mbuser(conn, mbuser, created_from=call.ip)

    try:
        account = await call.thread(find_or_create)
    except sa.exc.IntegrityError:
        # Another request created the same MusicBrainz user's account at the same moment
        # (``mbuser`` is unique): it exists now.
        account = await call.thread(find_or_create)
    return _user(account)


async def _musicbrainz_user(url: str, token: str) -> str | None:
    """The user name MusicBrainz answers for ``token``, or None when it does not."""
    if not token.isascii() or not token.isprintable() or any(c.isspace() for c in token):
        return None  # cannot be a bearer token, and must not reach a header
    try:
        async with asyncio.timeout(USERINFO_TIMEOUT):
            status, body = await _get(url, token)
    except (httpx.HTTPError, TimeoutError) as exc:
        log.warning("MusicBrainz userinfo request failed: %s", type(exc).__name__)
        return None
    if status != 200 or body is None:
        return None
    try:
        info: Any = json.loads(body)
    except (ValueError, RecursionError):  # not JSON, not UTF-8, or hostile nesting
        return None
    sub = info.get("sub") if isinstance(info, dict) else None
    if not isinstance(sub, str) or not sub.strip() or len(sub) > _MAX_MBUSER_LENGTH:
        return None
    if not sub.isprintable():
        return None
    return sub


async def _get(url: str, token: str) -> tuple[int, bytes | None]:
    """GET ``url`` with the bearer token: the status and the body (None when too big)."""
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    async with (
        httpx.AsyncClient(timeout=USERINFO_TIMEOUT, follow_redirects=False) as client,
        client.stream("GET", url, headers=headers) as response,
    ):
        body = bytearray()
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) > _MAX_USERINFO_BYTES:
                return response.status_code, None
        return response.status_code, bytes(body)


ROUTES: list[tuple[str, str, Handler]] = [
    ("/v2/user/lookup", "user_lookup", lookup),
    ("/v2/user/create_anonymous", "user_create_anonymous", create_anonymous),
    ("/v2/user/create_musicbrainz", "user_create_musicbrainz", create_musicbrainz),
]
