"""``/v2/identify`` over the real app and databases (SQLite and PostgreSQL): clips found in the
full-length fingerprints the importer stored, with their offset; bad input answered clearly."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from earmark.chromaprint.codec import encode_fingerprint_base64
from earmark.chromaprint.fingerprinter import fingerprint_pcm
from earmark.clipindex.index import ClipIndex
from earmark.clipsync import ClipService
from earmark.db.engine import Databases
from tests.api.harness import ApiHarness
from tests.clipindex.conftest import RATE, load_clip_tracks
from tests.support import ffmpeg_convert, ffmpeg_generate

IDENTIFY = "/v2/identify"


@pytest.fixture
def clip_api(dbs: Databases, tmp_path: Path) -> Iterator[ApiHarness]:
    """The API with a clip index following its database; two real tracks imported whole."""
    h = ApiHarness(dbs, tmp_path / "index")
    h.services.clips = ClipService(ClipIndex(tmp_path / "clips" / "clips.log"), dbs.fingerprint)
    yield h
    h.services.clips.index.close()
    h.close()


def test_a_clip_is_found_with_its_offset_and_new_imports_become_searchable(
    clip_api: ApiHarness,
) -> None:
    a, b, _, outsider = load_clip_tracks()
    gid_a = clip_api.add_track(a.items, len(a.pcm) // RATE)
    query = {"client": clip_api.client_key, "format": "json"}
    answer = clip_api.json(IDENTIFY, {**query, "fingerprint": _b64(a.excerpt(52.4, 10))})
    assert answer["status"] == "ok"
    [result] = answer["results"]
    assert result["id"] == str(gid_a)
    assert abs(result["offset"] - 52.4) <= 0.5
    assert result["position"] == 0.0
    assert 9 <= result["duration"] <= 10.5
    assert 0.85 <= result["score"] <= 1.0

    # Imported after the first search: searchable at the next one (sync_interval 0 here).
    clip_api.services.clips.sync_interval = 0  # type: ignore[union-attr]
    gid_b = clip_api.add_track(b.items, len(b.pcm) // RATE)
    answer = clip_api.json(IDENTIFY, {**query, "fingerprint": _b64(b.excerpt(80.0, 5))})
    assert [r["id"] for r in answer["results"]] == [str(gid_b)]

    # A clip of both: two results in clip order.
    both = np.concatenate([a.pcm[20 * RATE : 40 * RATE], b.pcm[30 * RATE : 50 * RATE]])
    answer = clip_api.json(IDENTIFY, {**query, "fingerprint": _b64(fingerprint_pcm(both))})
    assert [r["id"] for r in answer["results"]] == [str(gid_a), str(gid_b)]
    assert abs(answer["results"][1]["position"] - 20) <= 4

    answer = clip_api.json(IDENTIFY, {**query, "fingerprint": _b64(outsider.excerpt(30, 10))})
    assert answer == {"status": "ok", "results": []}


def test_bad_clips_get_a_clear_error_in_the_requested_format(clip_api: ApiHarness) -> None:
    a = load_clip_tracks()[0]
    clip_api.add_track(a.items, len(a.pcm) // RATE)
    key = clip_api.client_key
    silence = fingerprint_pcm(np.zeros(20 * RATE, dtype=np.int16))
    cases = [
        ({"client": key}, 2, "fingerprint"),
        ({"client": key, "fingerprint": "not a fingerprint!"}, 3, "invalid fingerprint"),
        ({"client": key, "fingerprint": _b64(a.excerpt(10, 4))}, 3, "too short"),
        ({"client": key, "fingerprint": _b64(silence)}, 3, "silence"),
        ({"client": "nope", "fingerprint": _b64(a.excerpt(10, 10))}, 4, "API key"),
    ]
    for params, code, words in cases:
        response = clip_api.call(IDENTIFY, {**params, "format": "json"})
        body = response.json()
        assert response.status_code == 400, body
        assert body["status"] == "error"
        assert body["error"]["code"] == code
        assert words in body["error"]["message"]
    rng = np.random.default_rng(3)
    huge = rng.integers(0, 2**32, 14_536, dtype=np.uint32)  # 30 minutes and one item
    too_long = clip_api.call(IDENTIFY, {"client": key, "fingerprint": _b64(huge)})
    assert too_long.status_code == 413
    assert too_long.json()["error"]["code"] == 19
    assert "in parts" in too_long.json()["error"]["message"]
    xml = clip_api.call(IDENTIFY, {"client": key, "fingerprint": _b64(silence), "format": "xml"})
    assert xml.status_code == 400
    assert "<code>3</code>" in xml.text
    assert "silence" in xml.text


def test_an_uploaded_audio_file_is_identified_and_bad_uploads_refused(
    clip_api: ApiHarness, tmp_path: Path
) -> None:
    a = load_clip_tracks()[0]
    gid = clip_api.add_track(a.items, len(a.pcm) // RATE)
    url = f"{IDENTIFY}?client={clip_api.client_key}&format=json"
    clip = ffmpeg_convert(a.path, tmp_path / "clip.mp3", "-ss", "41.5", "-t", "10", "-b:a", "64k")
    response = clip_api.client.post(
        url, content=clip.read_bytes(), headers={"Content-Type": "audio/mpeg"}
    )
    [result] = response.json()["results"]
    assert result["id"] == str(gid)
    assert abs(result["offset"] - 41.5) <= 0.5

    not_audio = clip_api.client.post(
        url, content=b"%PDF-1.4 not audio" * 50, headers={"Content-Type": "audio/mpeg"}
    )
    assert not_audio.status_code == 400
    error = not_audio.json()["error"]
    assert error["code"] == 20
    assert "not audio" in error["message"]
    assert str(tmp_path) not in error["message"]
    assert "/tmp" not in error["message"]

    # 11 minutes of a quiet tone in 8 kbit/s MP3: small enough for the body, too long to decode.
    long = ffmpeg_generate(
        tmp_path / "long.mp3", "sine=frequency=440:sample_rate=8000", 660, "-b:a", "8k"
    )
    assert long.stat().st_size < 1024 * 1024
    too_long = clip_api.client.post(
        url, content=long.read_bytes(), headers={"Content-Type": "application/octet-stream"}
    )
    assert too_long.status_code == 413
    assert too_long.json()["error"]["code"] == 19
    assert "600 s" in too_long.json()["error"]["message"]


def _b64(items: np.ndarray) -> str:
    return encode_fingerprint_base64(items)
