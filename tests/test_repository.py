"""The suite runs from a plain clone: everything it reads lives in the repository."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support import ROOT, VECTORS, load_vectors

#: Ways of reaching the folder that sat beside the repository during development: the relative
#: path, its old environment variable, or ``ROOT.parent`` joined with its name. (Written so
#: that this file does not match itself.)
OUTSIDE = re.compile(r"\.\./shared\b|EARMARK_SHARED_[D]IR|parent\s*/\s*[\"']shared[\"']")
SKIPPED_DIRS = {"__pycache__", ".pytest_cache", ".mypy_cache", ".ruff_cache"}


def _files(top: Path) -> list[Path]:
    return sorted(
        path
        for path in top.rglob("*")
        if path.is_file() and not SKIPPED_DIRS.intersection(path.relative_to(top).parts)
    )


def test_nothing_in_tests_refers_to_a_folder_outside_the_repository() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in [*_files(ROOT / "tests"), ROOT / "Makefile"]
        for number, line in enumerate(path.read_bytes().decode(errors="replace").splitlines(), 1)
        if OUTSIDE.search(line)
    ]
    assert not offenders, "copy the data into tests/data/ instead:\n" + "\n".join(offenders)


def test_the_scan_would_catch_each_spelling() -> None:
    # Each spelling is split in two so that the scan above does not find it here.
    for line in (
        "path = '../" + "shared/vectors'",
        'os.environ.get("EARMARK_SHARED_' + 'DIR")',
        'ROOT.parent / "sha' + 'red" / "vectors"',
    ):
        assert OUTSIDE.search(line), line
    assert not OUTSIDE.search("shared_key = 'a ../" + "sharedness'")


@pytest.mark.parametrize("name", ["acoustid-fixtures.json", "dev-corpus-compare.json"])
def test_the_vectors_are_carried_in_the_repository(name: str) -> None:
    assert VECTORS.is_relative_to(ROOT / "tests" / "data")
    data = load_vectors(name)
    assert data["source"]
    assert data["fingerprints"]
    assert f"`{name}`" in (VECTORS / "README.md").read_text()
