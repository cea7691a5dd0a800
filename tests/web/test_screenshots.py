"""The screenshot tour of docs/website.md: every page of the site in Chromium, from a real
`earmark serve`, saved under tests/artifacts/screenshots/tour-*.png (gitignored). Look at them
after changing a page or the stylesheet; `python scripts/docs_screenshots.py` copies the
chosen ones into docs/images/."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from tests.web.browser import screenshot
from tests.web.harness import PASSWORD
from tests.web.served import ServedSite, served_site

if TYPE_CHECKING:
    from playwright.sync_api import Page

#: Small enough for the docs, wide enough for the layout's full width.
VIEWPORT = {"width": 1024, "height": 720}
#: (file name, path, what the page must show): signed out, then signed in as the admin.
PUBLIC = [
    ("home", "/", "In this database"),
    ("webservice", "/webservice", "/v2/lookup"),
    ("signup", "/signup", "Sign up"),
    ("login", "/login", "Sign in with MusicBrainz"),
    ("faq", "/faq", "Frequently asked questions"),
    ("about", "/about", "About"),
    ("database", "/database", "database"),
]
SIGNED_IN = [
    ("api-key", "/api-key", "Your API key"),
    ("webservice-signed-in", "/webservice", "/v2/lookup"),
]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedSite]:
    with served_site(tmp_path_factory.mktemp("serve") / "data") as served:
        yield served


def _shoot(page: Page, url: str, name: str, must_show: str) -> None:
    answer = page.goto(url)
    assert answer is not None, url
    assert answer.status == 200, url
    assert must_show.lower() in page.locator("main").inner_text().lower(), url
    # Nothing wider than the window: no sideways scrolling on any page.
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= VIEWPORT["width"], f"{url} is {width} px wide"
    screenshot(page, f"tour-{name}", full_page=False)
    screenshot(page, f"tour-{name}-full")


def test_screenshot_tour(site: ServedSite, page: Page) -> None:
    page.set_viewport_size(VIEWPORT)  # type: ignore[arg-type]
    for name, path, must_show in PUBLIC:
        _shoot(page, site.url + path, name, must_show)
    page.goto(site.url + "/login")
    page.get_by_label("User name").fill("admin")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_url(site.url + "/")
    for name, path, must_show in SIGNED_IN:
        _shoot(page, site.url + path, name, must_show)


def test_screenshot_tour_on_a_phone(site: ServedSite, page: Page) -> None:
    """The narrow layout (the stylesheet's small-screen rules)."""
    page.set_viewport_size({"width": 390, "height": 760})
    for name, path, _must_show in PUBLIC[:4]:
        page.goto(site.url + path)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"{path} is {width} px wide on a phone"
        screenshot(page, f"tour-phone-{name}", full_page=False)
