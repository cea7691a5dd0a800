"""Write-ahead log: one record per commit, fsynced before the commit is acknowledged.

Record: `u32 LE payload length | u32 LE CRC-32 of payload | payload` (spec §4.6). The payload
is msgpack `[commit_id, [op, ...], hashes, previous]` with ops `[0, id, number of hashes]` (insert),
`[1, id]` (delete) and `[2, [[key, value], ...]]` (metadata); `hashes` holds the hashes of
all inserts, in op order, as u32 LE bytes (one buffer: cheap to encode and decode);
`previous` is the commit id this one follows, left out when it is `commit_id - 1` (always on a
standalone index; a replica's commit ids are stream sequences, which jump). Files are named by
the first commit id they hold and rotate at `max_file_bytes`.

Replay keeps the valid prefix: it stops at the first short or corrupt record or at a gap in
the chain of commits (a record that does not follow the last one). The damaged tail is cut
off and any later files are renamed `*.broken`, so that records appended after recovery can
never sit behind garbage.
"""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import msgpack
import numpy as np

from earmark.index.engine.durable import fsync_dir
from earmark.index.engine.types import Change, Delete, Insert, SetMetadata

_RECORD = struct.Struct("<II")
MAX_RECORD_BYTES = 1 << 30
DEFAULT_MAX_FILE_BYTES = 16 << 20


def encode_changes(commit_id: int, changes: Sequence[Change], previous: int | None = None) -> bytes:
    ops: list[Any] = []
    arrays = []
    for c in changes:
        if isinstance(c, Insert):
            ops.append([0, c.id, int(c.hashes.shape[0])])
            arrays.append(c.hashes)
        elif isinstance(c, Delete):
            ops.append([1, c.id])
        else:
            ops.append([2, [list(kv) for kv in c.entries]])
    blob = np.concatenate(arrays).astype("<u4").tobytes() if arrays else b""
    record: list[Any] = [commit_id, ops, blob]
    if previous is not None and previous != commit_id - 1:
        record.append(previous)
    data: bytes = msgpack.packb(record, use_bin_type=True)
    return data


def decode_record(payload: bytes) -> tuple[int, int, list[Change]]:
    """``(commit_id, previous commit id, changes)`` of one record."""
    record = msgpack.unpackb(payload, raw=False)
    if not isinstance(record, list) or len(record) not in (3, 4):
        raise ValueError("a record is a list of 3 or 4 items")
    commit_id, changes = _decode_ops(record[0], record[1], record[2])
    if len(record) == 3:
        return commit_id, commit_id - 1, changes
    previous = int(record[3])
    if not 0 <= previous < commit_id:
        raise ValueError("a commit must follow an older one")
    return commit_id, previous, changes


def decode_changes(payload: bytes) -> tuple[int, list[Change]]:
    commit_id, _previous, changes = decode_record(payload)
    return commit_id, changes


def _decode_ops(commit_id: Any, ops: Any, blob: Any) -> tuple[int, list[Change]]:
    if not isinstance(blob, bytes) or len(blob) % 4 or not isinstance(ops, list):
        raise ValueError("malformed ops or hashes")
    all_hashes = np.frombuffer(blob, dtype="<u4").astype(np.uint32)
    changes: list[Change] = []
    pos = 0
    for op in ops:
        if op[0] == 0:
            end = pos + int(op[2])
            if end < pos or end > all_hashes.shape[0]:
                raise ValueError("insert runs past the hashes")
            changes.append(Insert(int(op[1]), all_hashes[pos:end]))
            pos = end
        elif op[0] == 1:
            changes.append(Delete(int(op[1])))
        elif op[0] == 2:
            changes.append(SetMetadata(tuple((str(k), str(v)) for k, v in op[1])))
        else:
            raise ValueError(f"unknown op {op[0]!r}")
    return int(commit_id), changes


def _file_name(first_commit: int) -> str:
    return f"{first_commit:016x}.wal"


@dataclass
class _WalFile:
    first_commit: int
    path: Path


