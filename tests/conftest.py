"""Shared fixtures: where the project's shared material lives, and which tools are present."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("EARMARK_SHARED_DIR", ROOT.parent / "shared"))
IN_CI = os.environ.get("CI", "").lower() == "true"


def require_tool(name: str) -> str:
    """Return the path of an external tool, or skip (fail in CI) when it is missing."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed (Debian: see `make deps`)"
        if IN_CI:
            pytest.fail(message + "; CI must have it")
        pytest.skip(message)
    return path


def load_vectors(name: str) -> Any:
    path = SHARED / "vectors" / name
    if not path.exists():
        message = f"shared vectors not found at {path}"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return json.loads(path.read_text())


@pytest.fixture(scope="session")
def acoustid_fixtures() -> Any:
    return load_vectors("acoustid-fixtures.json")


@pytest.fixture(scope="session")
def dev_corpus_vectors() -> Any:
    return load_vectors("dev-corpus-compare.json")
