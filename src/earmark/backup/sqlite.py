"""SQLite databases into a backup and back, with SQLite's online backup API: a consistent copy
page by page, whatever the write-ahead log holds, without stopping readers."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

from earmark.backup.errors import BackupError


def copy_database(source: Path, target: Path) -> None:
    """Copy the SQLite database ``source`` into the new file ``target``."""
    if target.exists():
        raise BackupError(f"{target} already exists")
    try:
        with closing(_open(source, "ro")) as src, closing(_open(target, "rwc")) as dst:
            src.backup(dst)
    except sqlite3.Error as exc:
        target.unlink(missing_ok=True)
        raise BackupError(f"cannot copy {source} to {target}: {exc}") from None


def _open(path: Path, mode: str) -> sqlite3.Connection:
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode={mode}", uri=True)
