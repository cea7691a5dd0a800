"""`earmark fingerprint` against fpcalc, and its batch behaviour and errors."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from earmark.chromaprint.codec import decode_fingerprint_base64
from earmark.cli.main import cli
from tests.support import (
    bit_error_rate,
    ffmpeg_convert,
    ffmpeg_generate,
    fpcalc_raw,
    require_music,
    require_tool,
)

pytestmark = pytest.mark.realaudio


def fpcalc_output(*args: str) -> str:
    fpcalc = require_tool("fpcalc")
    # -ignore-errors: Debian bookworm's fpcalc exits 3 on every file (chromaprint #122).
    return subprocess.run(
        [fpcalc, "-ignore-errors", *args], capture_output=True, text=True, check=True
    ).stdout


def earmark(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def tracks() -> list[Path]:
    return require_music(3)


@pytest.fixture(scope="module")
def pcm_wav(tracks: list[Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Real music already at 11025 Hz mono s16: both tools see the very same samples.

    (From other formats the PCM can differ in rare least significant bits between PyAV's FFmpeg
    and the one fpcalc links, so byte-exact output comparisons use this file.)
    """
    target = tmp_path_factory.mktemp("pcm") / "music.wav"
    return ffmpeg_convert(tracks[0], target, "-t", "40", "-ac", "1", "-ar", "11025")


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        ((), ()),
        (("--json",), ("-json",)),
        (("--raw",), ("-raw",)),
        (("--raw", "--signed"), ("-raw", "-signed")),
        (("--raw", "--json"), ("-raw", "-json")),
        (("--plain",), ("-plain",)),
        (("--length", "30"), ("-length", "30")),
    ],
)
def test_single_file_output_is_fpcalcs(
    pcm_wav: Path, ours: tuple[str, ...], theirs: tuple[str, ...]
) -> None:
    path = str(pcm_wav)
    code, out, _ = earmark("fingerprint", *ours, path)
    assert code == 0
    assert out == fpcalc_output(*theirs, path)


def test_whole_file_on_several_real_tracks(tracks: list[Path]) -> None:
    for path in tracks:
        code, out, _ = earmark("fingerprint", "--json", "--length", "0", str(path))
        assert code == 0
        ours = json.loads(out)
        items, algorithm = decode_fingerprint_base64(ours["fingerprint"])
        duration, reference = fpcalc_raw(path, 0)
        assert algorithm == 1
        assert len(items) == len(reference)
        assert bit_error_rate([int(v) for v in items], reference) <= 1e-3
        assert ours["duration"] == duration


def test_directory_is_walked_and_entries_named(tmp_path: Path, tracks: list[Path]) -> None:
    nested = tmp_path / "music" / "album"
    nested.mkdir(parents=True)
    first = ffmpeg_convert(tracks[0], nested / "01.flac", "-t", "10")
    second = ffmpeg_convert(tracks[1], tmp_path / "music" / "02.mp3", "-t", "10")
    (tmp_path / "music" / "cover.jpg").write_bytes(b"not audio, skipped by its ending")
    code, out, _ = earmark("fingerprint", "--json", "--jobs", "2", str(tmp_path / "music"))
    assert code == 0
    entries = [json.loads(line) for line in out.splitlines()]
    assert [e["file"] for e in entries] == [str(second), str(first)]  # sorted walk: 02.mp3, album/
    for entry in entries:
        items, _ = decode_fingerprint_base64(entry["fingerprint"])
        _, reference = fpcalc_raw(Path(entry["file"]), 120)
        assert bit_error_rate([int(v) for v in items], reference) <= 1e-3


def test_text_output_for_several_files(tmp_path: Path, pcm_wav: Path) -> None:
    a = ffmpeg_convert(pcm_wav, tmp_path / "a.wav", "-t", "8")
    b = ffmpeg_convert(pcm_wav, tmp_path / "b.wav", "-ss", "10", "-t", "8")
    code, out, _ = earmark("fingerprint", str(a), str(b))
    assert code == 0
    expected = "".join(f"FILE={p}\n{fpcalc_output(str(p))}\n" for p in (a, b))
    assert out == expected


def test_bad_files_do_not_stop_the_batch(tmp_path: Path, pcm_wav: Path) -> None:
    good = ffmpeg_convert(pcm_wav, tmp_path / "good.flac", "-t", "8")
    junk = tmp_path / "junk.mp3"
    junk.write_text("not audio")
    short = ffmpeg_generate(tmp_path / "short.wav", "sine=frequency=440", 1)
    missing = tmp_path / "missing.ogg"
    args = ["fingerprint", "--plain", str(junk), str(good), str(missing), str(short)]
    code, out, err = earmark(*args)
    assert code == 2
    assert out.splitlines() == [f"{good}\t{fpcalc_output('-plain', str(good)).strip()}"]
    assert f"{junk}: cannot open" in err
    assert f"{missing}: no such file" in err
    assert f"{short}: empty fingerprint" in err


def test_decoding_error_after_audio_exits_3(tmp_path: Path, tracks: list[Path]) -> None:
    # An Ogg file cut mid-page: the audio before the cut is fingerprinted, like fpcalc.
    full = ffmpeg_convert(tracks[2], tmp_path / "full.ogg", "-t", "20", "-c:a", "libvorbis")
    data = full.read_bytes()
    cut = tmp_path / "cut.ogg"
    cut.write_bytes(data[: len(data) * 2 // 3] + b"OggS\x00garbage" * 50)
    code, out, err = earmark("fingerprint", str(cut))
    if code == 3:
        assert "warning" in err
        assert out.startswith("DURATION=")
        code, _, _ = earmark("fingerprint", "--ignore-errors", str(cut))
    assert code == 0


def test_empty_directory_and_bad_options(tmp_path: Path) -> None:
    code, _, err = earmark("fingerprint", str(tmp_path))
    assert code == 2
    assert "no audio files found" in err
    code, _, err = earmark("fingerprint", "--length", "-1", str(tmp_path))
    assert code == 2
    assert "--length" in err
    code, _, _ = earmark("fingerprint", "--jobs", "-3", str(tmp_path))
    assert code == 2


def test_length_default_comes_from_settings(pcm_wav: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EARMARK_FINGERPRINT_LENGTH", "15")
    code, out, _ = earmark("fingerprint", "--raw", str(pcm_wav))
    assert code == 0
    assert out == fpcalc_output("-raw", "-length", "15", str(pcm_wav))
