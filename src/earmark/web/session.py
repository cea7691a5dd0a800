"""The session: a signed cookie holding a random session id and the signed-in account.

The cookie is ``itsdangerous.URLSafeTimedSerializer`` over JSON (never pickle), signed with the
setting ``web_secret``; it is HttpOnly, SameSite=Lax, and Secure when the site is served over
HTTPS (``web_https``). Nothing is stored on the server: signing out drops the cookie. Signing in
always starts a new session id, so a session id planted before sign-in (session fixation) is
worth nothing after it.

The CSRF token of a form is an HMAC of the session id: bound to the session, rotated with it,
and checked in constant time (:func:`earmark.web.forms.read_form`).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer

COOKIE_NAME = "earmark_session"
#: Seconds a session lasts after its last change (sign-in, a new token).
MAX_AGE_S = 30 * 24 * 3600
_SALT = "earmark.web.session"


def _new_id() -> str:
    return secrets.token_urlsafe(24)


@dataclass
class WebSession:
    """One visitor's session, as read from the cookie (or new)."""

    sid: str
    account_id: int | None = None
    #: True when the cookie must be (re)sent with the response.
    modified: bool = False
    #: True when the visitor sent no valid cookie: it is sent once a form token needs it.
    fresh: bool = False

    @classmethod
    def new(cls) -> WebSession:
        return cls(_new_id(), None, fresh=True)

    def sign_in(self, account_id: int) -> None:
        """Start a new session (new id, hence new CSRF token) for ``account_id``."""
        self.sid = _new_id()
        self.account_id = account_id
        self.modified = True

    def sign_out(self) -> None:
        self.sid = _new_id()
        self.account_id = None
        self.modified = True


class SessionCodec:
    """Signs sessions into cookie values and back, and derives their CSRF tokens."""

    def __init__(self, secret: str) -> None:
        if not secret:
            raise ValueError("the website needs a secret (setting web_secret)")
        self._serializer = URLSafeTimedSerializer(secret, salt=_SALT)
        self._csrf_key = hashlib.sha256(b"earmark.web.csrf\0" + secret.encode()).digest()

    def dumps(self, session: WebSession) -> str:
        data: dict[str, Any] = {"sid": session.sid, "aid": session.account_id}
        return self._serializer.dumps(data)

    def loads(self, value: str) -> WebSession | None:
        """The session of a cookie value; None when it is forged, damaged or too old."""
        try:
            data = self._serializer.loads(value, max_age=MAX_AGE_S)
        except (BadSignature, ValueError, UnicodeError):
            return None
        if not isinstance(data, dict):
            return None
        sid, aid = data.get("sid"), data.get("aid")
        if not isinstance(sid, str) or not sid:
            return None
        if aid is not None and (not isinstance(aid, int) or isinstance(aid, bool)):
            return None
        return WebSession(sid, aid)

    def csrf_token(self, session: WebSession) -> str:
        """The session's form token; a fresh session is sent as a cookie from now on."""
        if session.fresh:
            session.modified = True
        return hmac.new(self._csrf_key, session.sid.encode(), hashlib.sha256).hexdigest()

    def csrf_valid(self, session: WebSession, token: str) -> bool:
        """A fresh session (no cookie came) has no valid token whatever is sent."""
        if session.fresh:
            return False
        return hmac.compare_digest(self.csrf_token(session).encode(), token.encode())
