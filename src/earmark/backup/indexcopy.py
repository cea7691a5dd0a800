"""Copying the fingerprint index into a backup and back.

The copy is the index's snapshot stream (``GET /:index/_snapshot`` of an index server, or
:func:`earmark.index.engine.snapshot.export_snapshot` of the engine in a data directory): it
covers every update the index acknowledged before the export began. A restore builds the index
from it with :meth:`MultiIndex.restore`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from urllib.parse import quote

import httpx

from earmark.backup.errors import BackupError
from earmark.index.engine import MultiIndex
from earmark.index.engine.errors import EngineError
from earmark.index.engine.snapshot import CHUNK, export_snapshot

#: The snapshot of a large index takes a while; a silent index server for this long is an error.
READ_TIMEOUT = 300.0


def save_remote(index_url: str, name: str, target: Path) -> bool:
    """Stream the snapshot of index ``name`` from the server at ``index_url`` into ``target``.
    False (nothing written) when the server has no such index yet."""
    url = f"{index_url.rstrip('/')}/{quote(name, safe='')}/_snapshot"
    timeout = httpx.Timeout(30.0, read=READ_TIMEOUT)
    try:
        with httpx.stream("GET", url, timeout=timeout) as answer:
            if answer.status_code == 404:
                return False
            if answer.status_code != 200:
                raise BackupError(f"index snapshot {url}: HTTP {answer.status_code}")
            _write(target, answer.iter_bytes(CHUNK))
    except httpx.HTTPError as exc:
        raise BackupError(f"index snapshot {url}: {exc}") from None
    return True


def save_local(engine: MultiIndex, name: str, target: Path) -> bool:
    """Export the snapshot of index ``name`` of an open engine into ``target`` (False: none)."""
    if not engine.exists(name):
        return False
    _write(target, export_snapshot(engine.get(name)))
    return True


def restore_into(engine: MultiIndex, name: str, source: Path) -> None:
    """Build index ``name`` in ``engine`` from the snapshot file ``source``; an index of that
    name there already is an error."""
    if engine.exists(name):
        raise BackupError(
            f"the index {name!r} already exists in {engine.root}; restore into an empty "
            "index directory"
        )
    try:
        engine.restore(name, _chunks(source))
    except EngineError as exc:
        raise BackupError(f"{source}: not a usable index snapshot: {exc}") from None


def _write(target: Path, chunks: Iterable[bytes]) -> None:
    with open(target, "xb") as f:
        for chunk in chunks:
            f.write(chunk)
        f.flush()
        os.fsync(f.fileno())


def _chunks(source: Path) -> Iterator[bytes]:
    with open(source, "rb") as f:
        while chunk := f.read(CHUNK):
            yield chunk
