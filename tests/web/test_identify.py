"""/identify in process, on SQLite and PostgreSQL: real music, fingerprinted and imported, then
uploaded in another encoding and found; hostile and broken uploads get a clear message."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from earmark.chromaprint.files import fingerprint_file
from earmark.clipindex.index import ClipIndex
from earmark.clipsync import ClipService
from earmark.web.services import IDENTIFY_AT_ONCE, WebConfig
from tests.api.lookup_helpers import Song
from tests.clipindex.conftest import RATE, load_clip_tracks
from tests.support import ffmpeg_convert, ffmpeg_generate, require_music
from tests.web.data_support import HOSTILE, MOON, DataSite, data_site
from tests.web.harness import SECRET, WebHarness, csrf_token

__all__ = ["data_site"]


@pytest.fixture(scope="module")
def music(tmp_path_factory: pytest.TempPathFactory) -> tuple[Song, Path]:
    """A real track's fingerprint (as stored by a client that ran fpcalc on the original) and
    the same music re-encoded as MP3 (what a visitor uploads)."""
    [original] = require_music(1)
    found = fingerprint_file(original)
    mp3 = ffmpeg_convert(
        original, tmp_path_factory.mktemp("identify") / "upload.mp3", "-b:a", "96k"
    )
    return Song(found.items, round(found.duration)), mp3


def _upload(web: WebHarness, name: str, body: bytes, **extra: str) -> httpx.Response:
    token = csrf_token(web.client.get("/identify").text)
    return web.client.post(
        "/identify",
        data={"csrf_token": token, **extra},
        files={"file": (name, body, "application/octet-stream")},
    )


def test_an_uploaded_file_is_identified(data_site: DataSite, music: tuple[Song, Path]) -> None:
    song, mp3 = music
    gid = data_site.add_track(song, [MOON])
    answer = _upload(data_site.web, HOSTILE + ".mp3", mp3.read_bytes())
    assert answer.status_code == 200, answer.text[-800:]
    page = answer.text
    assert f'<a href="/track/{gid}"><code>{gid}</code></a>' in page
    assert f'<a href="/mbid/{MOON}">Moon</a>' in page
    assert "<script>alert" not in page  # the file name is text


def test_broken_and_unsupported_uploads_get_a_message(data_site: DataSite, tmp_path: Path) -> None:
    web = data_site.web
    short = ffmpeg_generate(tmp_path / "short.wav", "sine=frequency=440", 1.0)
    for name, body, message in [
        ("notes.mp3", b"hello, this is not music\n" * 20, "not an audio file"),
        ("page.html", b"<html><script>alert(1)</script></html>", "not an audio file"),
        ("empty.ogg", b"", "The file is empty."),
        ("short.wav", short.read_bytes(), "too little audio"),
        ("truncated.wav", short.read_bytes()[:60], "not an audio file"),
    ]:
        answer = _upload(web, name, body)
        assert answer.status_code == 400, name
        assert message in answer.text, (name, answer.text[-600:])
    token = csrf_token(web.client.get("/identify").text)
    missing = web.client.post("/identify", data={"csrf_token": token}, files={"other": ("a", b"")})
    assert missing.status_code == 400
    assert "Choose an audio file" in missing.text
    forged = web.client.post(
        "/identify", data={"csrf_token": "forged"}, files={"file": ("a.mp3", b"x")}
    )
    assert forged.status_code == 403


def test_size_time_and_index_limits(data_site: DataSite, music: tuple[Song, Path]) -> None:
    _, mp3 = music
    small = WebConfig(secret=SECRET, login_rate=0, identify_max_bytes=4096)
    strict = WebConfig(secret=SECRET, login_rate=0, identify_timeout=0)
    harnesses = {
        "small": WebHarness(data_site.dbs, config=small, searcher=data_site.api.searcher),
        "strict": WebHarness(data_site.dbs, config=strict, searcher=data_site.api.searcher),
        "no index": WebHarness(data_site.dbs),
    }
    try:
        too_big = _upload(harnesses["small"], "upload.mp3", mp3.read_bytes())
        assert too_big.status_code == 413
        assert "Too much data" in too_big.text
        slow = _upload(harnesses["strict"], "upload.mp3", mp3.read_bytes())
        assert slow.status_code == 400
        assert "took longer than 0 seconds" in slow.text
        page = harnesses["no index"].client.get("/identify")
        assert "has no fingerprint index" in page.text
        token = csrf_token(harnesses["no index"].client.get("/login").text)
        refused = harnesses["no index"].client.post(
            "/identify", data={"csrf_token": token}, files={"file": ("a.mp3", b"x")}
        )
        assert refused.status_code == 503
        assert "has no fingerprint index" in refused.text
    finally:
        for harness in harnesses.values():
            harness.close()


def test_uploads_beyond_the_decodes_at_once_are_answered_busy(
    data_site: DataSite, music: tuple[Song, Path]
) -> None:
    _, mp3 = music
    web = data_site.web
    slots = web.services.identify_slots
    taken = 0
    while slots.acquire(blocking=False):  # every slot busy, as with that many decodes running
        taken += 1
    try:
        busy = _upload(web, "upload.mp3", mp3.read_bytes())
    finally:
        for _ in range(taken):
            slots.release()
    assert taken == IDENTIFY_AT_ONCE
    assert busy.status_code == 503
    assert busy.headers["retry-after"] == "5"
    assert "identifying other files right now" in busy.text
    assert _upload(web, "upload.mp3", mp3.read_bytes()).status_code == 200


def test_a_clip_is_found_in_the_clip_index_with_its_place(
    data_site: DataSite, tmp_path: Path
) -> None:
    """The "clip" box: the upload is searched as ``/v2/identify`` searches it, and the page
    says where in the track the clip sits; an unsearchable clip says why."""
    track = load_clip_tracks()[0]
    gid = data_site.add_track(Song(track.items, len(track.pcm) // RATE), [MOON])
    web = data_site.web
    index = ClipIndex(tmp_path / "clips.log")
    web.services.clips = ClipService(index, data_site.api.dbs.fingerprint)
    try:
        assert 'name="clip"' in web.client.get("/identify").text
        clip = ffmpeg_convert(track.path, tmp_path / "clip.mp3", "-ss", "52", "-t", "10")
        answer = _upload(web, "clip.mp3", clip.read_bytes(), clip="1")
        assert answer.status_code == 200, answer.text[-800:]
        assert f'<a href="/track/{gid}"><code>{gid}</code></a>' in answer.text
        assert "from 0:52 in the track" in answer.text
        assert f'<a href="/mbid/{MOON}">Moon</a>' in answer.text
        silence = ffmpeg_generate(tmp_path / "silence.wav", "anullsrc", 20)
        refused = _upload(web, "silence.wav", silence.read_bytes(), clip="1")
        assert refused.status_code == 400
        assert "silence" in refused.text
    finally:
        index.close()
