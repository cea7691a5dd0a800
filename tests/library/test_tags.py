"""Tags of real files (written by ffmpeg and by mutagen), and hostile ones."""

from __future__ import annotations

import uuid
from pathlib import Path

import mutagen
import pytest
from mutagen.flac import FLAC
from mutagen.id3 import ID3, TALB, TDRC, TIT2, TPE1, TPOS, TRCK, TXXX, UFID
from mutagen.mp4 import MP4, MP4FreeForm

from earmark.library.tags import (
    MAX_MBIDS,
    MAX_TEXT,
    Tags,
    clean_text,
    parse_mbid,
    parse_number,
    parse_year,
    read_tags,
)
from tests.support import ffmpeg_generate

MBID = "0a7e8f2c-1b3d-4e5f-8a9b-0c1d2e3f4a5b"
OTHER = "11111111-2222-3333-4444-555555555555"
FFMPEG_TAGS = (
    *("-metadata", "title=Tïtle ✓"),
    *("-metadata", "artist=The Artist"),
    *("-metadata", "album=An Album"),
    *("-metadata", "album_artist=Various"),
    *("-metadata", "track=3/12"),
    *("-metadata", "disc=2/3"),
    *("-metadata", "date=2004-05-01"),
    *("-metadata", f"MUSICBRAINZ_TRACKID={MBID}"),
)


def _tone(path: Path, *options: str) -> Path:
    return ffmpeg_generate(path, "sine=frequency=440", 3, *options)


@pytest.mark.parametrize(
    ("name", "fmt"),
    [("a.flac", "FLAC"), ("a.ogg", "Vorbis"), ("a.opus", "Opus"), ("a.mp3", "MP3")],
)
def test_tags_written_by_ffmpeg(tmp_path: Path, name: str, fmt: str) -> None:
    tags = read_tags(_tone(tmp_path / name, *FFMPEG_TAGS))
    assert (tags.title, tags.artist, tags.album, tags.album_artist) == (
        "Tïtle ✓",
        "The Artist",
        "An Album",
        "Various",
    )
    assert (tags.track_no, tags.disc_no, tags.year) == (3, 2, 2004)
    # ffmpeg writes the MBID as a Vorbis comment, or as ID3 TXXX:MUSICBRAINZ_TRACKID in MP3.
    assert tags.mbids == (MBID,)
    assert tags.fileformat == fmt
    assert tags.bitrate is not None
    assert tags.bitrate > 0
    assert tags.error is None
    assert tags.has_metadata()


def test_id3_ufid_as_picard_writes_it(tmp_path: Path) -> None:
    path = _tone(tmp_path / "p.mp3")
    id3 = ID3()
    id3.add(TIT2(encoding=3, text=["Song"]))
    id3.add(TPE1(encoding=3, text=["Band"]))
    id3.add(TRCK(encoding=3, text=["07"]))
    id3.add(TPOS(encoding=3, text=["1/2"]))
    id3.add(TDRC(encoding=3, text=["1999"]))
    id3.add(UFID(owner="http://musicbrainz.org", data=MBID.encode()))
    id3.add(UFID(owner="http://other.example", data=OTHER.encode()))
    # The release track id is not the recording id: it must not be taken.
    id3.add(TXXX(encoding=3, desc="MusicBrainz Release Track Id", text=[OTHER]))
    id3.save(path)
    tags = read_tags(path)
    assert (tags.title, tags.artist, tags.track_no, tags.disc_no, tags.year) == (
        "Song",
        "Band",
        7,
        1,
        1999,
    )
    assert tags.mbids == (MBID,)


def test_mp4_freeform_mbid(tmp_path: Path) -> None:
    path = _tone(tmp_path / "a.m4a", *FFMPEG_TAGS)
    mp4 = MP4(path)
    assert mp4.tags is not None
    mp4.tags["----:com.apple.iTunes:MusicBrainz Track Id"] = [MP4FreeForm(MBID.encode())]
    mp4.tags["trkn"] = [(5, 10)]
    mp4.tags["disk"] = [(1, 1)]
    mp4.save()
    tags = read_tags(path)
    assert (tags.title, tags.track_no, tags.disc_no, tags.year) == ("Tïtle ✓", 5, 1, 2004)
    assert tags.mbids == (MBID,)
    assert tags.fileformat == "AAC"


def test_untagged_file(tmp_path: Path) -> None:
    tags = read_tags(_tone(tmp_path / "plain.flac", "-map_metadata", "-1"))
    assert not tags.has_metadata()
    assert tags.fileformat == "FLAC"


