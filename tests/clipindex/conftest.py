"""Real music fingerprinted whole with Earmark's own fingerprinter, once per session."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from earmark.chromaprint.audio import read_pcm
from earmark.chromaprint.fingerprinter import fingerprint_pcm
from tests.support import require_music

RATE = 11025


@dataclass(frozen=True)
class Track:
    path: Path
    pcm: npt.NDArray[np.int16]
    items: npt.NDArray[np.uint32]

    def excerpt(self, start_s: float, seconds: float) -> npt.NDArray[np.uint32]:
        """Items of ``seconds`` of audio from ``start_s``, cut from the PCM (any sample)."""
        first = int(start_s * RATE)
        return fingerprint_pcm(self.pcm[first : first + int(seconds * RATE)])


@pytest.fixture(scope="session")
def clip_tracks() -> list[Track]:
    """Four real tracks of at least 90 s: three go into the indexes, the last stays out."""
    return load_clip_tracks()


@functools.cache
def load_clip_tracks() -> list[Track]:
    """:func:`clip_tracks` for tests elsewhere (decoded and fingerprinted once)."""
    found: list[Track] = []
    for path in require_music(12):
        pcm = read_pcm(path, max_seconds=150)
        if pcm.size < 90 * RATE:
            continue
        found.append(Track(path, pcm, fingerprint_pcm(pcm)))
        if len(found) == 4:
            return found
    pytest.fail("fewer than four tracks of 90 s in the test music")
