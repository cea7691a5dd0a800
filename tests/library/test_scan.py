"""Finding the audio files of a library."""

from __future__ import annotations

import os
import re
from pathlib import Path

from click.testing import CliRunner

from earmark.cli.main import cli
from earmark.embedded import initialise
from earmark.library.scan import FileKey, find_audio_files
from earmark.library.state import Journal
from earmark.settings import Settings


def _touch(path: Path, content: bytes = b"x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def test_walks_sorted_audio_only_and_skips_hidden(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    for name in ["b/2.FLAC", "b/1.mp3", "a/x.ogg", "a/cover.jpg", "notes.txt", "z.opus"]:
        _touch(lib / name)
    _touch(lib / ".hidden" / "secret.mp3")
    _touch(lib / "a" / "._x.ogg")  # macOS resource fork
    found = list(find_audio_files([lib]))
    rel = [os.path.relpath(p, lib) for p in found]
    assert rel == ["z.opus", "a/x.ogg", "b/1.mp3", "b/2.FLAC"]


def test_explicit_files_pass_through_whatever_their_name(tmp_path: Path) -> None:
    odd = _touch(tmp_path / "song.bin")
    assert list(find_audio_files([odd, tmp_path / "missing.mp3"])) == [
        str(odd),
        str(tmp_path / "missing.mp3"),
    ]


def test_symlink_loop_is_not_followed(tmp_path: Path) -> None:
    lib = tmp_path / "lib"
    _touch(lib / "a" / "1.mp3")
    (lib / "a" / "loop").symlink_to(lib, target_is_directory=True)
    assert [os.path.basename(p) for p in find_audio_files([lib])] == ["1.mp3"]


def test_file_key_changes_with_content(tmp_path: Path) -> None:
    path = _touch(tmp_path / "a.mp3", b"one")
    first = FileKey.of(path)
    assert first.path == str(path.resolve())
    assert first.size == 3
    os.utime(path, ns=(first.mtime_ns + 10**9, first.mtime_ns + 10**9))
    assert FileKey.of(path) != first


def test_fingerprint_and_import_audio_see_the_same_files(tmp_path: Path) -> None:
    """Both commands walk with one finder: hidden files and directories are skipped by both."""
    lib = tmp_path / "lib"
    names = ["b/4.wav", "a/1.mp3", "a/._1.mp3", ".hidden/2.flac", ".3.ogg", "cover.jpg"]
    for name in names:
        _touch(lib / name, b"not audio")  # each file fails to decode: both commands name it
    expected = [str(lib / "a" / "1.mp3"), str(lib / "b" / "4.wav")]
    runner = CliRunner()

    fingerprinted = runner.invoke(cli, ["fingerprint", "--jobs", "1", str(lib)])
    assert fingerprinted.exit_code == 2
    named = re.findall(r"^earmark: error: (.+?): ", fingerprinted.stderr, re.M)
    assert named == expected

    data, state = tmp_path / "data", tmp_path / "state.jsonl"
    initialise(Settings(data_dir=data))
    args = ["import-audio", str(lib), "--data-dir", str(data), "--state", str(state)]
    imported = runner.invoke(cli, args)
    assert imported.exit_code == 2, imported.output
    with Journal.open(state) as journal:
        assert sorted(key.path for key in journal.entries) == expected
