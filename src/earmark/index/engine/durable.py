"""Crash-safe files: atomic replacement, durable directory entries, checksummed JSON."""

from __future__ import annotations

import json
import os
import zlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from earmark.index.engine.errors import CorruptFileError

T = TypeVar("T")


def fsync_dir(path: Path) -> None:
    """Make a rename or a new file in `path` durable (POSIX needs the directory synced)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: Path, data: bytes) -> None:
    """Replace `path` with `data` so a crash leaves either the old or the new content."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def write_checked_json(path: Path, data: Mapping[str, Any]) -> None:
    """Atomically write ``data`` as sorted JSON followed by a line with its CRC-32."""
    body = json.dumps(data, sort_keys=True).encode()
    write_atomic(path, body + b"\n" + b"%08x\n" % zlib.crc32(body))


def read_checked_json(path: Path, parse: Callable[[dict[str, Any]], T]) -> T | None:
    """Read a file written by :func:`write_checked_json` and ``parse`` its object.

    None when the file does not exist; a torn, edited or malformed file (or one ``parse``
    rejects with ValueError, KeyError or TypeError) is a CorruptFileError naming it.
    """
    if not path.exists():
        return None
    try:
        body, crc_line, _ = path.read_bytes().rsplit(b"\n", 2)
        if int(crc_line, 16) != zlib.crc32(body):
            raise CorruptFileError(path, "checksum mismatch")
        data = json.loads(body)
        if not isinstance(data, dict):
            raise CorruptFileError(path, "not a JSON object")
        return parse(data)
    except CorruptFileError:
        raise
    except (ValueError, KeyError, TypeError) as exc:
        raise CorruptFileError(path, f"{type(exc).__name__}: {exc}") from exc
