"""Writing tags in every container: Picard's keys, the audio untouched (PCM digest before and
after), undo restoring the exact previous items, hostile tags, a full disk (simulated with a
file size limit) and a writer killed before its rename."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from earmark.library.tagfile import TagFileError, read_values, restore_raw, write_values
from earmark.library.tagjournal import TagJournal
from earmark.library.tags import read_tags
from tests.support import ffmpeg_convert, require_music, require_tool

pytestmark = [pytest.mark.realaudio]

FORMATS = ("mp3", "ogg", "opus", "flac", "m4a", "wav", "aiff")
RECORDING = "0f0b5d0a-1111-4222-8333-444455556666"
VALUES = {
    "title": ("Neu",),
    "artist": ("A & B",),
    "artists": ("A", "B"),
    "artistsort": ("A, The & B",),
    "album": ("Album",),
    "albumartistsort": ("Various Artists",),
    "tracknumber": ("3",),
    "totaltracks": ("12",),
    "discnumber": ("1",),
    "totaldiscs": ("2",),
    "date": ("2004-05-01",),
    "originaldate": ("2001",),
    "isrc": ("GBAAA0000001",),
    "barcode": ("0123",),
    "releasetype": ("album", "compilation"),
    "musicbrainz_recordingid": (RECORDING,),
    "musicbrainz_artistid": (RECORDING, RECORDING.replace("0f", "1f")),
    "acoustid_id": ("abc",),
}


@pytest.fixture(scope="module")
def samples(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Three seconds of real music in every container, tagged (a title and a comment), made
    once; each test works on copies."""
    folder = tmp_path_factory.mktemp("samples")
    source = require_music(1)[0]
    tags = ("-metadata", "title=Old", "-metadata", "comment=keep me")
    made = {
        extension: ffmpeg_convert(
            source, folder / f"song.{extension}", "-t", "3", "-map", "0:a", *tags
        )
        for extension in FORMATS
    }
    for extension in ("wav", "aiff"):  # ffmpeg writes their tags in RIFF INFO / AIFF chunks
        _add_id3(made[extension])
    return made


def _add_id3(path: Path) -> None:
    import mutagen
    from mutagen.id3 import COMM, TIT2

    audio = mutagen.File(path)
    audio.add_tags()
    audio.tags.add(TIT2(encoding=3, text=["Old"]))
    audio.tags.add(COMM(encoding=3, lang="eng", desc="", text=["keep me"]))
    audio.save()


def _make(samples: dict[str, Path], tmp_path: Path, extension: str) -> Path:
    return Path(shutil.copy(samples[extension], tmp_path / f"song.{extension}"))


def _pcm(path: Path) -> str:
    ffmpeg = require_tool("ffmpeg")
    command = [
        ffmpeg,
        "-v",
        "error",
        "-nostdin",
        "-i",
        str(path),
        "-map",
        "0:a",
        "-f",
        "s16le",
        "-",
    ]
    return hashlib.sha256(
        subprocess.run(command, capture_output=True, check=True).stdout
    ).hexdigest()


def _all_tags(path: Path) -> list[tuple[str, str]]:
    import mutagen

    audio = mutagen.File(path)
    if audio is None or audio.tags is None:
        return []
    return sorted((str(k), repr(v)) for k, v in audio.tags.items())


@pytest.mark.parametrize("extension", FORMATS)
def test_write_read_back_and_undo(samples: dict[str, Path], tmp_path: Path, extension: str) -> None:
    path = _make(samples, tmp_path, extension)
    pcm, before = _pcm(path), _all_tags(path)
    kind, raw = write_values(str(path), VALUES)
    assert read_values(str(path)) == (kind, VALUES)
    assert _pcm(path) == pcm
    tags = read_tags(path)
    assert (tags.title, tags.artist, tags.album, tags.track_no, tags.disc_no, tags.year) == (
        "Neu",
        "A & B",
        "Album",
        3,
        1,
        2004,
    )
    assert tags.mbids == (RECORDING,)
    # Fields Earmark does not write stay.
    kept = [item for item in before if "keep me" in item[1]]
    assert kept
    assert all(item in _all_tags(path) for item in kept)
    json.dumps(raw)  # the snapshot goes to the journal as JSON
    restore_raw(str(path), json.loads(json.dumps(raw)))
    assert _all_tags(path) == before
    assert _pcm(path) == pcm
    assert not list(tmp_path.glob(".*earmark-tmp"))


def test_picard_keys_per_format(samples: dict[str, Path], tmp_path: Path) -> None:
    import mutagen

    mp3, flac, m4a = (_make(samples, tmp_path, e) for e in ("mp3", "flac", "m4a"))
    for path in (mp3, flac, m4a):
        write_values(str(path), VALUES)
    id3 = mutagen.File(mp3).tags
    assert str(id3["TRCK"]) == "3/12"
    assert str(id3["TPOS"]) == "1/2"
    assert id3["TXXX:MusicBrainz Album Type"].text == ["album", "compilation"]
    assert id3["UFID:http://musicbrainz.org"].data == RECORDING.encode()
    assert id3["TXXX:Acoustid Id"].text == ["abc"]
    assert id3.version[:2] == (2, 4)
    assert (id3["TSOP"].text, id3["TSO2"].text) == (["A, The & B"], ["Various Artists"])
    vorbis = mutagen.File(flac).tags
    assert vorbis["TRACKNUMBER"] == ["3"]
    assert vorbis["TRACKTOTAL"] == ["12"]
    assert vorbis["MUSICBRAINZ_TRACKID"] == [RECORDING]
    assert vorbis["ARTISTS"] == ["A", "B"]
    assert (vorbis["ARTISTSORT"], vorbis["ALBUMARTISTSORT"]) == (
        ["A, The & B"],
        ["Various Artists"],
    )
    mp4 = mutagen.File(m4a).tags
    assert mp4["trkn"] == [(3, 12)]
    assert mp4["disk"] == [(1, 2)]
    assert (mp4["soar"], mp4["soaa"]) == (["A, The & B"], ["Various Artists"])
    assert bytes(mp4["----:com.apple.iTunes:MusicBrainz Track Id"][0]) == RECORDING.encode()


