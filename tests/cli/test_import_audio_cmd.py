"""``earmark import-audio`` then ``earmark identify``, end to end on real music with an
in-process data directory: submit a small tagged library, import it, identify a re-encoded
copy and get the track and the tagged MBID back."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner

from earmark.cli.main import cli
from earmark.embedded import initialise
from earmark.library.state import Journal
from earmark.settings import Settings
from tests.serve.process import Serve, clean_environment
from tests.support import ffmpeg_convert, require_music

pytestmark = [pytest.mark.slow, pytest.mark.realaudio]


def _library(tmp_path: Path) -> tuple[Path, list[tuple[Path, str]]]:
    """Two tagged 30 s excerpts of real music, one untagged, one broken file."""
    lib = tmp_path / "lib"
    lib.mkdir()
    tagged = []
    for i, source in enumerate(require_music(2)):
        mbid = str(uuid.uuid4())
        target = lib / f"{i}.flac"
        ffmpeg_convert(
            source,
            target,
            *("-t", "30"),
            *("-metadata", f"title=Song {i}", "-metadata", "artist=Band"),
            *("-metadata", f"track={i + 1}/2", "-metadata", f"MUSICBRAINZ_TRACKID={mbid}"),
        )
        tagged.append((target, mbid))
    ffmpeg_convert(require_music(3)[1], lib / "plain.ogg", "-t", "10", "-map_metadata", "-1")
    (lib / "broken.mp3").write_bytes(b"\x00not audio" * 100)
    return lib, tagged


def _invoke(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_import_then_identify(tmp_path: Path) -> None:
    data = tmp_path / "data"
    initialise(Settings(data_dir=data))
    lib, tagged = _library(tmp_path)
    state = tmp_path / "state.jsonl"

    code, out, err = _invoke(
        "import-audio", str(lib), "--data-dir", str(data), "--state", str(state), "--no-wait"
    )
    assert code == 2, err  # the broken file
    assert "submitted 2 file(s) (2 submission(s)), skipped 0 already done, 1 without tags" in out
    assert "not waiting for the importer (--no-wait)" in out
    assert f"failed: {lib / 'broken.mp3'}" in out
    with Journal.open(state) as journal:
        statuses = sorted(e.status for e in journal.entries.values())
    assert statuses == ["failed", "submitted", "submitted", "untagged"]

    # Resuming does nothing new (and still reports the failure).
    code, out, _ = _invoke("import-audio", str(lib), "--data-dir", str(data), "--state", str(state))
    assert code == 0
    assert "submitted 0 file(s)" in out
    assert "skipped 4 already done" in out
    assert "failed in earlier runs" in out
    assert "broken.mp3" in out

    code, out, err = _invoke("run", "importer", "--until-idle", env={"EARMARK_DATA_DIR": str(data)})
    assert code == 0, err
    assert "imported 2" in out

    source, mbid = tagged[1]
    copy = ffmpeg_convert(source, tmp_path / "copy.mp3", "-b:a", "96k")
    code, out, err = _invoke("identify", str(copy), "--data-dir", str(data), "--json")
    assert code == 0, err
    found = json.loads(out)
    assert found["path"] == str(copy)
    assert 29 <= found["duration"] <= 31
    best = found["results"][0]
    assert best["score"] > 0.9
    assert mbid in [r.get("id") for r in best["recordings"]]

    code, out, _ = _invoke("identify", str(copy), str(tagged[0][0]), "--data-dir", str(data))
    assert code == 0
    assert f"[{mbid}]" in out
    assert f"[{tagged[0][1]}]" in out
    assert "Song 1 — Band  [user metadata]" in out


def test_import_with_a_changed_file_resubmits_it(tmp_path: Path) -> None:
    data = tmp_path / "data"
    initialise(Settings(data_dir=data))
    lib = tmp_path / "lib"
    lib.mkdir()
    song = ffmpeg_convert(require_music(1)[0], lib / "a.ogg", "-t", "20", "-metadata", "title=A")
    state = tmp_path / "s.jsonl"
    args = ("import-audio", str(lib), "--data-dir", str(data), "--state", str(state), "--no-wait")
    assert "submitted 1 file(s)" in _invoke(*args)[1]
    ffmpeg_convert(require_music(1)[0], song, "-t", "20", "-metadata", "title=A, retagged")
    assert "submitted 1 file(s)" in _invoke(*args)[1]
    assert "submitted 0 file(s)" in _invoke(*args)[1]


def test_server_mode_needs_keys(tmp_path: Path) -> None:
    code, _, err = _invoke("import-audio", str(tmp_path), "--server", "http://127.0.0.1:9")
    assert code == 2
    assert "--user KEY is required" in err
    code, _, err = _invoke(
        "import-audio", str(tmp_path), "--server", "http://127.0.0.1:9", "--user", "u"
    )
    assert code == 2
    assert "--client KEY is required" in err


def test_uninitialised_data_dir(tmp_path: Path) -> None:
    (tmp_path / "lib").mkdir()
    code, _, err = _invoke(
        "import-audio", str(tmp_path / "lib"), "--data-dir", str(tmp_path / "nothing")
    )
    assert code == 1
    assert "not an initialised Earmark data directory" in err
    assert not (tmp_path / "nothing").exists()


def test_import_refuses_short_files_and_waits_for_the_importer(tmp_path: Path) -> None:
    """Against a real `earmark serve` (its importer running): a file too short to ever be
    identified is refused up front with the reason; the other is reported imported, and
    `identify` finds it at once (or says why the short one cannot match)."""
    lib = tmp_path / "lib"
    lib.mkdir()
    source = require_music(1)[0]
    tags = ("-map_metadata", "-1", "-metadata")
    full = ffmpeg_convert(source, lib / "full.ogg", "-t", "25", *tags, "title=Full")
    short = ffmpeg_convert(source, lib / "short.ogg", "-t", "8.5", *tags, "title=Short")
    server = Serve(tmp_path / "data", clean_environment(EARMARK_SHUTDOWN_DELAY="0"))
    try:
        keys = ("--server", server.url, "--client", server.client_key)
        code, out, err = _invoke(
            "import-audio", str(lib), *keys, "--user", server.user_key,
            "--state", str(tmp_path / "s.jsonl"), "--wait-timeout", "120",
        )  # fmt: skip
        assert code == 2, err  # the refused file
        assert "submitted 1 file(s) (1 submission(s))" in out
        assert f"failed: {short}: too short to identify: " in out
        assert "fingerprints need at least 80" in out
        assert (
            "imported 1 file(s), 0 skipped by the importer, 0 failed in the importer, "
            "0 still pending"
        ) in out

        code, out, err = _invoke("identify", str(short), str(full), *keys)
        assert code == 0, err
        short_text, full_text = out.split(f"{full}\n")
        assert short_text.startswith(f"{short}\n  no match: too short to identify: ")
        assert "score 1.000\n    Full  [user metadata]" in full_text
    finally:
        server.stop()


def test_import_reports_what_the_importer_has_not_handled(tmp_path: Path) -> None:
    """No importer runs on the data directory: the wait ends at its bound and says so."""
    data = tmp_path / "data"
    initialise(Settings(data_dir=data))
    lib = tmp_path / "lib"
    lib.mkdir()
    ffmpeg_convert(require_music(1)[0], lib / "a.ogg", "-t", "20", "-metadata", "title=A")
    code, out, err = _invoke(
        "import-audio", str(lib), "--data-dir", str(data), "--state", str(tmp_path / "s.jsonl"),
        "--wait-timeout", "0",
    )  # fmt: skip
    assert code == 0, err
    assert (
        "imported 0 file(s), 0 skipped by the importer, 0 failed in the importer, 1 still pending"
    ) in out
    assert "is `earmark serve` or `earmark run importer` running?" in out


def test_import_with_a_refused_user_key_exits_1(tmp_path: Path) -> None:
    data = tmp_path / "data"
    initialise(Settings(data_dir=data))
    lib = tmp_path / "lib"
    lib.mkdir()
    ffmpeg_convert(require_music(1)[0], lib / "a.ogg", "-t", "20", "-metadata", "title=A")
    code, _, err = _invoke(
        "import-audio", str(lib), "--data-dir", str(data), "--user", "BAD",
        "--state", str(tmp_path / "s.jsonl"),
    )  # fmt: skip
    assert code == 1  # an error, not 2 ("a file could not be fingerprinted")
    assert "refused the user key (error 6, invalid user API key)" in err
