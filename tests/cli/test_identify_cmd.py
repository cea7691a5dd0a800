"""``earmark identify``: errors a user meets, and output shapes (the full round trip with a
catalogue is in test_import_audio_cmd.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from earmark.cli.main import cli
from earmark.embedded import initialise
from earmark.settings import Settings
from tests.support import ffmpeg_convert, ffmpeg_generate


def _invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    initialise(Settings(data_dir=data))
    return data


@pytest.mark.realaudio
def test_no_match_and_broken_file_json(tmp_path: Path, data_dir: Path, music_file: Path) -> None:
    song = ffmpeg_convert(music_file, tmp_path / "song.ogg", "-t", "20")
    broken = tmp_path / "broken.flac"
    broken.write_bytes(b"fLaC" + b"\xff" * 300)
    code, out, _ = _invoke(
        "identify", str(song), str(broken), "--data-dir", str(data_dir), "--json"
    )
    assert code == 2  # one file could not be fingerprinted
    first, second = (json.loads(line) for line in out.splitlines())
    assert first == {"path": str(song), "duration": pytest.approx(20, abs=0.1), "results": []}
    assert second["path"] == str(broken)
    assert second["error"]
    code, out, _ = _invoke("identify", str(song), "--data-dir", str(data_dir))
    assert code == 0
    assert out == f"{song}\n  no match\n"


@pytest.mark.realaudio
def test_a_file_too_short_to_match_says_so(
    tmp_path: Path, data_dir: Path, music_file: Path
) -> None:
    short = ffmpeg_convert(music_file, tmp_path / "short.ogg", "-t", "8.5")
    silence = ffmpeg_generate(tmp_path / "silence.wav", "anullsrc=r=11025:cl=mono", 30)
    code, out, _ = _invoke("identify", str(short), str(silence), "--data-dir", str(data_dir))
    assert code == 0  # looked up; no file failed
    short_text, silence_text = out.split(f"{silence}\n")
    assert short_text.startswith(f"{short}\n  no match: too short to identify: ")
    assert "unique fingerprint items, fingerprints need at least 80" in short_text
    assert silence_text.startswith("  no match: too uniform (silence?) to identify: 1 unique")
    code, out, _ = _invoke("identify", str(short), "--data-dir", str(data_dir), "--json")
    found = json.loads(out)
    assert found["results"] == []
    assert found["unidentifiable"].startswith("too short to identify: ")


@pytest.mark.realaudio
def test_invalid_client_key(tmp_path: Path, data_dir: Path, music_file: Path) -> None:
    song = ffmpeg_convert(music_file, tmp_path / "song.ogg", "-t", "5")
    code, _, err = _invoke(
        "identify", str(song), "--data-dir", str(data_dir), "--client", "not-a-key"
    )
    assert code == 1  # an error; 2 would mean "a file could not be fingerprinted"
    assert "refused the client key (error 4, invalid API key)" in err


@pytest.mark.realaudio
def test_unreachable_server(tmp_path: Path, music_file: Path) -> None:
    song = ffmpeg_convert(music_file, tmp_path / "song.ogg", "-t", "5")
    code, _, err = _invoke("identify", str(song), "--server", "http://127.0.0.1:9", "--client", "k")
    assert code == 1
    assert "cannot reach http://127.0.0.1:9/v2" in err


def test_server_needs_a_client_key(tmp_path: Path) -> None:
    (tmp_path / "a.mp3").write_bytes(b"x")
    code, _, err = _invoke("identify", str(tmp_path), "--server", "http://127.0.0.1:9")
    assert code == 2
    assert "--client KEY is required" in err


def test_no_audio_files(tmp_path: Path) -> None:
    code, _, err = _invoke("identify", str(tmp_path))
    assert code == 2
    assert "no audio files found" in err


def test_uninitialised_data_dir(tmp_path: Path) -> None:
    (tmp_path / "a.mp3").write_bytes(b"x")
    code, _, err = _invoke("identify", str(tmp_path / "a.mp3"), "--data-dir", str(tmp_path / "d"))
    assert code == 1
    assert "not an initialised Earmark data directory" in err
