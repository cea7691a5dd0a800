"""The manifest: the list of file segments of one index, the commit point of checkpoints
and merges. Written atomically (temp file, fsync, rename, fsync dir) with a CRC-32 line so a
torn or edited manifest is an error rather than a silently different index."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from earmark.index.engine.durable import read_checked_json, write_checked_json

MANIFEST_NAME = "manifest"
FORMAT = 1


@dataclass(frozen=True)
class Manifest:
    last_commit: int
    segment_files: tuple[str, ...]  # oldest first


def write_manifest(directory: Path, manifest: Manifest) -> None:
    data = {
        "format": FORMAT,
        "last_commit": manifest.last_commit,
        "segments": list(manifest.segment_files),
    }
    write_checked_json(directory / MANIFEST_NAME, data)


def read_manifest(directory: Path) -> Manifest | None:
    """The manifest of `directory`, or None if there is none yet (a fresh index)."""
    return read_checked_json(directory / MANIFEST_NAME, _parse_manifest)


def _parse_manifest(data: dict[str, Any]) -> Manifest:
    if data.get("format") != FORMAT:
        raise ValueError(f"unknown format {data.get('format')!r}")
    return Manifest(int(data["last_commit"]), tuple(str(s) for s in data["segments"]))
