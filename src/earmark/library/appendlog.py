"""A JSON-lines file that is read whole at start and then only appended to, durably.

What the import journal (:mod:`earmark.library.state`) and the tag undo journal
(:mod:`earmark.library.tagjournal`) share: each append reaches the disk (fsync) before it
returns, and a last line torn by a crash is left behind: the next append starts on its own line,
and the torn text is handed to the reader like any other line (which ignores what it cannot
parse).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO


class AppendLog:
    """An open append-only file: :meth:`open` reads its lines; :meth:`append` adds to it."""

    def __init__(self, path: Path, file: IO[str], torn: bool) -> None:
        self.path = path
        self._file: IO[str] | None = file
        self._torn = torn

    @classmethod
    def open(cls, path: Path) -> tuple[AppendLog, list[str]]:
        """Open ``path`` for appending (made, with its folder, when missing); its lines so far."""
        path.parent.mkdir(parents=True, exist_ok=True)
        lines: list[str] = []
        torn = False
        if path.exists():
            raw = path.read_bytes()
            torn = bool(raw) and not raw.endswith(b"\n")
            lines = [line for line in raw.decode("utf-8", "replace").splitlines() if line.strip()]
        return cls(path, path.open("a", encoding="utf-8"), torn), lines

    def append(self, lines: list[str]) -> None:
        """Write ``lines`` (each without its newline) and make them durable before returning."""
        assert self._file is not None, "journal is closed"
        head = "\n" if self._torn else ""
        self._file.write(head + "".join(line + "\n" for line in lines))
        self._file.flush()
        os.fsync(self._file.fileno())
        self._torn = False

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
