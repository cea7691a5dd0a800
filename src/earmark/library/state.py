"""The resume journal of ``earmark import-audio``: what happened to each file, crash-safe.

One JSON object per line, appended and fsynced after every batch, so a crash, a power cut or
Ctrl-C loses at most the batch in flight (which the server may then get twice: a duplicate
submission of the same fingerprint and tags is harmless, it imports into the same track).
Each entry names one version of a file (:class:`~earmark.library.scan.FileKey`: path, size,
mtime); a re-run skips files whose current version is journaled, whatever the outcome (submitted,
without tags to submit, or failing to decode: the same bytes give the same outcome again); a
file that changed since is done again.

Reading is tolerant: a torn last line (the crash happened mid-write) or any other line that is
not a valid entry is ignored, and the next append starts on a fresh line.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeGuard

from earmark.library.appendlog import AppendLog
from earmark.library.scan import FileKey

Status = Literal["submitted", "untagged", "failed"]
_STATUSES = frozenset({"submitted", "untagged", "failed"})


@dataclass(frozen=True)
class Entry:
    """What became of one version of a file."""

    key: FileKey
    status: Status
    submissions: tuple[int, ...] = ()
    reason: str | None = None

    def to_json(self) -> str:
        data: dict[str, Any] = {
            "path": self.key.path,
            "size": self.key.size,
            "mtime_ns": self.key.mtime_ns,
            "status": self.status,
        }
        if self.submissions:
            data["submissions"] = list(self.submissions)
        if self.reason:
            data["reason"] = self.reason
        return json.dumps(data, ensure_ascii=True, sort_keys=True)

    @classmethod
    def from_json(cls, line: str) -> Entry | None:
        """The entry of one journal line, or None when the line is not a valid entry."""
        try:
            data = json.loads(line)
        except ValueError:
            return None
        if not isinstance(data, dict):
            return None
        path, size, mtime, status = (data.get(k) for k in ("path", "size", "mtime_ns", "status"))
        ids = data.get("submissions", [])
        reason = data.get("reason")
        if not (
            isinstance(path, str)
            and _is_int(size)
            and _is_int(mtime)
            and status in _STATUSES
            and isinstance(ids, list)
            and all(_is_int(i) for i in ids)
            and (reason is None or isinstance(reason, str))
        ):
            return None
        return cls(FileKey(path, size, mtime), status, tuple(ids), reason)


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass
class Journal:
    """An open journal: the entries read at start, and appends that reach the disk."""

    path: Path
    entries: dict[FileKey, Entry] = field(default_factory=dict)
    ignored_lines: int = 0
    _log: AppendLog | None = None

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> Journal:
        """Read the journal at ``path`` (missing: empty) and open it for appending."""
        journal = cls(Path(path))
        journal._log, lines = AppendLog.open(journal.path)
        for line in lines:
            entry = Entry.from_json(line)
            if entry is None:
                journal.ignored_lines += 1
            else:
                journal.entries[entry.key] = entry
        return journal

    def done(self, key: FileKey) -> Entry | None:
        """The journaled outcome of this version of the file (None: not done yet)."""
        return self.entries.get(key)

    def record(self, entries: list[Entry]) -> None:
        """Append entries and make them durable before returning."""
        if not entries:
            return
        assert self._log is not None, "journal is closed"
        self._log.append([entry.to_json() for entry in entries])
        for entry in entries:
            self.entries[entry.key] = entry

    def close(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
