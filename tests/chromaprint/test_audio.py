"""Decoding audio files to 11025 Hz mono s16: formats, fpcalc agreement, hostile files."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from earmark.chromaprint.audio import (
    SAMPLE_RATE,
    AudioError,
    DecodeInterruptedError,
    open_audio,
    read_pcm,
)
from earmark.chromaprint.files import fingerprint_file
from tests.support import bit_error_rate, ffmpeg_convert, ffmpeg_generate, fpcalc_raw

pytestmark = pytest.mark.realaudio

FORMATS = {
    "wav": ("-c:a", "pcm_s16le"),
    "flac": ("-c:a", "flac"),
    "mp3": ("-c:a", "libmp3lame", "-b:a", "128k"),
    "m4a": ("-c:a", "aac", "-b:a", "128k"),
    "opus": ("-c:a", "libopus", "-b:a", "96k"),
    "ogg": ("-c:a", "libvorbis", "-q:a", "4"),
    "mka": ("-c:a", "flac"),
}


@pytest.fixture(scope="module")
def excerpts(music_file: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """20 s of real music in every common format."""
    base = tmp_path_factory.mktemp("formats")
    return {
        ext: ffmpeg_convert(music_file, base / f"excerpt.{ext}", "-t", "20", *options)
        for ext, options in FORMATS.items()
    }


@pytest.mark.parametrize("ext", sorted(FORMATS))
def test_every_common_format_decodes_like_fpcalc(excerpts: dict[str, Path], ext: str) -> None:
    path = excerpts[ext]
    source = open_audio(path)
    assert source.duration == pytest.approx(20, abs=0.1)
    pcm = read_pcm(path)
    assert pcm.dtype == np.int16
    # Every decoder yields the 20 s, give or take codec priming and padding.
    assert abs(len(pcm) - 20 * SAMPLE_RATE) < 0.1 * SAMPLE_RATE
    duration, reference = fpcalc_raw(path, length=0)
    ours = fingerprint_file(path, 0)
    assert len(ours.items) == len(reference)
    # Same FFmpeg resampler settings; only the FFmpeg version differs (PyAV's vs Debian's).
    assert bit_error_rate([int(v) for v in ours.items], reference) <= 1e-3
    if ext != "mp3":  # newer FFmpeg subtracts MP3 encoder delay from the declared duration
        assert f"{ours.duration:.2f}" == f"{duration:.2f}"


def test_length_limits_the_decoded_audio(excerpts: dict[str, Path]) -> None:
    pcm = read_pcm(excerpts["flac"], max_seconds=5)
    assert len(pcm) == 5 * SAMPLE_RATE
    assert len(fingerprint_file(excerpts["flac"], 5).items) == (5 * SAMPLE_RATE - 4096) // 1365 - 18


def test_mono_and_odd_rates(tmp_path: Path) -> None:
    path = ffmpeg_generate(tmp_path / "tone.wav", "sine=frequency=440:sample_rate=22050", 4)
    source = open_audio(path)
    assert (source.sample_rate, source.channels) == (22050, 1)
    pcm = read_pcm(path)
    assert abs(len(pcm) - 4 * SAMPLE_RATE) <= 2
    # A 440 Hz sine at ffmpeg's default amplitude (1/8 of full scale) survives resampling.
    assert 3000 < np.abs(pcm[1000:-1000]).max() < 5000


def test_short_audio_has_no_fingerprint(tmp_path: Path) -> None:
    path = ffmpeg_generate(tmp_path / "short.flac", "sine=frequency=440", 2.5)
    with pytest.raises(AudioError, match="empty fingerprint"):
        fingerprint_file(path)


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


HOSTILE = {
    "empty.mp3": b"",
    "text.mp3": b"this is not audio at all\n" * 100,
    "random.ogg": bytes(np.random.default_rng(7).integers(0, 256, 100_000, dtype=np.uint8)),
    "playlist.m3u8": b"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\nfile:///etc/passwd\n",
    "concat.txt": b"ffconcat version 1.0\nfile '/etc/passwd'\n",
    "image.png": b"\x89PNG\r\n\x1a\n" + b"\x00" * 200,
    "wav_header_only.wav": b"RIFF\xff\xff\xff\xffWAVEfmt \x10\x00\x00\x00\x01\x00\x02\x00"
    + b"\x44\xac\x00\x00\x10\xb1\x02\x00\x04\x00\x10\x00data\xff\xff\xff\xff",
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_files_give_one_clear_error(tmp_path: Path, name: str) -> None:
    path = _write(tmp_path / name, HOSTILE[name])
    with pytest.raises(AudioError) as info:
        fingerprint_file(path)
    assert str(path) in str(info.value)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(AudioError, match="no such file"):
        open_audio(tmp_path / "absent.flac")
    with pytest.raises(AudioError, match="not a regular file"):
        open_audio(tmp_path)


def test_names_that_look_like_urls_are_local_files(tmp_path: Path) -> None:
    # FFmpeg would treat "http:..." or "pipe:0" as protocols; Earmark opens the local file.
    url_like = tmp_path / "http:"
    url_like.mkdir()
    path = ffmpeg_generate(url_like / "x.flac", "sine=frequency=440", 3)
    assert len(read_pcm(path)) == pytest.approx(3 * SAMPLE_RATE, abs=5)
    os.chdir(tmp_path)
    try:
        ffmpeg_generate(tmp_path / "pipe:0", "sine=frequency=440", 3, "-f", "flac")
        assert open_audio("pipe:0").format_name == "flac"
    finally:
        os.chdir(Path(__file__).parent)


def test_truncated_file_keeps_what_was_decoded(excerpts: dict[str, Path], tmp_path: Path) -> None:
    data = excerpts["mp3"].read_bytes()
    path = _write(tmp_path / "truncated.mp3", data[: len(data) // 2])
    result = fingerprint_file(path, 0)
    assert 50 < len(result.items) < 70  # about 10 s of the 20 (59 items)


def test_corrupt_middle_is_survived(excerpts: dict[str, Path], tmp_path: Path) -> None:
    data = bytearray(excerpts["ogg"].read_bytes())
    middle = len(data) // 2
    data[middle : middle + 4000] = bytes(np.random.default_rng(3).integers(0, 256, 4000, np.uint8))
    path = _write(tmp_path / "corrupt.ogg", bytes(data))
    try:
        result = fingerprint_file(path, 0)
    except DecodeInterruptedError:  # pragma: no cover - fingerprint_file turns it into a warning
        pytest.fail("DecodeInterruptedError escaped fingerprint_file")
    # Either the decoder skipped the damage or it stopped there with a warning: both keep audio.
    assert len(result.items) > 60
    if result.warning is None:
        assert len(result.items) > 120
