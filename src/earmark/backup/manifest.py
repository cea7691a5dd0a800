"""``manifest.json``: what a backup directory holds (written last, read first)."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from earmark.backup.errors import BackupError

FORMAT = 1
MANIFEST = "manifest.json"
INDEX_FILE = "index.snapshot"

Kind = Literal["postgresql", "sqlite"]


@dataclass(frozen=True)
class DatabaseCopy:
    """One database's copy: the file in the backup and the roles (app, fingerprint, ingest, or
    ``musicbrainz``) it holds."""

    file: str
    roles: tuple[str, ...]


@dataclass(frozen=True)
class BackupManifest:
    kind: Kind
    earmark_version: str
    created: str
    index_name: str
    #: Fingerprints from this id on are sent to the index again after a restore.
    position: int
    databases: tuple[DatabaseCopy, ...]
    files: tuple[str, ...] = field(default=())
    format: int = FORMAT


def write_manifest(directory: Path, manifest: BackupManifest) -> None:
    """Write the manifest atomically (a rename): the backup is complete once it exists."""
    temporary = directory / (MANIFEST + ".tmp")
    temporary.write_text(json.dumps(asdict(manifest), indent=2) + "\n", encoding="utf-8")
    with open(temporary, "rb") as f:
        os.fsync(f.fileno())
    temporary.rename(directory / MANIFEST)


def read_manifest(directory: Path) -> BackupManifest:
    path = directory / MANIFEST
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BackupError(f"{directory} is not a finished backup (no {MANIFEST})") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BackupError(f"{path}: cannot be read: {exc}") from None
    try:
        if data["format"] != FORMAT:
            raise BackupError(f"{path}: format {data['format']!r} is not {FORMAT}")
        if data["kind"] not in ("postgresql", "sqlite"):
            raise BackupError(f"{path}: unknown kind {data['kind']!r}")
        databases = tuple(
            DatabaseCopy(file=_plain_name(d["file"], path), roles=tuple(map(str, d["roles"])))
            for d in data["databases"]
        )
        return BackupManifest(
            kind=data["kind"],
            earmark_version=str(data["earmark_version"]),
            created=str(data["created"]),
            index_name=str(data["index_name"]),
            position=_count(data["position"], path),
            databases=databases,
            files=tuple(_plain_name(name, path) for name in data["files"]),
        )
    except (KeyError, TypeError) as exc:
        raise BackupError(f"{path}: not an Earmark backup manifest ({exc!r})") from None


def _plain_name(name: object, path: Path) -> str:
    """A file name inside the backup directory: no path, so a manifest cannot point elsewhere."""
    if not isinstance(name, str) or not name or "/" in name or name in (".", ".."):
        raise BackupError(f"{path}: bad file name {name!r}")
    return name


def _count(value: object, path: Path) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise BackupError(f"{path}: bad catch-up position {value!r}")
    return value
