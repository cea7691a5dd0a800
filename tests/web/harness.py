"""The website under test: the real Starlette app over real databases, in process.

Requests go through Starlette's TestClient (cookies kept between requests, like a browser).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from starlette.testclient import TestClient

from earmark import passwords
from earmark.db import logins
from earmark.db.accounts import Account
from earmark.db.engine import Databases
from earmark.musicbrainz.schema import MusicBrainzDatabase
from earmark.ratelimit import MemoryWindow, Window
from earmark.search import Searcher
from earmark.web.app import create_web_app
from earmark.web.services import WebConfig, WebServices

SECRET = "test-web-secret-0123456789"
PASSWORD = "correct horse battery"
_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_token(html: str) -> str:
    """The CSRF token of the first form of a page."""
    found = _TOKEN.search(html)
    assert found is not None, "no form token on the page"
    return found.group(1)


@dataclass
class WebHarness:
    dbs: Databases
    config: WebConfig = field(default_factory=lambda: WebConfig(secret=SECRET, login_rate=0))
    window: Window = field(default_factory=MemoryWindow)
    mirror: MusicBrainzDatabase | None = None
    searcher: Searcher | None = None

    def __post_init__(self) -> None:
        self.services = WebServices(
            dbs=self.dbs,
            config=self.config,
            login_window=self.window,
            mirror=self.mirror,
            searcher=self.searcher,
        )
        self.app = create_web_app(self.services)
        self.client = self.new_client()

    def new_client(self, *, raise_server_exceptions: bool = True) -> TestClient:
        client = TestClient(self.app, raise_server_exceptions=raise_server_exceptions)
        client.__enter__()
        return client

    def close(self) -> None:
        self.client.__exit__(None, None, None)

    def create_account(self, login: str, password: str = PASSWORD) -> Account:
        with self.dbs.write() as conns:
            created = logins.create_account(conns.app, login, passwords.hash_password(password))
        assert created is not None
        return created

    def token(self, path: str, client: TestClient | None = None) -> str:
        page = (client or self.client).get(path)
        assert page.status_code == 200, page.text
        return csrf_token(page.text)

    def sign_in(
        self, login: str, password: str = PASSWORD, client: TestClient | None = None
    ) -> None:
        client = client or self.client
        token = self.token("/login", client)
        answer = client.post(
            "/login",
            data={"login": login, "password": password, "csrf_token": token},
            follow_redirects=False,
        )
        assert answer.status_code == 303, answer.text
