"""Copy the chosen screenshots of the website's tour into docs/images/.

Run the tour first (it needs Chromium, see tests/web/browser.py):

    .venv/bin/python -m pytest tests/web/test_screenshots.py
    .venv/bin/python scripts/docs_screenshots.py

Each image is the first screen of a page at 1024x720 (tests/artifacts/screenshots/tour-*.png);
one over MAX_BYTES is refused, so the repository stays small.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHOTS = ROOT / "tests" / "artifacts" / "screenshots"
DOCS = ROOT / "docs" / "images"
CHOSEN = ["home", "login", "api-key", "webservice-signed-in"]
MAX_BYTES = 150_000


def main() -> int:
    DOCS.mkdir(parents=True, exist_ok=True)
    problems = []
    for name in CHOSEN:
        source = SHOTS / f"tour-{name}.png"
        if not source.exists():
            problems.append(f"{source} is missing: run tests/web/test_screenshots.py first")
            continue
        size = source.stat().st_size
        if size > MAX_BYTES:
            problems.append(f"{source} has {size} bytes (at most {MAX_BYTES})")
            continue
        target = DOCS / f"website-{name}.png"
        shutil.copyfile(source, target)
        print(f"{target.relative_to(ROOT)}: {size} bytes")
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
