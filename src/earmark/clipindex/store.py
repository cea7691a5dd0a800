"""The clip index on disk: one append-only file of stored fingerprints, fsynced per batch.

Record: ``u32 LE item count | u32 LE CRC-32 | u64 LE entry id | items as u32 LE``; the CRC
covers the count, the id and the items. A batch is written and fsynced before
:meth:`ClipLog.append` returns, so whatever a caller was told is stored survives a crash.
Loading keeps the valid prefix: a short or corrupt record (a crash in the middle of a write) and
everything after it is cut off, and the file is truncated there, so later appends never sit
behind garbage. The in-memory index (:mod:`.postings`) is rebuilt from the file at start-up.

One process writes the file: the one holding the lock file next to it (``fcntl.flock``). Other
processes on the same file (``earmark run api --workers N``, ``earmark identify`` beside a
running ``serve``) read its valid prefix and keep later additions in memory only.
"""

from __future__ import annotations

import fcntl
import logging
import os
import struct
import threading
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO, Final

import numpy as np
import numpy.typing as npt

from earmark.index.engine.durable import fsync_dir

log = logging.getLogger(__name__)

MAGIC: Final = b"EMCLIP01"
_HEAD: Final = struct.Struct("<IIQ")
#: One entry holds at most this many items (about 36 hours of audio).
MAX_ENTRY_ITEMS: Final = 1 << 20

Entry = tuple[int, npt.NDArray[np.uint32]]


def _record(entry_id: int, items: npt.NDArray[np.uint32]) -> bytes:
    body = np.asarray(items, dtype="<u4").tobytes()
    prefix = struct.pack("<IQ", len(items), entry_id)
    crc = zlib.crc32(body, zlib.crc32(prefix))
    return _HEAD.pack(len(items), crc, entry_id) + body


class ClipLog:
    """The file of a clip index (``path``); created with its header when missing."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock_file: BinaryIO | None = path.with_name(path.name + ".lock").open("ab")
        try:
            fcntl.flock(self._lock_file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            self.writable = True
        except BlockingIOError:
            self.writable = False

    def close(self) -> None:
        """Release the writer's lock."""
        if self._lock_file is not None:
            self._lock_file.close()
            self._lock_file = None
        self.writable = False

    def load(self) -> Iterator[Entry]:
        """Every valid entry in order; the writer cuts a damaged tail off the file (see the
        module doc), a reader stops before it."""
        if not self.path.exists():
            if not self.writable:
                return
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("wb") as fh:
                fh.write(MAGIC)
                fh.flush()
                os.fsync(fh.fileno())
            fsync_dir(self.path.parent)
            return
        with self.path.open("rb") as fh:
            if fh.read(len(MAGIC)) != MAGIC:
                raise ValueError(f"{self.path} is not a clip index file")
            good = fh.tell()
            while True:
                head = fh.read(_HEAD.size)
                if len(head) < _HEAD.size:
                    break
                count, crc, entry_id = _HEAD.unpack(head)
                if count > MAX_ENTRY_ITEMS:
                    break
                body = fh.read(4 * count)
                prefix = struct.pack("<IQ", count, entry_id)
                if len(body) < 4 * count or zlib.crc32(body, zlib.crc32(prefix)) != crc:
                    break
                good = fh.tell()
                yield entry_id, np.frombuffer(body, dtype="<u4").astype(np.uint32)
            end = fh.seek(0, os.SEEK_END)
        if end > good and self.writable:
            log.warning("%s: cutting %d damaged bytes off the end", self.path, end - good)
            with self.path.open("r+b") as fh:
                fh.truncate(good)
                os.fsync(fh.fileno())

    def append(self, entries: Iterable[Entry]) -> None:
        """Write the entries and fsync before returning (nothing when not the writer)."""
        data = b"".join(_record(entry_id, items) for entry_id, items in entries)
        if not data or not self.writable:
            return
        with self._lock, self.path.open("ab") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())

    @property
    def size_bytes(self) -> int:
        return self.path.stat().st_size if self.path.exists() else 0
