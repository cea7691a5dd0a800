"""The undo journal of ``earmark tag --write``: the raw tag items each write replaced.

One JSON object per line, appended and fsynced right after the file it describes was renamed
into place (a crash between the two leaves a tagged file without an entry, never an entry
that undoes a write that did not happen). ``{"op": "write", "path", "kind", "raw", "time"}``
records a write; ``{"op": "undo", "path", "time"}`` marks the path's latest write undone, so a
second ``--undo`` goes one write further back. Lines that are not valid entries (a torn last
line) are ignored, as in the import journal (:mod:`earmark.library.state`).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from earmark.library.appendlog import AppendLog
from earmark.library.tagformats import Raw


def default_journal_path() -> Path:
    """``$XDG_STATE_HOME/earmark/tag/undo.jsonl`` (``~/.local/state`` by default)."""
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(
        os.path.expanduser("~"), ".local", "state"
    )
    return Path(base) / "earmark" / "tag" / "undo.jsonl"


@dataclass(frozen=True)
class Written:
    """One recorded write: the file, its tag kind and the raw items it replaced."""

    path: str
    kind: str
    raw: Raw


def _parse(line: str) -> dict[str, Any] | None:
    try:
        data = json.loads(line)
    except ValueError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("path"), str):
        return None
    if data.get("op") == "undo":
        return data
    if data.get("op") == "write" and isinstance(data.get("kind"), str):
        return data if isinstance(data.get("raw"), dict) else None
    return None


@dataclass
class TagJournal:
    path: Path
    #: Per file, its writes not undone yet, oldest first.
    writes: dict[str, list[Written]] = field(default_factory=dict)
    _log: AppendLog | None = None

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> TagJournal:
        journal = cls(Path(path))
        journal._log, lines = AppendLog.open(journal.path)
        for line in lines:
            entry = _parse(line)
            if entry is not None:
                journal._apply(entry)
        return journal

    def _apply(self, entry: dict[str, Any]) -> None:
        path = entry["path"]
        if entry["op"] == "undo":
            held = self.writes.get(path)
            if held:
                held.pop()
        else:
            self.writes.setdefault(path, []).append(Written(path, entry["kind"], entry["raw"]))

    def _append(self, entry: dict[str, Any]) -> None:
        assert self._log is not None, "journal is closed"
        self._log.append([json.dumps(entry, sort_keys=True)])

    def record_write(self, path: str, kind: str, raw: Raw) -> None:
        entry = {"op": "write", "path": path, "kind": kind, "raw": raw, "time": time.time()}
        self._append(entry)
        self._apply(entry)

    def latest(self, path: str) -> Written | None:
        held = self.writes.get(path)
        return held[-1] if held else None

    def record_undo(self, path: str) -> None:
        entry = {"op": "undo", "path": path, "time": time.time()}
        self._append(entry)
        self._apply(entry)

    def paths(self) -> list[str]:
        """Every file with a write left to undo, sorted."""
        return sorted(p for p, held in self.writes.items() if held)

    def close(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> TagJournal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
