"""Which OAuth sign-in providers this site offers, built once from the settings.

MusicBrainz is ready from the settings alone. An OpenID Connect provider may need its discovery
document (endpoints not set in the settings): it is fetched when the first sign-in starts and
kept, so a provider that is down at start-up does not stop the site.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

import httpx

from earmark.settings import Settings
from earmark.web import oauth

#: Seconds a started sign-in may take at the provider before its state expires.
STATE_TTL_S: Final = 600


@dataclass(frozen=True)
class Choice:
    """A sign-in button: the provider's route name and what the button says."""

    name: str
    label: str


class SignInProviders:
    """The providers of one website process (none by default)."""

    def __init__(
        self, settings: Settings | None = None, *, timeout: float = oauth.DEFAULT_TIMEOUT
    ) -> None:
        """``ValueError`` when a configured provider cannot work (an endpoint that is not
        https, OpenID Connect with neither an issuer nor the three endpoints)."""
        self.timeout = timeout
        self.musicbrainz = oauth.musicbrainz_provider(settings) if settings else None
        self._oidc_settings: Settings | None = None
        self._oidc: oauth.Provider | None = None
        self._lock = asyncio.Lock()
        self.oidc_label = ""
        self.oidc_issuer = ""
        if settings is not None and settings.oidc_client_id:
            endpoints = (
                settings.oidc_authorize_url,
                settings.oidc_token_url,
                settings.oidc_userinfo_url,
            )
            if not settings.oidc_issuer and not all(endpoints):
                raise ValueError("oidc: set oidc_issuer, or all three oidc_*_url endpoints")
            for url in (settings.oidc_issuer, *endpoints):
                problem = oauth.endpoint_problem(url) if url else None
                if problem is not None:
                    raise ValueError(f"oidc: {url!r} {problem}")
            self._oidc_settings = settings
            # The identity's key: the issuer names the provider; without one, its
            # authorization endpoint does.
            self.oidc_issuer = settings.oidc_issuer or settings.oidc_authorize_url
            self.oidc_label = settings.oidc_name or urlsplit(self.oidc_issuer).hostname or "OIDC"

    def choices(self) -> list[Choice]:
        """The sign-in buttons of the login page, in order."""
        found = []
        if self.musicbrainz is not None:
            found.append(Choice(oauth.MUSICBRAINZ, self.musicbrainz.label))
        if self._oidc_settings is not None:
            found.append(Choice(oauth.OIDC, self.oidc_label))
        return found

    def form_targets(self) -> list[str]:
        """The origins the sign-in buttons' forms end up at. A form's redirect counts as its
        target for the Content-Security-Policy's ``form-action``, so the sign-in page allows
        these. The OpenID Connect provider's authorization endpoint is known once configured
        or discovered; before that its issuer stands for it (docs/website.md)."""
        urls = []
        if self.musicbrainz is not None:
            urls.append(self.musicbrainz.authorize_url)
        if self._oidc_settings is not None:
            discovered = self._oidc.authorize_url if self._oidc is not None else ""
            urls.append(
                self._oidc_settings.oidc_authorize_url
                or discovered
                or self._oidc_settings.oidc_issuer
            )
        found: list[str] = []
        for url in urls:
            origin = _origin(url)
            if origin not in found:
                found.append(origin)
        return found

    def enabled(self, name: str) -> bool:
        return any(choice.name == name for choice in self.choices())

    def label(self, name: str) -> str:
        return next((c.label for c in self.choices() if c.name == name), name)

    async def provider(self, name: str, http: httpx.AsyncClient) -> oauth.Provider | None:
        """The provider ``name`` (None when not offered); may fetch the OpenID Connect
        discovery document (an :class:`oauth.OAuthError` when the provider is down)."""
        if name == oauth.MUSICBRAINZ:
            return self.musicbrainz
        if name != oauth.OIDC or self._oidc_settings is None:
            return None
        async with self._lock:
            if self._oidc is None:
                try:
                    self._oidc = await oauth.oidc_provider(
                        self._oidc_settings, http, timeout=self.timeout
                    )
                except ValueError as exc:  # a discovery document naming bad endpoints
                    raise oauth.OAuthError(
                        "misconfigured",
                        f"Sign-in with {self.oidc_label} is not set up correctly on this site.",
                    ) from exc
            return self._oidc


def _origin(url: str) -> str:
    """``scheme://host[:port]`` of an endpoint (checked by :func:`oauth.endpoint_problem`:
    absolute, http or https), rebuilt from its parts so nothing else reaches a header."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port is not None else ""
    return f"{parts.scheme}://{host}{port}"
