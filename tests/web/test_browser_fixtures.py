"""The browser fixtures themselves: a dialog, an uncaught error or a console error fails the
test that caused it (the XSS tests rely on it), and asyncio still works beside the browser."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from tests.support import ROOT
from tests.web.browser import require_browser, run_async

if TYPE_CHECKING:
    from playwright.sync_api import Page

INNER = """
from tests.web.browser import browser, page, page_log

def test_clean(page):
    page.set_content("<p>fine</p>")

def test_alert(page):
    page.set_content("<img src=x onerror=alert(1)>")
    page.wait_for_timeout(200)

def test_uncaught(page):
    page.set_content("<script>throw new Error('boom')</script>")

def test_console_error(page):
    page.set_content("<script>console.error('said so')</script>")

def test_expected_console_error(page, page_log):
    page.set_content("<script>console.error('expected')</script>")
    page_log.console_errors.remove("expected")
"""


def test_a_dialog_or_a_script_error_fails_the_test(tmp_path: Path) -> None:
    require_browser()
    (tmp_path / "test_inner.py").write_text(INNER)
    environment = os.environ | {"PYTHONPATH": str(ROOT), "COLUMNS": "500"}  # no cut lines
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rA", "-p", "no:cacheprovider", "test_inner.py"],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    lines = done.stdout.splitlines()
    assert "PASSED test_inner.py::test_clean" in lines, done.stdout
    assert "PASSED test_inner.py::test_expected_console_error" in lines, done.stdout
    errors = {line.split(" - ")[0]: line for line in lines if line.startswith("ERROR ")}
    assert "dialog opened: alert: 1" in errors["ERROR test_inner.py::test_alert"]
    assert "uncaught error: boom" in errors["ERROR test_inner.py::test_uncaught"]
    assert "console error: said so" in errors["ERROR test_inner.py::test_console_error"]
    assert done.returncode == 1


def test_asyncio_beside_the_browser(page: Page) -> None:
    page.set_content("<p>x</p>")

    async def work() -> str:
        return "done"

    assert run_async(work) == "done"
    assert page.inner_text("p") == "x"
