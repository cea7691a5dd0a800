"""Reading and writing the tags of one file for ``earmark tag``, without ever risking its audio.

A write copies the file next to itself (a hidden ``.name.*.earmark-tmp``, which the file finder
skips), changes the tags of the copy with mutagen (which rewrites tag blocks, never audio
frames), flushes it to disk, and renames it over the original: a crash or ``kill -9`` at any
moment leaves either the old file or the new one, never half of each. A file without any write
permission bit is refused (as root a rename would replace it anyway: the mode says the owner
does not want it changed).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from earmark.library.tagformats import KIND_OF_CLASS, KINDS, PAIRS, Raw, TagKind, Values
from earmark.library.tags import clean_text


class TagFileError(Exception):
    """A file's tags cannot be read or written; the message says why, for people."""


@dataclass(frozen=True)
class Opened:
    kind: TagKind
    audio: Any


def open_tags(path: str) -> Opened:
    """The file's mutagen object and tag kind (raises :class:`TagFileError`)."""
    import mutagen

    try:
        audio = mutagen.File(path)
    except Exception as exc:  # mutagen raises many types on hostile files
        raise TagFileError(f"unreadable tags: {_reason(exc)}") from None
    if audio is None:
        raise TagFileError("format not recognised by mutagen")
    kind_name = KIND_OF_CLASS.get(type(audio).__name__)
    if kind_name is None:
        raise TagFileError(f"{type(audio).__name__} files are not tagged by Earmark")
    if audio.tags is None:
        try:
            audio.add_tags()
        except Exception as exc:
            raise TagFileError(f"cannot add tags: {_reason(exc)}") from None
    return Opened(KINDS[kind_name], audio)


def read_values(path: str) -> tuple[str, Values]:
    """The tag kind and the current values of Earmark's fields."""
    opened = open_tags(path)
    try:
        return opened.kind.name, opened.kind.read(opened.audio.tags)
    except Exception as exc:
        raise TagFileError(f"unreadable tags: {_reason(exc)}") from None


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return clean_text(str(exc), 200) or type(exc).__name__


def touched_fields(values: Mapping[str, tuple[str, ...]]) -> set[str]:
    """The fields whose raw items a write changes (a number shares its item with its total)."""
    fields = set(values)
    for first, second in PAIRS.items():
        if first in fields or second in fields:
            fields |= {first, second}
    return fields


def write_values(path: str, values: Mapping[str, tuple[str, ...]]) -> tuple[str, Raw]:
    """Set ``values`` in the file's tags, atomically; returns the tag kind and the snapshot of
    the raw items as they were (what undo restores)."""
    taken: dict[str, Any] = {}

    def change(copy: str) -> None:
        opened = open_tags(copy)
        kind, tags = opened.kind, opened.audio.tags
        taken["kind"] = kind.name
        taken["raw"] = kind.snapshot(tags, kind.keys(touched_fields(values)))
        kind.write(tags, values)
        opened.audio.save()

    replace_atomically(path, change)
    return taken["kind"], taken["raw"]


def restore_raw(path: str, raw: Raw) -> None:
    """Put back the raw items of a snapshot, atomically."""

    def change(copy: str) -> None:
        opened = open_tags(copy)
        opened.kind.restore(opened.audio.tags, raw)
        opened.audio.save()

    replace_atomically(path, change)


def replace_atomically(path: str, change: Callable[[str], None]) -> None:
    """Run ``change`` on a copy of ``path`` and rename the copy over it once it is on disk.
    Raises :class:`TagFileError` (the original is untouched and no copy is left behind)."""
    real = os.path.realpath(path)
    try:
        st = os.stat(real)
    except OSError as exc:
        raise TagFileError(_reason(exc)) from None
    if not st.st_mode & 0o222:
        raise TagFileError("read-only file (no write permission bit): not changed")
    folder, name = os.path.split(real)
    try:
        fd, copy = tempfile.mkstemp(prefix=f".{name}.", suffix=".earmark-tmp", dir=folder)
    except OSError as exc:
        raise TagFileError(f"cannot write in its folder: {_reason(exc)}") from None
    try:
        with os.fdopen(fd, "wb") as target, open(real, "rb") as source:
            shutil.copyfileobj(source, target, 1 << 20)
        os.chmod(copy, st.st_mode & 0o7777)
        with contextlib.suppress(OSError):
            os.chown(copy, st.st_uid, st.st_gid)
        change(copy)
        with open(copy, "rb+") as written:
            os.fsync(written.fileno())
        os.replace(copy, real)
    except TagFileError:
        _remove(copy)
        raise
    except OSError as exc:
        _remove(copy)
        raise TagFileError(f"not written: {_reason(exc)}") from None
    except Exception as exc:  # mutagen's own errors on a file it cannot rewrite
        _remove(copy)
        raise TagFileError(f"not written: {_reason(exc)}") from None
    _sync_folder(folder)


def _remove(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


def _sync_folder(folder: str) -> None:
    """Make the rename durable (not possible on every file system: then it is left to it)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
