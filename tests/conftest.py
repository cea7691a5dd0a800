"""Shared fixtures (plain helpers live in tests/support.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support import load_vectors, require_music


@pytest.fixture(scope="session")
def acoustid_fixtures() -> Any:
    return load_vectors("acoustid-fixtures.json")


@pytest.fixture(scope="session")
def dev_corpus_vectors() -> Any:
    return load_vectors("dev-corpus-compare.json")


@pytest.fixture(scope="session")
def music_file() -> Path:
    return require_music(1)[0]
