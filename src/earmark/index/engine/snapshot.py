"""Snapshots: a consistent stream of an index's file segments, and restoring one.

Stream (spec §6.6 framing): one msgpack header
`{f: 1, g: generation, v: version covered, s: [{i: [commit_id, merges, nil], s: size, n: file}]}`
followed by the raw bytes of each segment file in header order. Unlike the reference, the
memory segments are checkpointed first, so the snapshot covers every commit acknowledged
before the export began (`v`), not just what happened to be on disk.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import msgpack

from earmark.index.engine.errors import EngineError
from earmark.index.engine.manifest import Manifest, write_manifest
from earmark.index.engine.segfile import read_segment, segment_file_name

if TYPE_CHECKING:
    from earmark.index.engine.index import Index

FORMAT = 1
CHUNK = 1 << 20
_FILE_RE = re.compile(r"[0-9a-f]{16}-[0-9a-f]{16}\.seg")


class BadSnapshotError(EngineError):
    name = "BadRequest"


@dataclass(frozen=True)
class SnapshotHeader:
    generation: int
    version: int
    files: tuple[tuple[str, int], ...]  # (file name, size)


def export_snapshot(index: Index) -> Iterator[bytes]:
    """Yield the snapshot stream. Runs the checkpoint when iteration starts."""
    index.flush()
    snap = index.snapshot  # holding it keeps merged-away files from being removed
    handles: list[BinaryIO] = []
    entries: list[dict[str, Any]] = []
    try:
        for seg in snap.files:
            assert seg.path is not None
            f = open(seg.path, "rb")  # noqa: SIM115 - closed in finally
            handles.append(f)
            size = f.seek(0, 2)
            f.seek(0)
            entries.append(
                {
                    "i": [seg.first_commit, seg.last_commit - seg.first_commit, None],
                    "s": size,
                    "n": seg.path.name,
                }
            )
        header = {"f": FORMAT, "g": index.generation, "v": snap.file_version, "s": entries}
        yield msgpack.packb(header, use_bin_type=True)
        for handle in handles:
            while chunk := handle.read(CHUNK):
                yield chunk
    finally:
        for handle in handles:
            handle.close()


def _parse_header(raw: Any) -> SnapshotHeader:
    if not isinstance(raw, dict) or raw.get("f") != FORMAT:
        raise BadSnapshotError("unknown snapshot format")
    files = []
    for entry in raw.get("s", []):
        first, merges, _version = entry["i"]
        name = entry.get("n") or segment_file_name(int(first), int(first) + int(merges))
        if not _FILE_RE.fullmatch(name):
            raise BadSnapshotError(f"bad segment name {name!r}")
        files.append((str(name), int(entry["s"])))
    return SnapshotHeader(int(raw["g"]), int(raw.get("v", 0)), tuple(files))


def restore_snapshot(target: Path, chunks: Iterable[bytes]) -> SnapshotHeader:
    """Write the index held by a snapshot stream into the empty directory `target`."""
    segments = target / "segments"
    segments.mkdir(parents=True)
    it = iter(chunks)
    buf = b""
    header: SnapshotHeader | None = None
    for chunk in it:
        buf += chunk
        unpacker = msgpack.Unpacker(raw=False)
        unpacker.feed(buf)
        try:
            raw = unpacker.unpack()
        except msgpack.OutOfData:
            continue
        except (ValueError, msgpack.UnpackException) as exc:
            raise BadSnapshotError(f"bad snapshot header: {exc}") from exc
        try:
            header = _parse_header(raw)
        except (KeyError, TypeError, ValueError) as exc:
            raise BadSnapshotError(f"bad snapshot header: {exc}") from exc
        buf = buf[unpacker.tell() :]
        break
    if header is None:
        raise BadSnapshotError("empty snapshot stream")
    for name, size in header.files:
        with open(segments / name, "wb") as f:
            remaining = size
            while remaining > 0:
                if not buf:
                    buf = next(it, b"")
                    if not buf:
                        raise BadSnapshotError(f"snapshot stream ends inside {name}")
                part, buf = buf[:remaining], buf[remaining:]
                f.write(part)
                remaining -= len(part)
            f.flush()
            os.fsync(f.fileno())
    if buf or next(it, b""):
        raise BadSnapshotError("trailing bytes after the last segment")
    last_commit = 0
    for name, _size in header.files:
        seg = read_segment(segments / name, verify=True)
        last_commit = max(last_commit, seg.last_commit)
    write_manifest(target, Manifest(last_commit, tuple(n for n, _ in header.files)))
    return header