class WriteAheadLog:
    """Append-only log of commits. Not thread-safe: the index's write lock serialises use."""

    def __init__(
        self, directory: Path, *, fsync: bool = True, max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    ) -> None:
        self.directory = directory
        self.fsync = fsync
        self.max_file_bytes = max_file_bytes
        directory.mkdir(parents=True, exist_ok=True)
        self._files: list[_WalFile] = []
        self._current: BinaryIO | None = None
        self._current_size = 0
        self._last_commit = 0  # last commit id written to the current file

    def _scan(self) -> list[_WalFile]:
        files = []
        for p in self.directory.glob("*.wal"):
            try:
                files.append(_WalFile(int(p.stem, 16), p))
            except ValueError:
                continue
        files.sort(key=lambda f: f.first_commit)
        return files

    def replay(self, after: int) -> Iterator[tuple[int, list[Change]]]:
        """Yield the commits newer than `after` from the valid prefix of the log.

        Must be fully consumed before `append`; it also repairs the tail (see module doc).
        """
        files = self._scan()
        valid: list[_WalFile] = []
        broken_from: int | None = None
        last = after
        for n, wal_file in enumerate(files):
            with open(wal_file.path, "rb") as f:
                data = f.read()
            pos, ok = 0, True
            while pos < len(data):
                if pos + _RECORD.size > len(data):
                    ok = False
                    break
                length, crc = _RECORD.unpack_from(data, pos)
                end = pos + _RECORD.size + length
                payload = data[pos + _RECORD.size : end]
                if length > MAX_RECORD_BYTES or end > len(data) or zlib.crc32(payload) != crc:
                    ok = False
                    break
                try:
                    commit_id, previous, changes = decode_record(payload)
                except (ValueError, TypeError, IndexError, msgpack.UnpackException):
                    ok = False
                    break
                if commit_id > last:
                    if previous != last:  # a gap: the commits in between are lost
                        ok = False
                        break
                    last = commit_id
                    yield commit_id, changes
                pos = end
            valid.append(wal_file)
            if not ok:
                if pos < len(data):
                    with open(wal_file.path, "r+b") as f:
                        f.truncate(pos)
                        os.fsync(f.fileno())
                broken_from = n + 1
                break
        if broken_from is not None:
            for later in files[broken_from:]:
                later.path.rename(later.path.with_suffix(".broken"))
            fsync_dir(self.directory)
        self._files = valid
        self._last_commit = last

    def append(
        self, commit_id: int, changes: Sequence[Change], previous: int | None = None
    ) -> None:
        payload = encode_changes(commit_id, changes, previous)
        record = _RECORD.pack(len(payload), zlib.crc32(payload)) + payload
        if self._current is not None and self._current_size >= self.max_file_bytes:
            self._close_current()
        if self._current is None:
            self._open_for_append(commit_id)
        f = self._current
        assert f is not None
        try:
            f.write(record)
            f.flush()
            if self.fsync:
                os.fdatasync(f.fileno())
        except OSError:
            # Cut a half-written record off, or every later record would sit behind it
            # and be lost at replay.
            keep = self._current_size
            self._close_current()
            with open(self._files[-1].path, "r+b") as g:
                g.truncate(keep)
            raise
        self._current_size += len(record)
        self._last_commit = commit_id

    def _open_for_append(self, commit_id: int) -> None:
        if self._files:
            last = self._files[-1]
            size = last.path.stat().st_size
            if size < self.max_file_bytes:
                self._current = open(last.path, "ab")  # noqa: SIM115 - kept open
                self._current_size = size
                return
        path = self.directory / _file_name(commit_id)
        self._current = open(path, "ab")  # noqa: SIM115 - kept open across appends
        self._current_size = 0
        self._files.append(_WalFile(commit_id, path))
        fsync_dir(self.directory)

    def _close_current(self) -> None:
        if self._current is not None:
            self._current.close()
            self._current = None
            self._current_size = 0

    def release(self, upto: int) -> None:
        """Delete the files whose commits are all <= `upto` (durable in segment files)."""
        removed = False
        keep: list[_WalFile] = []
        for n, wal_file in enumerate(self._files):
            if n + 1 < len(self._files):
                last_in_file = self._files[n + 1].first_commit - 1
            else:
                last_in_file = self._last_commit
            if last_in_file <= upto:
                if n + 1 == len(self._files):
                    self._close_current()
                wal_file.path.unlink(missing_ok=True)
                removed = True
            else:
                keep.append(wal_file)
        self._files = keep
        if removed:
            fsync_dir(self.directory)

    def close(self) -> None:
        self._close_current()
