"""``earmark import-audio --full`` then ``earmark identify --clip`` / ``--segments`` on real
music in a data directory: the clip's track and offset, and the timeline of a file made of two
tracks' excerpts (concatenated with ffmpeg)."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from earmark.cli.main import cli
from earmark.embedded import initialise
from earmark.library import clips
from earmark.settings import Settings
from tests.clipindex.conftest import load_clip_tracks
from tests.support import ffmpeg_convert, require_tool

pytestmark = pytest.mark.realaudio


def _invoke(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_import_whole_files_then_identify_a_clip_and_a_timeline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    initialise(Settings(data_dir=data))
    lib = tmp_path / "lib"
    lib.mkdir()
    tracks = load_clip_tracks()[:2]
    for i, track in enumerate(tracks):
        tags = ("-metadata", f"title=Song {i}", "-metadata", "artist=Band")
        ffmpeg_convert(track.path, lib / f"{i}.flac", "-t", "80", *tags)
    state = str(tmp_path / "state.jsonl")
    code, out, err = _invoke(
        "import-audio", str(lib), "--full", "--no-wait", "--data-dir", str(data), "--state", state
    )
    assert code == 0, out + err
    code, out, err = _invoke("run", "importer", "--until-idle", env={"EARMARK_DATA_DIR": str(data)})
    assert code == 0, err
    assert "imported 2" in out

    clip = ffmpeg_convert(tracks[1].path, tmp_path / "clip.mp3", "-ss", "50", "-t", "10")
    code, out, _ = _invoke("identify", "--clip", str(clip), "--data-dir", str(data))
    assert code == 0, out
    assert re.search(r"track [0-9a-f-]{36}  from 0:(49\.[5-9]|50\.[0-4]) in the track", out), out
    assert "Song 1 — Band  [user metadata]" in out

    # 20 s of song 0 from 0:30, then 20 s of song 1 from 0:10, as one file.
    parts = [
        ffmpeg_convert(lib / "0.flac", tmp_path / "p0.wav", "-ss", "30", "-t", "20"),
        ffmpeg_convert(lib / "1.flac", tmp_path / "p1.wav", "-ss", "10", "-t", "20"),
    ]
    listing = tmp_path / "parts.txt"
    listing.write_text("".join(f"file '{p}'\n" for p in parts))
    mix = tmp_path / "mix.flac"
    ffmpeg = require_tool("ffmpeg")
    subprocess.run(
        [ffmpeg, "-v", "error", "-f", "concat", "-safe", "0", "-i", str(listing), str(mix)],
        check=True,
    )
    code, out, _ = _invoke("identify", "--segments", str(mix), "--data-dir", str(data), "--json")
    assert code == 0, out
    results = json.loads(out)["results"]
    titles = [r["recordings"][0]["title"] for r in results]
    assert titles == ["Song 0", "Song 1"]
    assert abs(results[0]["offset"] - 30) <= 0.5
    assert abs(results[1]["position"] - 20) <= 4
    assert abs(results[1]["offset"] - (10 + results[1]["position"] - 20)) <= 0.5
    code, text, _ = _invoke("identify", "--segments", str(mix), "--data-dir", str(data))
    assert re.search(r"^  0:00\.0-0:\d\d\.\d  track ", text, re.M), text

    # A recording longer than one request takes goes in overlapping parts (here parts of
    # 200 items instead of 30 minutes): the same timeline, in the whole recording's time.
    monkeypatch.setattr(clips, "PART_ITEMS", 200)
    monkeypatch.setattr(clips, "PART_OVERLAP", 40)
    code, out, _ = _invoke("identify", "--segments", str(mix), "--data-dir", str(data), "--json")
    parts = json.loads(out)["results"]
    assert [r["recordings"][0]["title"] for r in parts] == ["Song 0", "Song 1"]
    assert abs(parts[1]["position"] - 20) <= 4
    assert abs(parts[1]["offset"] - (10 + parts[1]["position"] - 20)) <= 0.5


def test_clip_options_exclude_each_other(tmp_path: Path) -> None:
    code, _, err = _invoke("identify", "--clip", "--segments", str(tmp_path))
    assert code == 2
    assert "exclude each other" in err
