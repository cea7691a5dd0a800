"""The real client: pyacoustid, unchanged, against a live `earmark serve`.

pyacoustid fingerprints with Chromaprint, sends gzip-compressed form bodies over plain HTTP and
waits a third of a second between calls: all of that is part of the test. The MusicBrainz
subset holds mbdata's sample, and the submission names one of its recordings, so the lookup of
a re-encoded copy comes back with the recording's title, artist and releases.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.serve.process import Serve, clean_environment, load_musicbrainz_sample
from tests.support import ffmpeg_convert, require_tool

acoustid = pytest.importorskip("acoustid")


@pytest.fixture
def base_url() -> Iterator[None]:
    saved = acoustid.API_BASE_URL
    yield
    acoustid.set_base_url(saved)


def sample_recording(data_dir: Path) -> tuple[str, str]:
    """Load mbdata's sample with the real command; one recording's (MBID, title)."""
    return load_musicbrainz_sample(
        clean_environment(EARMARK_DATA_DIR=str(data_dir)),
        f"sqlite:///{data_dir / 'musicbrainz.db'}",
    )


def wait_imported(client: str, submission_id: int, timeout: float = 60.0) -> str:
    deadline = time.monotonic() + timeout
    while True:
        answer = acoustid.get_submission_status(client, submission_id)
        assert answer["status"] == "ok", answer
        (status,) = answer["submissions"]
        if status["status"] == "imported":
            return str(status["result"]["id"])
        assert status["status"] == "pending", status
        assert time.monotonic() < deadline, f"not imported after {timeout:g}s: {status}"


@pytest.mark.slow
@pytest.mark.realaudio
# audioread (pyacoustid's decoder) imports the standard modules aifc, audioop and sunau, which
# Python 3.11+ deprecates; that is the client's business, not a fault of the server.
@pytest.mark.filterwarnings("ignore:'(aifc|audioop|sunau)' is deprecated:DeprecationWarning")
def test_pyacoustid_submits_then_identifies_a_reencoded_copy(
    tmp_path: Path, music_file: Path, base_url: None
) -> None:
    require_tool("ffmpeg")
    data_dir = tmp_path / "data"
    mbid, title = sample_recording(data_dir)
    server = Serve(data_dir, clean_environment())
    try:
        acoustid.set_base_url(server.url + "/v2")
        duration, fingerprint = acoustid.fingerprint_file(str(music_file))
        submitted: Any = acoustid.submit(
            server.client_key,
            server.user_key,
            {
                "duration": int(duration),
                "fingerprint": fingerprint,
                "mbid": mbid,
                "track": title,
                "artist": "Tagged Artist",
                "album": "Tagged Album",
                "trackno": 3,
                "year": 2011,
                "fileformat": "Ogg Vorbis",
            },
        )
        assert submitted["status"] == "ok", submitted
        (submission,) = submitted["submissions"]
        track_id = wait_imported(server.client_key, submission["id"])

        copy = ffmpeg_convert(music_file, tmp_path / "copy.mp3", "-b:a", "128k")
        copy_duration, copy_fingerprint = acoustid.fingerprint_file(str(copy))
        assert copy_fingerprint != fingerprint
        found: Any = acoustid.lookup(
            server.client_key, copy_fingerprint, copy_duration, meta="recordings releases"
        )
        assert found["status"] == "ok", found
        best = found["results"][0]
        assert best["id"] == track_id
        assert best["score"] > 0.5
        (recording,) = best["recordings"]
        assert recording["id"] == mbid
        assert recording["title"] == title
        assert recording["releases"], recording

        # pyacoustid's own reading of a lookup answer (what beets uses): the same recording.
        parsed = list(
            acoustid.parse_lookup_result(
                acoustid.lookup(server.client_key, copy_fingerprint, copy_duration)
            )
        )
        assert [(rid, name) for _score, rid, name, _artist in parsed] == [(mbid, title)]
    finally:
        server.stop()
