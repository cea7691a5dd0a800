"""Read the tags of an audio file (mutagen) into the fields ``/v2/submit`` takes.

Tags are untrusted input: a file may be truncated or crafted, a frame may hold megabytes, a
number field may hold text, a Vorbis comment may not be UTF-8. Nothing here raises on a bad
file: unreadable tags give empty :class:`Tags` (the file can still be fingerprinted), each
text is cleaned (control characters and runs of whitespace become one space, invalid UTF-8 is
replaced) and cut to :data:`MAX_TEXT` characters, numbers that do not parse are dropped.

Where each field is read from (Picard's mapping, so libraries tagged by Picard or beets work):

======================  ===============================  ====================  ==================
field                   ID3 (MP3, AIFF, WAV)             Vorbis / FLAC / APE   MP4
======================  ===============================  ====================  ==================
title                   TIT2                             TITLE                 ©nam
artist                  TPE1                             ARTIST                ©ART
album                   TALB                             ALBUM                 ©alb
album artist            TPE2                             ALBUMARTIST           aART
track / disc number     TRCK / TPOS ("3/12" → 3)         TRACKNUMBER / DISC…   trkn / disk
year                    TDRC, TDRL, TDOR, TYER           DATE, YEAR, ORIG…     ©day
recording MBID          UFID:http://musicbrainz.org,     MUSICBRAINZ_TRACKID   ----:com.apple.
                        TXXX:MusicBrainz Track Id                              iTunes:MusicBrainz
                                                                               Track Id
======================  ===============================  ====================  ==================
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

#: Longest text sent for one field; longer values are cut (a tag is not a place for an essay,
#: and the server's 1 MiB body limit is shared by a whole batch).
MAX_TEXT = 500
#: At most this many recording MBIDs per file (each becomes a submission row on the server).
MAX_MBIDS = 10
#: Track and disc numbers above this are dropped (the server drops them too, reference §4.2).
MAX_NUMBER = 10000
#: File format names are short codec names.
MAX_FORMAT = 32

_CONTROL = re.compile(r"[\x00-\x1f\x7f\s]+")
_LEADING_INT = re.compile(r"\s*0*(\d{1,9})")
_YEAR = re.compile(r"\s*(\d{4})")

# Lower-case tag keys per field for the key/value tag kinds (Vorbis comments, APEv2, ASF).
_VORBIS_KEYS: dict[str, tuple[str, ...]] = {
    "title": ("title",),
    "artist": ("artist",),
    "album": ("album",),
    "album_artist": ("albumartist", "album artist", "album_artist", "wm/albumartist"),
    "track_no": ("tracknumber", "track", "wm/tracknumber"),
    "disc_no": ("discnumber", "disc", "wm/partofset"),
    "year": ("date", "year", "originaldate", "originalyear", "wm/year"),
    "mbid": ("musicbrainz_trackid", "musicbrainz track id", "musicbrainz/track id"),
}
_ID3_TEXT = {
    "title": ("TIT2",),
    "artist": ("TPE1",),
    "album": ("TALB",),
    "album_artist": ("TPE2",),
    "track_no": ("TRCK",),
    "disc_no": ("TPOS",),
    "year": ("TDRC", "TDRL", "TDOR", "TYER", "TORY"),
}
_ID3_MBID_DESCRIPTIONS = frozenset({"musicbrainz track id", "musicbrainz_trackid"})
_MP4_KEYS = {
    "title": ("\xa9nam",),
    "artist": ("\xa9ART",),
    "album": ("\xa9alb",),
    "album_artist": ("aART",),
    "track_no": ("trkn",),
    "disc_no": ("disk",),
    "year": ("\xa9day",),
    "mbid": ("----:com.apple.iTunes:MusicBrainz Track Id",),
}
# mutagen's class name → the file format sent as ``fileformat``.
_FORMATS = {
    "MP3": "MP3",
    "EasyMP3": "MP3",
    "FLAC": "FLAC",
    "OggVorbis": "Vorbis",
    "OggOpus": "Opus",
    "OggFLAC": "FLAC",
    "OggSpeex": "Speex",
    "OggTheora": "Theora",
    "AIFF": "AIFF",
    "WAVE": "WAV",
    "WavPack": "WavPack",
    "MonkeysAudio": "APE",
    "Musepack": "Musepack",
    "TrueAudio": "TTA",
    "ASF": "WMA",
    "AAC": "AAC",
    "AC3": "AC3",
    "DSF": "DSF",
    "OptimFROG": "OptimFROG",
    "TAK": "TAK",
}


@dataclass(frozen=True)
class Tags:
    """What a file's tags say, cleaned; every field may be missing."""

    title: str | None = None
    artist: str | None = None
    album: str | None = None
    album_artist: str | None = None
    track_no: int | None = None
    disc_no: int | None = None
    year: int | None = None
    mbids: tuple[str, ...] = ()
    bitrate: int | None = None
    """Kilobits per second, as AcoustID's clients send it."""
    fileformat: str | None = None
    error: str | None = None
    """Why the tags could not be read (the file may still decode)."""

    def has_metadata(self) -> bool:
        """True when the server would store a submission for this file (reference §4.2: a row
        without MBID and without any of these fields is dropped silently)."""
        return bool(
            self.mbids
            or self.title
            or self.artist
            or self.album
            or self.album_artist
            or self.track_no
            or self.disc_no
            or self.year
        )


