"""fingerprint_file's deadline: a decode that runs past it stops with DecodeTimeoutError."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from earmark.chromaprint.files import DecodeTimeoutError, fingerprint_file
from tests.support import ffmpeg_generate


def test_a_passed_deadline_stops_the_decode(tmp_path: Path) -> None:
    audio = ffmpeg_generate(tmp_path / "tone.wav", "sine=frequency=440", 20.0)
    with pytest.raises(DecodeTimeoutError, match="decoding took too long"):
        fingerprint_file(audio, deadline=time.monotonic() - 1)
    # A deadline far away changes nothing.
    far = fingerprint_file(audio, deadline=time.monotonic() + 3600)
    assert far.items.tolist() == fingerprint_file(audio).items.tolist()
    assert far.items.size > 100
