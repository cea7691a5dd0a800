"""Fingerprint audio files: decode with :mod:`.audio`, compute with :mod:`.fingerprinter`."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from earmark.chromaprint.audio import SAMPLE_RATE, AudioError, DecodeInterruptedError, open_audio
from earmark.chromaprint.fingerprinter import Fingerprinter

DEFAULT_LENGTH = 120  # seconds, as fpcalc


@dataclass(frozen=True)
class FileFingerprint:
    """A file's fingerprint and what fpcalc would report with it."""

    path: str
    duration: float
    """The container's duration in seconds (not the fingerprinted length), as fpcalc reports it."""
    items: npt.NDArray[np.uint32]
    warning: str | None = None
    """Set when decoding stopped early on an error after some audio (fpcalc's exit code 3)."""


class DecodeTimeoutError(AudioError):
    """Decoding took longer than the caller allowed (``deadline`` of :func:`fingerprint_file`)."""


def fingerprint_file(
    path: str | os.PathLike[str],
    length: float = DEFAULT_LENGTH,
    *,
    deadline: float | None = None,
) -> FileFingerprint:
    """Fingerprint the first ``length`` seconds of a file (0: all of it).

    ``deadline`` (a :func:`time.monotonic` instant) stops the work between two decoded blocks
    with :class:`DecodeTimeoutError` (a file from a stranger may be slow to decode: the
    website's /identify bounds it so).

    Raises AudioError when the file cannot be opened, has no audio, or yields too little audio
    for a fingerprint (fpcalc: "Empty fingerprint").
    """
    if length < 0:
        raise ValueError("length must be 0 (whole file) or a positive number of seconds")
    source = open_audio(path)
    fingerprinter = Fingerprinter()
    decoded = 0
    warning = None
    try:
        for block in source.pcm_blocks(int(length * SAMPLE_RATE)):
            if deadline is not None and time.monotonic() > deadline:
                raise DecodeTimeoutError(source.path, "decoding took too long")
            decoded += len(block)
            fingerprinter.feed(block)
    except DecodeInterruptedError as exc:
        warning = exc.reason
    items = fingerprinter.finish()
    if len(items) == 0:
        reason = "empty fingerprint (less than 2.6 s of audio)"
        raise AudioError(source.path, f"{reason}; {warning}" if warning else reason)
    duration = source.duration if source.duration_ms >= 0 else decoded / SAMPLE_RATE
    return FileFingerprint(path=source.path, duration=duration, items=items, warning=warning)
