"""Find the audio files of a music library, and what identifies one version of a file.

:func:`find_audio_files` is the one finder of every command that walks a library
(``fingerprint``, ``identify``, ``import-audio``), so all of them see the same files.
Directories are walked recursively in a stable (sorted) order; a file is picked by its name's
ending (:data:`earmark.chromaprint.audio.AUDIO_EXTENSIONS`). Symbolic links to directories are
not followed (a link loop would never end), hidden files and directories (``.name``) are
skipped (``.AppleDouble``, ``._song.mp3`` resource forks are not audio). A path given
explicitly is always taken, whatever its name.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from earmark.chromaprint.audio import AUDIO_EXTENSIONS


@dataclass(frozen=True, order=True)
class FileKey:
    """One version of a file: its absolute path, size and modification time. A file that is
    re-encoded or re-tagged gets a new key, so the resume journal submits it again."""

    path: str
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, path: str | os.PathLike[str]) -> FileKey:
        """The key of ``path`` now (raises OSError when it cannot be stat'ed)."""
        absolute = os.path.abspath(os.fspath(path))
        st = os.stat(absolute)
        return cls(absolute, st.st_size, st.st_mtime_ns)


def is_audio_name(name: str) -> bool:
    return not name.startswith(".") and Path(name).suffix.lower() in AUDIO_EXTENSIONS


def find_audio_files(paths: Iterable[str | os.PathLike[str]]) -> Iterator[str]:
    """Expand directories (recursively, sorted, audio endings only); pass files through.

    A path that does not exist is passed through too: the caller reports it as a failure of
    that file rather than stopping the whole run.
    """
    for given in paths:
        path = os.fspath(given)
        if not os.path.isdir(path):
            yield path
            continue
        for root, dirs, files in os.walk(path, onerror=None, followlinks=False):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for name in sorted(files):
                if is_audio_name(name):
                    yield os.path.join(root, name)
