"""Hostile content across the site, in Chromium against a real `earmark serve`: account names
and query strings carrying markup are shown as text and run nothing, and the
Content-Security-Policy stops a script that got into a page anyway.

The page fixture fails a test on any dialog (what ``alert(1)`` opens), uncaught error or
console error; the CSP test takes out the violations it expects."""

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
    from playwright.sync_api import Page, Route

IMG_PAYLOAD = '"><img src=x onerror=alert(1)>'
SCRIPT_PAYLOAD = "<script>alert('mb')</script>"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedSite]:
    with served_site(tmp_path_factory.mktemp("serve") / "data") as served:
        yield served


def _no_injected_elements(page: Page) -> None:
    assert page.locator("img[src=x]").count() == 0
    assert page.locator("img[onerror]").count() == 0
    assert page.locator("svg[onload]").count() == 0
    scripts = page.locator("script").evaluate_all("nodes => nodes.map(n => n.src || n.text)")
    assert all(not text or "alert" not in text for text in scripts), scripts


def _expect_404s(page_log: PageLog) -> None:
    page_log.console_errors[:] = [e for e in page_log.console_errors if "status of 404" not in e]


def test_an_account_named_with_markup_is_text(site: ServedSite, page: Page) -> None:
    # The provider's display name becomes the account name: the way in for any text.
    site.idp.user = User(sub="hostile-1", name=IMG_PAYLOAD)
    page.goto(site.url + "/login?return_url=/api-key")
    page.get_by_role("button", name=f"Sign in with {OIDC_NAME}").click()
    page.wait_for_url(site.url + "/api-key")
    assert page.locator(".who a").inner_text() == IMG_PAYLOAD
    assert page.get_by_text(f"Name: {IMG_PAYLOAD}").is_visible()
    _no_injected_elements(page)
    screenshot(page, "hostile-account-name")
    for path in ("/", "/webservice", "/faq", "/change-password"):
        page.goto(site.url + path)
        assert page.locator(".who a").inner_text() == IMG_PAYLOAD
        _no_injected_elements(page)


def test_a_musicbrainz_name_with_markup_is_text(site: ServedSite, page: Page) -> None:
    site.idp.user = User(sub=SCRIPT_PAYLOAD)
    page.goto(site.url + "/login?return_url=/api-key")
    page.get_by_role("button", name="Sign in with MusicBrainz").click()
    page.wait_for_url(site.url + "/api-key")
    assert page.locator(".who a").inner_text() == SCRIPT_PAYLOAD
    assert page.get_by_text(f"Signed in with MusicBrainz as {SCRIPT_PAYLOAD}").is_visible()
    _no_injected_elements(page)


@pytest.mark.parametrize(
    ("return_url", "kept"),
    [
        ('"><script>alert(1)</script>', "/"),
        ("javascript:alert(document.domain)", "/"),
        ("//evil.example/", "/"),
        ('/faq"><svg onload=alert(1)>', '/faq"><svg onload=alert(1)>'),
    ],
)
def test_hostile_return_urls(
    site: ServedSite, page: Page, page_log: PageLog, return_url: str, kept: str
) -> None:
    page.goto(site.url + "/login?return_url=" + _quote(return_url))
    assert page.locator("input[name=return_url]").first.input_value() == kept
    _no_injected_elements(page)
    page.get_by_label("User name").fill("admin")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_load_state()
    assert page.url.startswith(site.url + "/")  # never another site
    assert page.locator(".who a").inner_text() == "admin"
    _no_injected_elements(page)
    _expect_404s(page_log)


@pytest.mark.parametrize(
    "path",
    [
        "/webservice?q=%22%3E%3Cscript%3Ealert(1)%3C/script%3E",
        "/faq?%3Cimg%20src=x%20onerror=alert(1)%3E=1",
        "/%3Cscript%3Ealert(1)%3C/script%3E",
        "/login?error=%3Cscript%3Ealert(1)%3C/script%3E&return_url=%3Cb%3E",
        "/api-key?renewed=%3Cscript%3E",
    ],
)
def test_hostile_query_strings_and_paths(
    site: ServedSite, page: Page, page_log: PageLog, path: str
) -> None:
    page.goto(site.url + path)
    _no_injected_elements(page)
    assert "<script>" not in page.locator("main").inner_html()
    _expect_404s(page_log)


def test_the_csp_blocks_a_script_that_got_into_a_page(
    site: ServedSite, page: Page, page_log: PageLog
) -> None:
    """Were a page ever to carry injected markup, the browser would still run none of it: the
    page's own Content-Security-Policy refuses inline scripts and event handlers."""
    page.add_init_script(
        "window.__violations = [];"
        "document.addEventListener('securitypolicyviolation',"
        " e => window.__violations.push(e.violatedDirective));"
    )

    def inject(route: Route) -> None:
        response = route.fetch()
        body = response.text().replace(
            '<main class="content">',
            '<main class="content"><script>window.__pwned = 1; alert("inline")</script>'
            '<img id="bad" src="data:," onerror="window.__pwned2 = 1; alert(2)">',
        )
        assert "__pwned" in body
        route.fulfill(response=response, body=body)

    page.route(re.compile(r".*/about$"), inject)
    answer = page.goto(site.url + "/about")
    assert answer is not None
    assert "script-src 'self'" in answer.headers["content-security-policy"]
    assert page.locator("#bad").count() == 1  # the markup is there...
    page.wait_for_function("window.__violations.length >= 2")
    assert page.evaluate("window.__pwned") is None  # ...and ran nothing
    assert page.evaluate("window.__pwned2") is None
    assert set(page.evaluate("window.__violations")) == {"script-src-elem", "script-src-attr"}
    refused = [e for e in page_log.console_errors if "Content Security Policy" in e]
    assert any("inline script" in e for e in refused), page_log.console_errors
    assert any("inline event handler" in e for e in refused), page_log.console_errors
    page_log.console_errors[:] = [e for e in page_log.console_errors if e not in refused]
    screenshot(page, "hostile-csp-blocked")


def _quote(text: str) -> str:
    from urllib.parse import quote

    return quote(text, safe="")