def test_hostile_tags_are_read_and_replaced(samples: dict[str, Path], tmp_path: Path) -> None:
    import mutagen
    from mutagen.id3 import TRCK, TXXX

    mp3 = _make(samples, tmp_path, "mp3")
    audio = mutagen.File(mp3)
    audio.tags.add(TXXX(encoding=3, desc="huge", text=["x" * 3_000_000]))
    audio.tags.add(TRCK(encoding=3, text=["abc/-7"]))
    audio.tags.add(TXXX(encoding=3, desc="MusicBrainz Album Id", text=["\x00\x1b[31m" * 100]))
    audio.save()
    kind, current = read_values(str(mp3))
    assert "tracknumber" not in current
    assert len(current["musicbrainz_albumid"][0]) <= 2000
    before, pcm = _all_tags(mp3), _pcm(mp3)
    _, raw = write_values(str(mp3), {"tracknumber": ("4",), "musicbrainz_albumid": (RECORDING,)})
    assert read_values(str(mp3))[1]["tracknumber"] == ("4",)
    assert mutagen.File(mp3).tags["TXXX:huge"].text == ["x" * 3_000_000]
    restore_raw(str(mp3), raw)
    assert (_all_tags(mp3), _pcm(mp3)) == (before, pcm)

    flac = _make(samples, tmp_path, "flac")
    data = flac.read_bytes()
    # Invalid UTF-8 in a Vorbis comment, patched in place (same length).
    patched = data.replace(b"TITLE=Old", b"TITLE=\xff\xfed").replace(
        b"title=Old", b"title=\xff\xfed"
    )
    assert patched != data
    flac.write_bytes(patched)
    kind, current = read_values(str(flac))
    assert kind == "vorbis"
    write_values(str(flac), {"title": ("Fine",)})
    assert read_tags(flac).title == "Fine"

    garbage = tmp_path / "garbage.mp3"
    garbage.write_bytes(b"ID3\x04\x00\x00\x7f\x7f\x7f\x7f" + b"\x00" * 100)
    with pytest.raises(TagFileError):
        write_values(str(garbage), {"title": ("x",)})
    assert not list(tmp_path.glob(".*earmark-tmp"))


FULL_DISK = """
import resource, sys
from earmark.library.tagfile import TagFileError, write_values
resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[1]), int(sys.argv[1])))
for path in sys.argv[2:]:
    try:
        write_values(path, {"title": ("Written",)})
        print(path, "written")
    except TagFileError as exc:
        print(path, "error:", exc)
"""


def test_full_disk_fails_one_file_and_the_next_is_written(
    samples: dict[str, Path], tmp_path: Path
) -> None:
    """A write beyond RLIMIT_FSIZE fails with EFBIG, as a full disk fails with ENOSPC: the
    copy cannot be written. (Simulated: a real small file system needs mount rights.)"""
    big = _make(samples, tmp_path, "wav")
    small = _make(samples, tmp_path, "opus")
    limit = (big.stat().st_size + small.stat().st_size) // 2
    assert small.stat().st_size < limit < big.stat().st_size
    original = big.read_bytes()
    out = subprocess.run(
        [sys.executable, "-c", FULL_DISK, str(limit), str(big), str(small)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert f"{big} error: not written: File too large" in out
    assert f"{small} written" in out
    assert big.read_bytes() == original
    assert read_tags(small).title == "Written"
    assert not list(tmp_path.glob(".*earmark-tmp"))


KILLED = """
import os, signal, sys
from earmark.library.tagfile import open_tags, replace_atomically

def change(copy):
    opened = open_tags(copy)
    opened.kind.write(opened.audio.tags, {"title": ("Half",)})
    opened.audio.save()
    os.kill(os.getpid(), signal.SIGKILL)

replace_atomically(sys.argv[1], change)
"""


def test_a_writer_killed_before_the_rename_leaves_the_file_intact(
    samples: dict[str, Path], tmp_path: Path
) -> None:
    path = _make(samples, tmp_path, "flac")
    original = path.read_bytes()
    done = subprocess.run([sys.executable, "-c", KILLED, str(path)], check=False)
    assert done.returncode == -9
    assert path.read_bytes() == original
    assert read_tags(path).title == "Old"


def test_journal_undo_order_and_torn_lines(tmp_path: Path) -> None:
    journal_path = tmp_path / "undo.jsonl"
    with TagJournal.open(journal_path) as journal:
        journal.record_write("/f", "vorbis", {"TITLE": None})
        journal.record_write("/f", "vorbis", {"TITLE": [["TITLE", "x"]]})
    with journal_path.open("a") as torn:
        torn.write('{"op": "write", "path": "/g", "ki')
    with TagJournal.open(journal_path) as journal:
        assert journal.paths() == ["/f"]
        latest = journal.latest("/f")
        assert latest is not None
        assert latest.raw == {"TITLE": [["TITLE", "x"]]}
        journal.record_undo("/f")
        journal.record_write("/h", "id3", {})
    with TagJournal.open(journal_path) as journal:
        latest = journal.latest("/f")
        assert latest is not None
        assert latest.raw == {"TITLE": None}
        assert journal.paths() == ["/f", "/h"]
