"""Sign in with MusicBrainz and OpenID Connect in Chromium, against a real `earmark serve`
configured with the test provider's URLs: the button, the provider (which approves at once),
and back on the site signed in."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from tests.web.browser import PageLog, screenshot
from tests.web.harness import PASSWORD
from tests.web.oauth_provider import User
from tests.web.served import OIDC_NAME, ServedSite, served_site

if TYPE_CHECKING:
    from playwright.sync_api import Page


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedSite]:
    with served_site(tmp_path_factory.mktemp("serve") / "data") as served:
        yield served


def _expect_http_error(page_log: PageLog, status: int) -> None:
    """Chromium logs an answer of ``status`` as a console error: expected here."""
    expected = f"the server responded with a status of {status}"
    page_log.console_errors[:] = [e for e in page_log.console_errors if expected not in e]


def test_sign_in_with_musicbrainz_makes_a_moderator(site: ServedSite, page: Page) -> None:
    site.idp.user = User(sub="alice")
    page.goto(site.url + "/login?return_url=/api-key")
    screenshot(page, "signin-oauth-login-buttons")
    with page.expect_navigation(url=re.compile(r".*/api-key$")):
        page.get_by_role("button", name="Sign in with MusicBrainz").click()
    assert page.locator(".who").inner_text() == "Signed in as alice"
    assert page.locator("#role").inner_text().startswith("Moderator")
    assert page.get_by_text("Signed in with MusicBrainz as alice").is_visible()
    screenshot(page, "signin-oauth-musicbrainz-done")
    # Sign out and in again: the same account (the same user key).
    key = page.locator("#user-key").inner_text()
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(site.url + "/")
    assert page.locator(".who").count() == 0
    page.goto(site.url + "/login?return_url=/api-key")
    page.get_by_role("button", name="Sign in with MusicBrainz").click()
    page.wait_for_url(site.url + "/api-key")
    assert page.locator("#user-key").inner_text() == key


def test_sign_in_with_openid_connect(site: ServedSite, page: Page) -> None:
    site.idp.user = User(sub="oidc-42", name="Ada Lovelace", email="ada@example.org")
    page.goto(site.url + "/login")
    page.get_by_role("button", name=f"Sign in with {OIDC_NAME}").click()
    page.wait_for_url(site.url + "/")
    assert page.locator(".who").inner_text() == "Signed in as Ada Lovelace"
    page.goto(site.url + "/api-key")
    assert page.locator("#role").count() == 0  # not a moderator


def test_declining_at_the_provider_shows_why(
    site: ServedSite, page: Page, page_log: PageLog
) -> None:
    site.idp.deny = True
    try:
        page.goto(site.url + "/login")
        page.get_by_role("button", name="Sign in with MusicBrainz").click()
        page.wait_for_url(re.compile(r".*/login/musicbrainz\?.*"))
    finally:
        site.idp.deny = False
    assert page.get_by_role("alert").inner_text() == "Sign-in was cancelled at the provider."
    assert page.locator(".who").count() == 0
    screenshot(page, "signin-oauth-declined")
    # Reloading the page (the same state again) is refused as used.
    page.reload()
    assert "already used" in page.get_by_role("alert").inner_text()
    _expect_http_error(page_log, 400)


def test_the_admin_signs_in_with_the_password_set_on_the_command_line(
    site: ServedSite, page: Page
) -> None:
    page.goto(site.url + "/login")
    page.get_by_label("User name").fill("admin")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_url(site.url + "/")
    assert page.locator(".who").inner_text() == "Signed in as admin"
    page.goto(site.url + "/api-key")
    assert page.locator("#role").inner_text() == "Administrator"
    # A new user key takes a confirmation, and then replaces the old one.
    old_key = page.locator("#user-key").inner_text()
    page.get_by_role("button", name="Generate a new key…").click()
    page.wait_for_url(site.url + "/api-key")
    assert page.locator("#user-key").count() == 0  # the confirmation step shows no key yet
    page.get_by_role("button", name="Yes, generate a new key").click()
    page.get_by_role("status").wait_for()
    assert "the old one no longer works" in page.get_by_role("status").inner_text()
    new_key = page.locator("#user-key").inner_text()
    assert new_key != old_key
    page.goto(site.url + "/api-key")
    assert page.locator("#user-key").inner_text() == new_key
    screenshot(page, "signin-api-key-renewed")
