"""A real `earmark serve` for browser tests: sign-in with MusicBrainz and OpenID Connect pointed
at the test provider (tests/web/oauth_provider.py), and the administrator `serve` creates given
a password, as the README tells people to do."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.serve.process import Serve, clean_environment, earmark_command
from tests.web.harness import PASSWORD
from tests.web.oauth_provider import OAuthProvider, User, running_provider

#: What the OpenID Connect button says (setting oidc_name).
OIDC_NAME = "Test ID"


@dataclass
class ServedSite:
    url: str
    server: Serve
    idp: OAuthProvider
    data_dir: Path


def set_admin_password(data_dir: Path, env: dict[str, str], password: str = PASSWORD) -> None:
    made = subprocess.run(
        [
            *earmark_command(),
            "accounts",
            "set-password",
            "admin",
            "--stdin",
            "--data-dir",
            str(data_dir),
        ],
        env=env,
        input=password + "\n",
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert made.returncode == 0, made.stderr


@contextmanager
def served_site(data_dir: Path, **settings: str) -> Iterator[ServedSite]:
    """`earmark serve` on ``data_dir`` (``settings``: more EARMARK_* variables), with the test
    provider running and registered for the site's two callback URLs."""
    with running_provider(user=User(sub="alice")) as idp:
        env = clean_environment(
            EARMARK_MUSICBRAINZ_OAUTH_CLIENT_ID=idp.client_id,
            EARMARK_MUSICBRAINZ_OAUTH_CLIENT_SECRET=idp.client_secret,
            EARMARK_MUSICBRAINZ_OAUTH_AUTHORIZE_URL=idp.authorize_url,
            EARMARK_MUSICBRAINZ_OAUTH_TOKEN_URL=idp.token_url,
            EARMARK_MUSICBRAINZ_USERINFO_URL=idp.userinfo_url,
            EARMARK_OIDC_CLIENT_ID=idp.client_id,
            EARMARK_OIDC_CLIENT_SECRET=idp.client_secret,
            EARMARK_OIDC_ISSUER=idp.issuer,
            EARMARK_OIDC_NAME=OIDC_NAME,
            # Browser tests sign in often and fast; the limit has its own tests.
            EARMARK_WEB_LOGIN_RATE="0",
            **settings,
        )
        server = Serve(data_dir, env)
        try:
            idp.redirect_uris |= {f"{server.url}/login/musicbrainz", f"{server.url}/login/oidc"}
            set_admin_password(data_dir, env)
            yield ServedSite(server.url, server, idp, data_dir)
        finally:
            server.stop()
