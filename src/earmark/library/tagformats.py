"""Picard's field mapping for the three tag kinds ``earmark tag`` writes, with mutagen: ID3v2.4
(MP3, AIFF, WAV), Vorbis comments (Ogg Vorbis, Opus, FLAC) and MP4 (M4A).

Each kind reads the current values of Earmark's fields, sets new ones, and takes and restores a
snapshot of the raw tag items it touches (the undo journal keeps it as JSON). Nothing else in a
file is read or changed: comments, lyrics, cover art and ReplayGain stay as they are.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from earmark.library.tags import clean_text, parse_number

Values = dict[str, tuple[str, ...]]
Raw = dict[str, Any]
"""Raw tag item key → its JSON snapshot (None: the item was absent)."""

#: Field pairs that share one item where the format packs them (``TRCK 3/12``, ``trkn``).
PAIRS = {"tracknumber": "totaltracks", "discnumber": "totaldiscs"}

_ID3_TEXT = {
    "title": "TIT2",
    "artist": "TPE1",
    "artistsort": "TSOP",
    "album": "TALB",
    "albumartist": "TPE2",
    "albumartistsort": "TSO2",
    "date": "TDRC",
    "originaldate": "TDOR",
    "isrc": "TSRC",
    "label": "TPUB",
    "media": "TMED",
}
_ID3_PAIRS = {"tracknumber": "TRCK", "discnumber": "TPOS"}
_ID3_TXXX = {
    "artists": "ARTISTS",
    "barcode": "BARCODE",
    "catalognumber": "CATALOGNUMBER",
    "releasecountry": "MusicBrainz Album Release Country",
    "releasestatus": "MusicBrainz Album Status",
    "releasetype": "MusicBrainz Album Type",
    "musicbrainz_albumid": "MusicBrainz Album Id",
    "musicbrainz_releasegroupid": "MusicBrainz Release Group Id",
    "musicbrainz_trackid": "MusicBrainz Release Track Id",
    "musicbrainz_artistid": "MusicBrainz Artist Id",
    "musicbrainz_albumartistid": "MusicBrainz Album Artist Id",
    "acoustid_id": "Acoustid Id",
}
UFID_OWNER = "http://musicbrainz.org"

VORBIS_KEYS = {
    "title": "TITLE",
    "artist": "ARTIST",
    "artistsort": "ARTISTSORT",
    "artists": "ARTISTS",
    "album": "ALBUM",
    "albumartist": "ALBUMARTIST",
    "albumartistsort": "ALBUMARTISTSORT",
    "tracknumber": "TRACKNUMBER",
    "totaltracks": "TRACKTOTAL",
    "discnumber": "DISCNUMBER",
    "totaldiscs": "DISCTOTAL",
    "date": "DATE",
    "originaldate": "ORIGINALDATE",
    "isrc": "ISRC",
    "barcode": "BARCODE",
    "label": "LABEL",
    "catalognumber": "CATALOGNUMBER",
    "releasecountry": "RELEASECOUNTRY",
    "releasestatus": "RELEASESTATUS",
    "releasetype": "RELEASETYPE",
    "media": "MEDIA",
    "musicbrainz_recordingid": "MUSICBRAINZ_TRACKID",
    "musicbrainz_albumid": "MUSICBRAINZ_ALBUMID",
    "musicbrainz_releasegroupid": "MUSICBRAINZ_RELEASEGROUPID",
    "musicbrainz_trackid": "MUSICBRAINZ_RELEASETRACKID",
    "musicbrainz_artistid": "MUSICBRAINZ_ARTISTID",
    "musicbrainz_albumartistid": "MUSICBRAINZ_ALBUMARTISTID",
    "acoustid_id": "ACOUSTID_ID",
}
#: Totals other taggers write under another name; read when Earmark's own key is absent.
_VORBIS_ALIASES = {"totaltracks": "TOTALTRACKS", "totaldiscs": "TOTALDISCS"}

_MP4_TEXT = {"title": "\xa9nam", "artist": "\xa9ART", "album": "\xa9alb", "albumartist": "aART"}
_MP4_TEXT["date"] = "\xa9day"
_MP4_TEXT["artistsort"] = "soar"
_MP4_TEXT["albumartistsort"] = "soaa"
_MP4_PAIRS = {"tracknumber": "trkn", "discnumber": "disk"}
_FREEFORM = "----:com.apple.iTunes:"
_MP4_FREEFORM = {
    "artists": "ARTISTS",
    "originaldate": "ORIGINALDATE",
    "isrc": "ISRC",
    "barcode": "BARCODE",
    "label": "LABEL",
    "catalognumber": "CATALOGNUMBER",
    "releasecountry": "MusicBrainz Album Release Country",
    "releasestatus": "MusicBrainz Album Status",
    "releasetype": "MusicBrainz Album Type",
    "media": "MEDIA",
    "musicbrainz_recordingid": "MusicBrainz Track Id",
    "musicbrainz_albumid": "MusicBrainz Album Id",
    "musicbrainz_releasegroupid": "MusicBrainz Release Group Id",
    "musicbrainz_trackid": "MusicBrainz Release Track Id",
    "musicbrainz_artistid": "MusicBrainz Artist Id",
    "musicbrainz_albumartistid": "MusicBrainz Album Artist Id",
    "acoustid_id": "Acoustid Id",
}

#: mutagen's file class → the tag kind it carries.
KIND_OF_CLASS = {
    "MP3": "id3",
    "AIFF": "id3",
    "WAVE": "id3",
    "FLAC": "vorbis",
    "OggVorbis": "vorbis",
    "OggOpus": "vorbis",
    "MP4": "mp4",
}


class TagKind(Protocol):
    @property
    def name(self) -> str: ...

    def read(self, tags: Any) -> Values: ...

    def keys(self, fields: set[str]) -> list[str]: ...

    def snapshot(self, tags: Any, keys: list[str]) -> Raw: ...

    def restore(self, tags: Any, raw: Raw) -> None: ...

    def write(self, tags: Any, values: Mapping[str, tuple[str, ...]]) -> None: ...


def _id3_classes() -> tuple[Any, Any, Any]:
    import mutagen.id3

    module: Any = mutagen.id3
    return module.TXXX, module.UFID, module.Frames


def _freeform_class() -> Any:
    import mutagen.mp4

    module: Any = mutagen.mp4
    return module.MP4FreeForm


def _texts(values: object) -> tuple[str, ...]:
    items = values if isinstance(values, list | tuple) else [values]
    return tuple(t for v in items if (t := clean_text(v, 2000)) is not None)


def _split_pair(texts: tuple[str, ...]) -> tuple[str | None, str | None]:
    """``"3/12"`` → ("3", "12"); numbers that do not parse are kept out."""
    if not texts:
        return None, None
    head, _, tail = texts[0].partition("/")
    number, total = parse_number(head), parse_number(tail) if tail else None
    return (None if number is None else str(number)), (None if total is None else str(total))


def _join_pair(number: tuple[str, ...] | None, total: tuple[str, ...] | None) -> str | None:
    if not number:
        return None
    return number[0] + (f"/{total[0]}" if total else "")


def _pairs_in(values: Mapping[str, tuple[str, ...]], first: str) -> bool:
    return first in values or PAIRS[first] in values


def _pair_value(
    values: Mapping[str, tuple[str, ...]], current: Values, first: str
) -> tuple[tuple[str, ...] | None, tuple[str, ...] | None]:
    """The number and total to write: the new ones, else what the file has."""
    return values.get(first, current.get(first)), values.get(
        PAIRS[first], current.get(PAIRS[first])
    )


@dataclass(frozen=True)
class Id3Kind:
    name: str = "id3"

    def read(self, tags: Any) -> Values:
        out: Values = {}
        for field, frame_id in _ID3_TEXT.items():
            frame = tags.get(frame_id)
            if frame is not None and (texts := _texts([str(t) for t in frame.text])):
                out[field] = texts
        for field, desc in _ID3_TXXX.items():
            frame = tags.get(f"TXXX:{desc}")
            if frame is not None and (texts := _texts(list(frame.text))):
                out[field] = texts
        ufid = tags.get(f"UFID:{UFID_OWNER}")
        if ufid is not None and (texts := _texts(bytes(ufid.data).decode("utf-8", "replace"))):
            out["musicbrainz_recordingid"] = texts
        for first, frame_id in _ID3_PAIRS.items():
            frame = tags.get(frame_id)
            if frame is None:
                continue
            number, total = _split_pair(_texts([str(t) for t in frame.text]))
            if number:
                out[first] = (number,)
            if total:
                out[PAIRS[first]] = (total,)
        return out

    def keys(self, fields: set[str]) -> list[str]:
        keys = [_ID3_TEXT[f] for f in sorted(fields) if f in _ID3_TEXT]
        keys += [f"TXXX:{_ID3_TXXX[f]}" for f in sorted(fields) if f in _ID3_TXXX]
        if "musicbrainz_recordingid" in fields:
            keys.append(f"UFID:{UFID_OWNER}")
        keys += [key for first, key in _ID3_PAIRS.items() if {first, PAIRS[first]} & fields]
        return keys

    def snapshot(self, tags: Any, keys: list[str]) -> Raw:
        raw: Raw = {}
        for key in keys:
            frame = tags.get(key)
            if frame is None:
                raw[key] = None
            elif key.startswith("UFID:"):
                raw[key] = {"data": base64.b64encode(bytes(frame.data)).decode()}
            else:
                raw[key] = {"encoding": int(frame.encoding), "text": [str(t) for t in frame.text]}
        return raw

    def restore(self, tags: Any, raw: Raw) -> None:
        TXXX, UFID, Frames = _id3_classes()

        for key, item in raw.items():
            tags.delall(key)
            if item is None:
                continue
            kind, _, detail = key.partition(":")
            if kind == "UFID":
                tags.add(UFID(owner=detail, data=base64.b64decode(item["data"])))
            elif kind == "TXXX":
                tags.add(TXXX(encoding=item["encoding"], desc=detail, text=item["text"]))
            else:
                tags.add(Frames[kind](encoding=item["encoding"], text=item["text"]))

    def write(self, tags: Any, values: Mapping[str, tuple[str, ...]]) -> None:
        TXXX, UFID, Frames = _id3_classes()

        current = self.read(tags)
        for field, value in values.items():
            if field in _ID3_TEXT:
                frame_id = _ID3_TEXT[field]
                tags.delall(frame_id)
                tags.add(Frames[frame_id](encoding=3, text=list(value)))
            elif field in _ID3_TXXX:
                tags.delall(f"TXXX:{_ID3_TXXX[field]}")
                tags.add(TXXX(encoding=3, desc=_ID3_TXXX[field], text=list(value)))
            elif field == "musicbrainz_recordingid":
                tags.delall(f"UFID:{UFID_OWNER}")
                tags.add(UFID(owner=UFID_OWNER, data=value[0].encode()))
        for first, frame_id in _ID3_PAIRS.items():
            if _pairs_in(values, first):
                text = _join_pair(*_pair_value(values, current, first))
                tags.delall(frame_id)
                if text:
                    tags.add(Frames[frame_id](encoding=3, text=[text]))


@dataclass(frozen=True)
class VorbisKind:
    name: str = "vorbis"

    def read(self, tags: Any) -> Values:
        by_key: dict[str, list[str]] = {}
        for key, value in list(tags):
            by_key.setdefault(str(key).upper(), []).append(value)
        out: Values = {}
        for field, key in VORBIS_KEYS.items():
            found = by_key.get(key) or by_key.get(_VORBIS_ALIASES.get(field, ""), [])
            if texts := _texts(found):
                out[field] = texts
        for first in PAIRS:
            number, total = _split_pair(out.get(first, ()))
            out.pop(first, None)
            if number:
                out[first] = (number,)
            if total and PAIRS[first] not in out:
                out[PAIRS[first]] = (total,)
        return out

    def keys(self, fields: set[str]) -> list[str]:
        return [VORBIS_KEYS[f] for f in sorted(fields) if f in VORBIS_KEYS]

    def snapshot(self, tags: Any, keys: list[str]) -> Raw:
        wanted = {k.upper() for k in keys}
        raw: Raw = dict.fromkeys(keys)
        for key, value in list(tags):
            upper = str(key).upper()
            if upper in wanted:
                held = raw.get(upper) or []
                raw[upper] = [*held, [str(key), str(value)]]
        return raw

    def restore(self, tags: Any, raw: Raw) -> None:
        for key, pairs in raw.items():
            if key in tags:
                del tags[key]
            for original, value in pairs or []:
                tags.append((original, value))

    def write(self, tags: Any, values: Mapping[str, tuple[str, ...]]) -> None:
        for field, value in values.items():
            if field in VORBIS_KEYS:
                tags[VORBIS_KEYS[field]] = list(value)


@dataclass(frozen=True)
class Mp4Kind:
    name: str = "mp4"

    def read(self, tags: Any) -> Values:
        out: Values = {}
        for field, key in _MP4_TEXT.items():
            if texts := _texts(list(tags.get(key, []))):
                out[field] = texts
        for field, name in _MP4_FREEFORM.items():
            items = [bytes(v).decode("utf-8", "replace") for v in tags.get(_FREEFORM + name, [])]
            if texts := _texts(items):
                out[field] = texts
        for first, key in _MP4_PAIRS.items():
            pairs = tags.get(key) or []
            pair = pairs[0] if pairs and isinstance(pairs[0], tuple) else ()
            number = pair[0] if len(pair) > 0 and isinstance(pair[0], int) else 0
            total = pair[1] if len(pair) > 1 and isinstance(pair[1], int) else 0
            if number > 0:
                out[first] = (str(number),)
            if total > 0:
                out[PAIRS[first]] = (str(total),)
        return out

    def keys(self, fields: set[str]) -> list[str]:
        keys = [_MP4_TEXT[f] for f in sorted(fields) if f in _MP4_TEXT]
        keys += [_FREEFORM + _MP4_FREEFORM[f] for f in sorted(fields) if f in _MP4_FREEFORM]
        keys += [key for first, key in _MP4_PAIRS.items() if {first, PAIRS[first]} & fields]
        return keys

    def snapshot(self, tags: Any, keys: list[str]) -> Raw:
        raw: Raw = {}
        for key in keys:
            items = tags.get(key)
            if items is None:
                raw[key] = None
            elif key.startswith(_FREEFORM):
                raw[key] = [
                    {"data": base64.b64encode(bytes(v)).decode(), "format": int(v.dataformat)}
                    for v in items
                ]
            elif key in _MP4_PAIRS.values():
                raw[key] = [list(pair) for pair in items]
            else:
                raw[key] = [str(v) for v in items]
        return raw

    def restore(self, tags: Any, raw: Raw) -> None:
        MP4FreeForm = _freeform_class()

        for key, items in raw.items():
            if key in tags:
                del tags[key]
            if items is None:
                continue
            if key.startswith(_FREEFORM):
                tags[key] = [
                    MP4FreeForm(base64.b64decode(i["data"]), dataformat=i["format"]) for i in items
                ]
            elif key in _MP4_PAIRS.values():
                tags[key] = [tuple(pair) for pair in items]
            else:
                tags[key] = list(items)

    def write(self, tags: Any, values: Mapping[str, tuple[str, ...]]) -> None:
        MP4FreeForm = _freeform_class()

        current = self.read(tags)
        for field, value in values.items():
            if field in _MP4_TEXT:
                tags[_MP4_TEXT[field]] = list(value)
            elif field in _MP4_FREEFORM:
                tags[_FREEFORM + _MP4_FREEFORM[field]] = [MP4FreeForm(v.encode()) for v in value]
        for first, key in _MP4_PAIRS.items():
            if _pairs_in(values, first):
                number, total = _pair_value(values, current, first)
                if number:
                    tags[key] = [(int(number[0]), int(total[0]) if total else 0)]


KINDS: dict[str, TagKind] = {"id3": Id3Kind(), "vorbis": VorbisKind(), "mp4": Mp4Kind()}