def test_huge_and_hostile_values_are_cleaned(tmp_path: Path) -> None:
    path = _tone(tmp_path / "h.flac")
    flac = FLAC(path)
    flac["title"] = "A" * 5_000_000
    flac["artist"] = ["", "  line\none\ttab\x00nul\x1b[2J  "]
    flac["album"] = "\U0001f3b5" * (MAX_TEXT + 10)
    flac["tracknumber"] = "not a number"
    flac["discnumber"] = "99999999999999999999"
    flac["date"] = "circa 1970"
    flac["musicbrainz_trackid"] = [
        "nope",
        MBID.upper(),
        MBID,
        *[str(uuid.uuid4()) for _ in range(20)],
    ]
    flac.save()
    tags = read_tags(path)
    assert tags.title == "A" * MAX_TEXT
    assert tags.artist == "line one tab nul [2J"
    assert tags.album == "\U0001f3b5" * MAX_TEXT
    assert tags.track_no is None
    assert tags.disc_no is None
    assert tags.year is None
    assert tags.mbids[0] == MBID
    assert len(tags.mbids) == MAX_MBIDS


def test_non_utf8_id3_text(tmp_path: Path) -> None:
    path = _tone(tmp_path / "latin.mp3")
    id3 = ID3()
    id3.add(TIT2(encoding=0, text=["Caf\xe9"]))  # latin-1 frame
    id3.add(TALB(encoding=3, text=["bad YYYY"]))
    id3.save(path, v2_version=4)
    data = path.read_bytes()
    at = data.index(b"YYYY")
    path.write_bytes(data[:at] + b"\xff\xc3(\x80" + data[at + 4 :])  # not UTF-8
    tags = read_tags(path)
    assert tags.title == "Café"
    # mutagen drops the undecodable frame; the rest of the tag survives.
    assert tags.album is None or tags.album.encode("utf-8")
    assert tags.error is None


def test_invalid_utf8_vorbis_comment(tmp_path: Path) -> None:
    path = _tone(tmp_path / "v.flac", "-metadata", "title=XXXXXXXX")
    data = path.read_bytes()
    at = data.index(b"XXXXXXXX")
    path.write_bytes(data[:at] + b"\xff\xfe\xc3(\x80X\xe2\x82" + data[at + 8 :])
    tags = read_tags(path)
    # mutagen may refuse the block or replace the bytes; either way nothing raises and what
    # comes back is valid text.
    assert tags.title is None or tags.title.encode("utf-8")


@pytest.mark.parametrize(
    "content",
    [b"", b"garbage" * 10, b"ID3\x04\x00\x00\x7f\x7f\x7f\x7f" + b"\x00" * 50, b"fLaC\x00\x00"],
)
def test_malformed_files_never_raise(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.mp3"
    path.write_bytes(content)
    tags = read_tags(path)
    assert tags == Tags(error=tags.error)
    assert tags.error


def test_truncated_real_file(tmp_path: Path) -> None:
    path = _tone(tmp_path / "t.flac", *FFMPEG_TAGS)
    path.write_bytes(path.read_bytes()[:200])
    tags = read_tags(path)
    assert isinstance(tags, Tags)
    assert tags.mbids in ((), (MBID,))


def test_missing_file() -> None:
    assert read_tags("/nonexistent/file.mp3").error


def test_read_back_with_mutagen_agrees(tmp_path: Path) -> None:
    path = _tone(tmp_path / "a.ogg", *FFMPEG_TAGS)
    raw = mutagen.File(path)
    assert raw is not None
    assert raw.tags is not None
    assert raw.tags["musicbrainz_trackid"] == [MBID]
    assert read_tags(path).mbids == (MBID,)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("3/12", 3),
        ("03", 3),
        (" 7 ", 7),
        ((5, 10), 5),
        ([2], 2),
        (4, 4),
        ("0", None),
        ("-1", None),
        ("x3", None),
        ("", None),
        (True, None),
        ("10001", None),
        ((), None),
        (None, None),
        (b"9/9", 9),
    ],
)
def test_parse_number(value: object, expected: int | None) -> None:
    assert parse_number(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [("2004", 2004), ("2004-05-01", 2004), ("1999-12-31T23:59", 1999), ("99", None), ("", None)],
)
def test_parse_year(value: str, expected: int | None) -> None:
    assert parse_year(value) == expected


def test_parse_mbid() -> None:
    assert parse_mbid(MBID.upper()) == MBID
    assert parse_mbid(f" {MBID} ") == MBID
    assert parse_mbid(MBID.replace("-", "")) is None  # 32 hex digits is not the tag's form
    assert parse_mbid("{" + MBID + "}") is None
    assert parse_mbid(b"\xff" * 36) is None


def test_clean_text() -> None:
    assert clean_text("  a \n b  ") == "a b"
    assert clean_text("\x00\x01") is None
    assert clean_text(12) == "12"
    assert clean_text(b"caf\xc3\xa9") == "café"
    assert clean_text("x" * 20, 5) == "xxxxx"
