"""The catalog's JSON shapes (docs/catalog.md), from :mod:`earmark.musicbrainz.catalog` values.

Ids are MBIDs: a track is a MusicBrainz track (a recording's appearance on a medium of a
release), an album a release, an artist an artist. Keys are always present (``null`` when
MusicBrainz has no value); lists are in a documented, deterministic order.
"""

from __future__ import annotations

from typing import Any

from earmark.musicbrainz.catalog import (
    CatalogArtist,
    CatalogData,
    CatalogLabel,
    CatalogRecording,
    CatalogRelease,
    CatalogReleaseGroup,
    CatalogTrack,
)
from earmark.musicbrainz.metadata import Credit, ReleaseEvent

Json = dict[str, Any]


def partial_date(year: int | None, month: int | None, day: int | None) -> str | None:
    """``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD`` (None without a year)."""
    if not year:
        return None
    text = f"{year:04d}"
    if month:
        text += f"-{month:02d}"
        if day:
            text += f"-{day:02d}"
    return text


def artists(credit: Credit) -> list[Json]:
    return [
        {"id": a.id, "name": a.name, "join_phrase": a.joinphrase, "sort_name": a.sort_name}
        for a in credit
    ]


def _event(event: ReleaseEvent) -> Json:
    return {"date": partial_date(event.year, event.month, event.day), "country": event.country}


def _label(label: CatalogLabel) -> Json:
    return {"id": label.id, "name": label.name, "catalog_number": label.catalog_number}


def album(release: CatalogRelease) -> Json:
    first = release.events[0] if release.events else None
    label = release.labels[0] if release.labels else None
    return {
        "id": release.id,
        "title": release.title,
        "disambiguation": release.disambiguation,
        "status": release.status,
        "type": release.group.type,
        "secondary_types": list(release.group.secondary_types),
        "release_group_id": release.group.id,
        "date": None if first is None else _event(first)["date"],
        "country": None if first is None else first.country,
        "release_events": [_event(e) for e in release.events],
        "label": None if label is None else label.name,
        "catalog_number": None if label is None else label.catalog_number,
        "labels": [_label(found) for found in release.labels],
        "barcode": release.barcode,
        "medium_count": release.medium_count,
        "track_count": release.track_count,
        "artists": artists(release.artists),
    }


def album_of(data: CatalogData, release_id: str) -> Json:
    """:func:`album` of the release ``release_id`` of ``data``, shaped once per ``data`` (the
    same object each time: answers are serialised, never changed)."""
    key = ("album", release_id)
    found: Json | None = data.rendered.get(key)
    if found is None:
        found = data.rendered[key] = album(data.releases[release_id])
    return found


def track(data: CatalogData, found: CatalogTrack, *, with_album: bool = True) -> Json:
    recording = data.recordings.get(found.recording)
    shaped: Json = {
        "id": found.id,
        "title": found.title,
        "number": found.number,
        "position": found.position,
        "disc_number": found.disc,
        "disc_title": found.disc_title,
        "format": found.format,
        "duration_ms": found.length_ms,
        "recording_id": found.recording,
        "isrcs": list(recording.isrcs) if recording is not None else [],
        "artists": artists(found.artists),
        "album_id": found.release,
    }
    if with_album:
        shaped["album"] = album_of(data, found.release)
    return shaped


def recording(data: CatalogData, found: CatalogRecording) -> Json:
    release_ids: dict[str, None] = {}
    for track_id in found.tracks:
        release_ids[data.tracks[track_id].release] = None
    return {
        "id": found.id,
        "title": found.title,
        "disambiguation": found.disambiguation,
        "duration_ms": found.length_ms,
        "artists": artists(found.artists),
        "isrcs": list(found.isrcs),
        "albums": [album_of(data, r) for r in release_ids],
        "tracks": [track(data, data.tracks[t], with_album=False) for t in found.tracks],
    }


def release_group(data: CatalogData, found: CatalogReleaseGroup) -> Json:
    albums = [album_of(data, r) for r in found.releases]
    dates = [a["date"] for a in albums if a["date"]]
    return {
        "id": found.id,
        "title": found.title,
        "disambiguation": found.disambiguation,
        "type": found.type,
        "secondary_types": list(found.secondary_types),
        "first_release_date": min(dates) if dates else None,
        "artists": artists(found.artists),
        "albums": albums,
    }


def artist(found: CatalogArtist) -> Json:
    return {
        "id": found.id,
        "name": found.name,
        "sort_name": found.sort_name,
        "disambiguation": found.disambiguation,
        "type": found.type,
        "gender": found.gender,
        "country": found.country,
        "area": found.area,
        "life_span": {
            "begin": partial_date(*found.begin),
            "end": partial_date(*found.end),
            "ended": found.ended,
        },
    }


def tracks(data: CatalogData, ids: tuple[str, ...], *, with_album: bool = True) -> list[Json]:
    return [track(data, data.tracks[t], with_album=with_album) for t in ids]