def clean_text(value: object, limit: int = MAX_TEXT) -> str | None:
    """A tag value as one clean line of at most ``limit`` characters, or None when empty."""
    if isinstance(value, bytes):
        text = value.decode("utf-8", "replace")
    elif isinstance(value, str):
        text = value
    elif value is None:
        return None
    else:
        text = str(value)
    # Lone surrogates (from a mis-decoded tag) cannot be sent as UTF-8.
    text = text[: limit * 4].encode("utf-8", "replace").decode("utf-8")
    text = _CONTROL.sub(" ", text).strip()
    if len(text) > limit:
        text = text[:limit].rstrip()
    return text or None


def parse_number(value: object) -> int | None:
    """A track or disc number: ``3``, ``"03"``, ``"3/12"``, ``(3, 12)`` → 3; else None."""
    if isinstance(value, tuple | list):
        value = value[0] if value else None
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    else:
        text = clean_text(value, 64)
        match = _LEADING_INT.match(text or "")
        if match is None:
            return None
        number = int(match.group(1))
    return number if 0 < number <= MAX_NUMBER else None


def parse_year(value: object) -> int | None:
    """The year of a date field (``2004``, ``2004-05-01``, ``2004-05-01T10:00``), else None."""
    match = _YEAR.match(clean_text(value, 64) or "")
    if match is None:
        return None
    year = int(match.group(1))
    return year if year > 0 else None


def parse_mbid(value: object) -> str | None:
    """A recording MBID in canonical form, or None when the value is not a UUID."""
    text = clean_text(value, 64)
    if text is None or len(text) != 36:
        return None
    try:
        return str(uuid.UUID(text))
    except ValueError:
        return None


def read_tags(path: str | os.PathLike[str]) -> Tags:
    """The tags of one file; never raises (see the module doc)."""
    import mutagen

    try:
        audio = mutagen.File(os.fspath(path))
    except Exception as exc:  # mutagen raises many types on hostile files
        return Tags(error=f"unreadable tags: {clean_text(exc, 200) or type(exc).__name__}")
    if audio is None:
        return Tags(error="no tags (format not recognised by mutagen)")
    try:
        fields = _fields(audio)
    except Exception as exc:
        return Tags(error=f"unreadable tags: {clean_text(exc, 200) or type(exc).__name__}")
    return Tags(
        title=clean_text(_first(fields.get("title"))),
        artist=clean_text(_first(fields.get("artist"))),
        album=clean_text(_first(fields.get("album"))),
        album_artist=clean_text(_first(fields.get("album_artist"))),
        track_no=_first_parsed(fields.get("track_no"), parse_number),
        disc_no=_first_parsed(fields.get("disc_no"), parse_number),
        year=_first_parsed(fields.get("year"), parse_year),
        mbids=_mbids(fields.get("mbid", [])),
        bitrate=_bitrate(audio),
        fileformat=_fileformat(audio),
    )


