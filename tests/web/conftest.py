"""The browser fixtures (tests/web/browser.py) for every test of the website."""

from tests.web.browser import browser, page, page_log

__all__ = ["browser", "page", "page_log"]
