"""Every page of the foundation renders, in the layout, with its key text."""

from __future__ import annotations

import pytest

from earmark.db import applications, submissions
from tests.web.harness import WebHarness


@pytest.mark.parametrize(
    ("path", "text"),
    [
        ("/", "In this database"),
        ("/webservice", "/v2/lookup"),
        ("/faq", "Frequently asked questions"),
        ("/about", "About Earmark"),
        ("/database", "Getting a copy"),
        ("/signup", "Create an account"),
        ("/login", "Sign in"),
    ],
)
def test_public_pages_render(web: WebHarness, path: str, text: str) -> None:
    page = web.client.get(path)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert text in page.text
    assert "<footer" in page.text
    assert "/static/site." in page.text


def test_home_shows_live_totals(web: WebHarness) -> None:
    before = web.client.get("/").text
    assert "<dd>0</dd>" in before
    account = web.create_account("submitter")
    with web.dbs.write() as conns:
        app = applications.create(conns.app, name="App", version="1", account_id=account.id)
        for n in range(3):
            submissions.create(
                conns.ingest,
                account_id=account.id,
                application_id=app.id,
                application_version=None,
                fingerprint=[n + 1, n + 2, n + 3],
                length=120,
                bitrate=None,
                format=None,
                meta=None,
                mbid=None,
                puid=None,
                foreignid=None,
            )
    web.services.cache.clear()
    after = web.client.get("/").text
    assert "<dd>3</dd>" in after


def test_webservice_uses_the_demo_key_then_the_users_own(web: WebHarness) -> None:
    demo = web.client.get("/webservice").text
    assert "YOUR_API_KEY" in demo
    account = web.create_account("keyholder")
    with web.dbs.write() as conns:
        app = applications.create(conns.app, name="Mine", version="1", account_id=account.id)
    web.sign_in("keyholder")
    own = web.client.get("/webservice").text
    assert f"client={app.apikey}" in own
    assert account.apikey in own
    assert "YOUR_API_KEY" not in own


def test_account_pages_need_a_sign_in(web: WebHarness) -> None:
    for path in ("/api-key", "/change-password"):
        answer = web.client.get(path, follow_redirects=False)
        assert answer.status_code == 303
        assert answer.headers["location"] == f"/login?return_url=%2F{path[1:]}"
