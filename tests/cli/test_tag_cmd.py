"""``earmark tag`` end to end: a catalogue built here (the synthetic mirror, four real tracks
submitted with MBIDs of its recordings), a library of real files in every container with
correct, wrong and no tags, in an album folder and loose; dry run, --write, --undo, a
read-only file, and the same answers from ``earmark serve`` over HTTP."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from earmark.cli.main import cli
from earmark.embedded import initialise
from earmark.library.tags import read_tags
from earmark.musicbrainz.synthetic import synthetic_gid
from earmark.settings import Settings
from tests.serve.process import Serve, clean_environment, earmark_command
from tests.support import ffmpeg_convert, require_music, require_tool

pytestmark = [pytest.mark.realaudio]

#: 15 s from 20 s in (past quiet intros): a few seconds above the fingerprint minimum (80
#: unique items, about 13 s).
CUT = ("-ss", "20", "-t", "15")
#: Source track → synthetic recording number (1 is on many singles and three albums; 3 and 9
#: also on a compilation; 29 on the three albums only). Releases 1, 2 (GB) and 3 hold all.
RECORDINGS = {"a": 1, "b": 3, "c": 9, "d": 29}
ALBUM_IN_GB = str(synthetic_gid("release", 2))
#: The library: name → (source, ffmpeg tag options). "e" is never submitted (no match).
LIBRARY = {
    "album/01.flac": ("a", ()),
    "album/02.mp3": ("b", ("-metadata", "title=Wrong Title", "-metadata", "artist=Nobody")),
    "album/03.m4a": ("c", ("-metadata", "comment=keep me")),
    "loose/a.opus": ("a", ()),
    "loose/d.ogg": ("d", ("-metadata", "title=Synthetic Recording 00029")),
    "loose/b.wav": ("b", ()),
    "loose/c.aiff": ("c", ("-metadata", "title=Old")),
    "loose/e.flac": ("e", ()),
}
SETTINGS = {"EARMARK_TAG_RELEASE_COUNTRIES": "GB", "EARMARK_TAG_RELEASE_TYPES": "Single,Album"}


@dataclass(frozen=True)
class Catalogue:
    data: Path
    library: Path
    env: dict[str, str]


def _invoke(*args: str, env: dict[str, str]) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def catalogue(tmp_path_factory: pytest.TempPathFactory) -> Catalogue:
    root = tmp_path_factory.mktemp("tag")
    data = root / "data"
    initialise(Settings(data_dir=data))
    env = {"EARMARK_DATA_DIR": str(data), **SETTINGS}
    code, _, err = _invoke("mb", "load-sample", "--synthetic", "40", "--seed", "7", env=env)
    assert code == 0, err
    music = dict(zip("abcde", _long_tracks(5), strict=True))
    refs = root / "refs"
    refs.mkdir()
    for name, number in RECORDINGS.items():
        mbid = str(synthetic_gid("recording", number))
        ffmpeg_convert(
            music[name], refs / f"{name}.ogg", *CUT, "-metadata", f"MUSICBRAINZ_TRACKID={mbid}"
        )
    state = str(root / "import.jsonl")
    code, out, err = _invoke("import-audio", str(refs), "--no-wait", "--state", state, env=env)
    assert code == 0, out + err
    code, _, err = _invoke("run", "importer", "--until-idle", env=env)
    assert code == 0, err
    library = root / "library"
    for name, (source, options) in LIBRARY.items():
        (library / name).parent.mkdir(parents=True, exist_ok=True)
        ffmpeg_convert(music[source], library / name, *CUT, "-map", "0:a", *options)
    ffmpeg_convert(music["a"], library / "loose" / "short.mp3", "-t", "4")
    return Catalogue(data, library, env)


def _long_tracks(count: int) -> list[Path]:
    """``count`` real tracks of a minute or more (some of the corpus are jingles)."""
    import mutagen

    found = [p for p in require_music(4 * count) if mutagen.File(p).info.length >= 60]
    if len(found) < count:
        pytest.skip("not enough long tracks in the test music")
    return found[:count]


def _copy(catalogue: Catalogue, tmp_path: Path) -> Path:
    library = tmp_path / "library"
    shutil.copytree(catalogue.library, library)
    return library


def _targets(library: Path) -> list[str]:
    loose = sorted(str(p) for p in (library / "loose").iterdir())
    return [str(library / "album"), *loose]


def _state(library: Path) -> dict[str, tuple[bytes, int]]:
    return {
        str(p): (p.read_bytes(), p.stat().st_mtime_ns) for p in library.rglob("*") if p.is_file()
    }


def _pcm(path: Path) -> str:
    ffmpeg = require_tool("ffmpeg")
    out = subprocess.run(
        [ffmpeg, "-v", "error", "-nostdin", "-i", str(path), "-map", "0:a", "-f", "s16le", "-"],
        capture_output=True,
        check=True,
    ).stdout
    return hashlib.sha256(out).hexdigest()


def _all_tags(path: Path) -> list[tuple[str, str]]:
    import mutagen

    audio = mutagen.File(path)
    tags = audio.tags if audio is not None else None
    if tags is None:
        return []
    return sorted((str(k), repr(v)) for k, v in tags.items())


def _plans(out: str) -> dict[str, dict[str, object]]:
    plans = [json.loads(line) for line in out.splitlines()]
    return {
        os.path.relpath(p["path"], p["path"].split("/library/")[0] + "/library"): p for p in plans
    }


def test_dry_run_shows_changes_and_writes_nothing(catalogue: Catalogue, tmp_path: Path) -> None:
    library = _copy(catalogue, tmp_path)
    before = _state(library)
    journal = tmp_path / "undo.jsonl"
    code, out, err = _invoke(
        "tag", *_targets(library), "--journal", str(journal), env=catalogue.env
    )
    assert code == 0, err
    assert _state(library) == before
    assert not journal.exists()
    assert "album/02.mp3\n" in out
    assert "  title  | Wrong Title" in out or "| Wrong Title " in out
    assert "dry run: nothing written" in out
    assert "7 matched, 0 unchanged, 0 low confidence, 0 ambiguous, 1 no match, 1 too short" in out


def test_write_tags_every_format_and_undo_restores(catalogue: Catalogue, tmp_path: Path) -> None:
    library = _copy(catalogue, tmp_path)
    files = sorted(p for p in library.rglob("*") if p.is_file())
    pcm = {p: _pcm(p) for p in files}
    tags_before = {p: _all_tags(p) for p in files}
    journal = tmp_path / "undo.jsonl"
    args = ("tag", *_targets(library), "--write", "--json", "--journal", str(journal))
    code, out, err = _invoke(*args, env=catalogue.env)
    assert code == 0, err
    plans = _plans(out)
    assert {name: plans[name]["status"] for name in plans} == {
        **{name: "matched" for name in LIBRARY if name != "loose/e.flac"},
        "loose/e.flac": "no_match",
        "loose/short.mp3": "too_short",
    }
    # Album mode: one release for the folder, the GB album (countries setting), though the
    # type preference (Single first) sends the same recording, loose, to a single.
    albums = {plans[f"album/{n}"]["album"] for n in ("01.flac", "02.mp3", "03.m4a")}
    assert albums == {ALBUM_IN_GB}
    assert plans["loose/a.opus"]["album"] != ALBUM_IN_GB
    for name, (source, _) in LIBRARY.items():
        path = library / name
        assert _pcm(path) == pcm[path], f"{name}: audio changed"
        if source == "e":
            assert _all_tags(path) == tags_before[path]
            continue
        mbid = str(synthetic_gid("recording", RECORDINGS[source]))
        assert read_tags(path).mbids == (mbid,), name
        assert (read_tags(path).title or "").startswith("Synthetic Recording"), name
    album_tags = [read_tags(library / "album" / n) for n in ("01.flac", "02.mp3", "03.m4a")]
    assert {t.album for t in album_tags} == {"Synthetic Release 00002"}
    assert all(t.track_no for t in album_tags)
    import mutagen

    m4a = mutagen.File(library / "album" / "03.m4a")
    assert m4a.tags["\xa9cmt"] == ["keep me"]
    assert bytes(m4a.tags["----:com.apple.iTunes:MusicBrainz Album Id"][0]).decode() == ALBUM_IN_GB
    mp3 = mutagen.File(library / "album" / "02.mp3")
    assert mp3.tags["TXXX:MusicBrainz Album Id"].text == [ALBUM_IN_GB]
    assert mp3.tags["UFID:http://musicbrainz.org"].data.decode() == str(
        synthetic_gid("recording", 3)
    )
    flac = mutagen.File(library / "album" / "01.flac")
    assert flac.tags["MUSICBRAINZ_ALBUMID"] == [ALBUM_IN_GB]
    assert flac.tags["RELEASECOUNTRY"] == ["GB"]
    # Sort names from the catalog (the synthetic mirror's equal the names).
    assert flac.tags["ARTISTSORT"] == flac.tags["ARTIST"]
    assert flac.tags["ALBUMARTISTSORT"] == flac.tags["ALBUMARTIST"]
    assert mp3.tags["TSOP"].text == mp3.tags["TPE1"].text
    assert mp3.tags["TSO2"].text == mp3.tags["TPE2"].text
    assert m4a.tags["soar"] == m4a.tags["\xa9ART"]
    assert m4a.tags["soaa"] == m4a.tags["aART"]

    # A second run finds nothing to change.
    code, out, err = _invoke("tag", str(library / "album"), env=catalogue.env)
    assert code == 0, err
    assert "0 matched, 3 unchanged" in out

    code, out, err = _invoke("tag", "--undo", "--journal", str(journal), env=catalogue.env)
    assert code == 0, err
    assert out.count("  restored") == 7
    for path in files:
        assert _all_tags(path) == tags_before[path], path
        assert _pcm(path) == pcm[path]
    code, out, _ = _invoke(
        "tag", "--undo", str(library / "album"), "--journal", str(journal), env=catalogue.env
    )
    assert code == 0
    assert out.count("nothing to undo") == 3


def test_read_only_file_fails_alone(catalogue: Catalogue, tmp_path: Path) -> None:
    library = _copy(catalogue, tmp_path)
    locked = library / "loose" / "b.wav"
    locked.chmod(0o444)
    before = locked.read_bytes()
    args = ("tag", *_targets(library), "--write", "--json", "--journal", str(tmp_path / "j"))
    code, out, _ = _invoke(*args, env=catalogue.env)
    assert code == 2
    plans = _plans(out)
    assert plans["loose/b.wav"]["status"] == "error"
    assert "read-only" in str(plans["loose/b.wav"]["reason"])
    assert locked.read_bytes() == before
    assert plans["loose/c.aiff"]["written"] is True
    assert not list(library.rglob(".*earmark-tmp"))


def test_full_disk_fails_one_file_and_the_next_is_tagged(
    catalogue: Catalogue, tmp_path: Path
) -> None:
    """A full disk, simulated with a file size limit (RLIMIT_FSIZE) on the ``earmark tag``
    process: a write past it fails with EFBIG where a full disk fails with ENOSPC. The WAV is
    larger than the limit, the files after it are smaller and are still tagged."""
    import resource

    library = _copy(catalogue, tmp_path)
    wav = library / "loose" / "b.wav"
    others = [library / "loose" / "d.ogg", library / "loose" / "a.opus"]
    data_files = [p for p in catalogue.data.rglob("*") if p.is_file()]
    biggest_other = max(p.stat().st_size for p in [*others, *data_files])
    limit = (biggest_other + wav.stat().st_size) // 2
    assert biggest_other < limit < wav.stat().st_size
    original = wav.read_bytes()

    def limited() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    targets = [str(wav), *map(str, others)]
    journal = str(tmp_path / "j")
    done = subprocess.run(
        [*earmark_command(), "tag", *targets, "--write", "--json", "--journal", journal],
        env={**clean_environment(), **catalogue.env},
        capture_output=True,
        text=True,
        preexec_fn=limited,
        check=False,
        timeout=300,
    )
    assert done.returncode == 2, done.stderr
    plans = _plans(done.stdout)
    assert plans["loose/b.wav"]["status"] == "error"
    assert "File too large" in str(plans["loose/b.wav"]["reason"])
    assert wav.read_bytes() == original
    assert plans["loose/d.ogg"]["written"] is True
    assert plans["loose/a.opus"]["written"] is True
    assert not list(library.rglob(".*earmark-tmp"))


def test_server_mode_gives_the_same_plans(catalogue: Catalogue, tmp_path: Path) -> None:
    """The dry run in process and ``--write`` against ``earmark serve`` over HTTP agree."""
    library = _copy(catalogue, tmp_path)
    targets = (str(library / "album"), str(library / "loose" / "a.opus"))
    journal = str(tmp_path / "j")
    code, local, err = _invoke("tag", *targets, "--json", env=catalogue.env)
    assert code == 0, err
    server = Serve(catalogue.data, clean_environment())
    try:
        remote_args = ("--server", server.url, "--client", server.client_key)
        args = ("tag", *targets, "--json", "--write", "--journal", journal, *remote_args)
        code, remote, err = _invoke(*args, env=catalogue.env)
    finally:
        server.stop()
    assert code == 0, err
    written = _plans(remote)
    assert all(plan.pop("written") is True for plan in written.values())
    dry = _plans(local)
    assert all(plan.pop("written") is False for plan in dry.values())
    assert written == dry
    assert read_tags(library / "album" / "02.mp3").album == "Synthetic Release 00002"


def test_without_a_mirror_writes_what_the_lookup_gives(tmp_path: Path) -> None:
    """The catalog-less fallback: recording MBID and AcoustID id; user-submitted title and
    artist once three submissions carry them; and a note that release data needs the mirror."""
    data = tmp_path / "data"
    initialise(Settings(data_dir=data))
    env = {"EARMARK_DATA_DIR": str(data)}
    music = dict(zip("ae", _long_tracks(2), strict=True))
    refs = tmp_path / "refs"
    refs.mkdir()
    mbid = str(synthetic_gid("recording", 1))
    ffmpeg_convert(music["a"], refs / "a.ogg", *CUT, "-metadata", f"MUSICBRAINZ_TRACKID={mbid}")
    user_tags = ("-metadata", "title=Their Title", "-metadata", "artist=Their Band")
    ffmpeg_convert(music["e"], refs / "e1.ogg", *CUT, *user_tags)
    for copy in ("e2.ogg", "e3.ogg"):
        shutil.copy(refs / "e1.ogg", refs / copy)
    state = str(tmp_path / "import.jsonl")
    code, out, err = _invoke("import-audio", str(refs), "--no-wait", "--state", state, env=env)
    assert code == 0, out + err
    code, _, err = _invoke("run", "importer", "--until-idle", env=env)
    assert code == 0, err
    library = tmp_path / "library"
    library.mkdir()
    ffmpeg_convert(music["a"], library / "a.mp3", *CUT)
    ffmpeg_convert(music["e"], library / "e.flac", *CUT)
    args = ("tag", str(library / "a.mp3"), str(library / "e.flac"), "--write", "--json")
    code, out, err = _invoke(*args, "--journal", str(tmp_path / "j"), env=env)
    assert code == 0, err
    plans = {Path(str(p["path"])).name: p for p in map(json.loads, out.splitlines())}
    assert {c["field"] for c in plans["a.mp3"]["changes"]} == {  # type: ignore[union-attr]
        "musicbrainz_recordingid",
        "acoustid_id",
    }
    assert any("MusicBrainz mirror" in n for n in plans["a.mp3"]["notes"])  # type: ignore[union-attr]
    assert read_tags(library / "a.mp3").mbids == (mbid,)
    tags = read_tags(library / "e.flac")
    assert (tags.title, tags.artist) == ("Their Title", "Their Band")


def test_usage_errors_are_clear(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    bad = str(tmp_path / "file" / "undo.jsonl")
    env = {"EARMARK_DATA_DIR": str(tmp_path / "data")}
    code, _, err = _invoke("tag", str(tmp_path / "x.mp3"), "--write", "--journal", bad, env=env)
    assert code == 2
    assert "cannot open the undo journal" in err
    code, _, err = _invoke("tag", "--undo", "--journal", bad, env=env)
    assert code == 2
    assert "no undo journal" in err
    code, _, err = _invoke("tag", env=env)
    assert code == 2
    assert "give files or directories" in err
