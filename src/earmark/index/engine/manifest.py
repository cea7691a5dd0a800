"""The manifest: the list of file segments of one index, the commit point of checkpoints
and merges. Written atomically (temp file, fsync, rename, fsync dir) with a CRC-32 line so a
torn or edited manifest is an error rather than a silently different index."""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from pathlib import Path

from earmark.index.engine.durable import write_atomic
from earmark.index.engine.errors import CorruptFileError

MANIFEST_NAME = "manifest"
FORMAT = 1


@dataclass(frozen=True)
class Manifest:
    last_commit: int
    segment_files: tuple[str, ...]  # oldest first


def write_manifest(directory: Path, manifest: Manifest) -> None:
    body = json.dumps(
        {
            "format": FORMAT,
            "last_commit": manifest.last_commit,
            "segments": list(manifest.segment_files),
        },
        sort_keys=True,
    ).encode()
    write_atomic(directory / MANIFEST_NAME, body + b"\n" + b"%08x\n" % zlib.crc32(body))


def read_manifest(directory: Path) -> Manifest | None:
    """The manifest of `directory`, or None if there is none yet (a fresh index)."""
    path = directory / MANIFEST_NAME
    if not path.exists():
        return None
    data = path.read_bytes()
    try:
        body, crc_line, _ = data.rsplit(b"\n", 2)
        if int(crc_line, 16) != zlib.crc32(body):
            raise CorruptFileError(path, "checksum mismatch")
        parsed = json.loads(body)
        if parsed.get("format") != FORMAT:
            raise CorruptFileError(path, f"unknown format {parsed.get('format')!r}")
        return Manifest(int(parsed["last_commit"]), tuple(str(s) for s in parsed["segments"]))
    except CorruptFileError:
        raise
    except (ValueError, KeyError, TypeError) as exc:
        raise CorruptFileError(path, f"{type(exc).__name__}: {exc}") from exc