def _first(values: list[Any] | None) -> Any:
    for value in values or []:
        if clean_text(value) is not None:
            return value
    return None


def _first_parsed(values: list[Any] | None, parse: Any) -> int | None:
    for value in values or []:
        parsed: int | None = parse(value)
        if parsed is not None:
            return parsed
    return None


def _mbids(values: Iterable[Any]) -> tuple[str, ...]:
    found: list[str] = []
    for value in values:
        # A multi-valued text frame may hold several ids separated by "/" or ";".
        for part in re.split(r"[;/\x00,]", clean_text(value, 64 * MAX_MBIDS) or ""):
            mbid = parse_mbid(part)
            if mbid is not None and mbid not in found:
                found.append(mbid)
    return tuple(found[:MAX_MBIDS])


def _fields(audio: Any) -> dict[str, list[Any]]:
    """Raw values per field, from whichever tag kind the file has."""
    tags = audio.tags
    if tags is None:
        return {}
    kind = type(tags).__name__
    if kind == "ID3" or hasattr(tags, "getall"):
        return _id3_fields(tags)
    if kind in ("MP4Tags", "MP4"):
        return {field: _mp4_values(tags, keys) for field, keys in _MP4_KEYS.items()}
    if isinstance(tags, Mapping) or hasattr(tags, "keys"):
        return _keyvalue_fields(tags)
    return {}


def _id3_fields(tags: Any) -> dict[str, list[Any]]:
    fields: dict[str, list[Any]] = {}
    for field, frame_ids in _ID3_TEXT.items():
        values: list[Any] = []
        for frame_id in frame_ids:
            for frame in tags.getall(frame_id):
                values.extend(getattr(frame, "text", []))
        fields[field] = values
    mbids: list[Any] = []
    for frame in tags.getall("UFID"):
        if getattr(frame, "owner", "") == "http://musicbrainz.org":
            mbids.append(getattr(frame, "data", b""))
    for frame in tags.getall("TXXX"):
        if str(getattr(frame, "desc", "")).lower() in _ID3_MBID_DESCRIPTIONS:
            mbids.extend(getattr(frame, "text", []))
    fields["mbid"] = mbids
    return fields


def _keyvalue_fields(tags: Any) -> dict[str, list[Any]]:
    by_key: dict[str, list[Any]] = {}
    for key in list(tags.keys()):
        if not isinstance(key, str):
            continue
        try:
            value = tags[key]
        except Exception:
            continue
        values = value if isinstance(value, list) else [value]
        by_key.setdefault(key.lower(), []).extend(_plain(v) for v in values)
    return {
        field: [v for k in keys for v in by_key.get(k, [])] for field, keys in _VORBIS_KEYS.items()
    }


def _plain(value: Any) -> Any:
    """APEv2 and ASF values are objects; their text (or bytes) is what matters."""
    inner = getattr(value, "value", None)
    return value if inner is None else inner


def _mp4_values(tags: Any, keys: tuple[str, ...]) -> list[Any]:
    values: list[Any] = []
    for key in keys:
        found = tags.get(key)
        if found is None:
            continue
        values.extend(found if isinstance(found, list) else [found])
    return [bytes(v) if isinstance(v, bytes | bytearray) else v for v in values]


def _bitrate(audio: Any) -> int | None:
    bitrate = getattr(getattr(audio, "info", None), "bitrate", None)
    if not isinstance(bitrate, int | float) or isinstance(bitrate, bool) or bitrate <= 0:
        return None
    kbps = round(bitrate / 1000)
    return kbps if 0 < kbps < 100_000 else None


def _fileformat(audio: Any) -> str | None:
    name = type(audio).__name__
    if name == "MP4":
        codec = str(getattr(audio.info, "codec", "") or "")
        if codec.startswith("mp4a"):
            return "AAC"
        return clean_text(codec.upper(), MAX_FORMAT) or "MP4"
    return _FORMATS.get(name) or clean_text(name, MAX_FORMAT)
