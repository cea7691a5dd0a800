"""The tag values ``earmark tag`` writes for a chosen recording and release, by Picard's field
names (docs/tagging.md has the table of where each goes in every format). Pure functions.

Values are tuples of strings: most fields hold one value, ``artists`` and the artist MBIDs one
per credited artist (as Picard writes them).
"""

from __future__ import annotations

from earmark.library.tagmatch import Candidate, ReleaseTrack, TagArtist, credit, sort_credit
from earmark.library.tagrelease import original_date

Values = dict[str, tuple[str, ...]]

#: Every field Earmark writes, in the order they are shown.
FIELDS = (
    "title",
    "artist",
    "artists",
    "artistsort",
    "album",
    "albumartist",
    "albumartistsort",
    "tracknumber",
    "totaltracks",
    "discnumber",
    "totaldiscs",
    "date",
    "originaldate",
    "isrc",
    "barcode",
    "label",
    "catalognumber",
    "releasecountry",
    "releasestatus",
    "releasetype",
    "media",
    "musicbrainz_recordingid",
    "musicbrainz_albumid",
    "musicbrainz_releasegroupid",
    "musicbrainz_trackid",
    "musicbrainz_artistid",
    "musicbrainz_albumartistid",
    "acoustid_id",
)


def _put(values: Values, field: str, *items: object) -> None:
    texts = tuple(str(i) for i in items if i is not None and str(i) != "")
    if texts:
        values[field] = texts


def _ids(artists: tuple[TagArtist, ...]) -> list[str]:
    return [a.id for a in artists if a.id is not None]


def recording_values(candidate: Candidate) -> Values:
    """What the recording alone gives (the catalog-less fallback writes only this)."""
    values: Values = {}
    _put(values, "title", candidate.title)
    _put(values, "artist", credit(candidate.artists))
    _put(values, "artistsort", sort_credit(candidate.artists))
    if len(candidate.artists) > 1:
        _put(values, "artists", *(a.name for a in candidate.artists))
    _put(values, "musicbrainz_artistid", *_ids(candidate.artists))
    _put(values, "musicbrainz_recordingid", candidate.id)
    _put(values, "acoustid_id", candidate.acoustid or None)
    if candidate.isrcs:
        _put(values, "isrc", candidate.isrcs[0])
    return values


def release_values(candidate: Candidate, track: ReleaseTrack) -> Values:
    """Everything: the recording's values with the track's and its release's."""
    values = recording_values(candidate)
    album = track.album
    artists = track.artists or candidate.artists
    _put(values, "title", track.title or candidate.title)
    _put(values, "artist", credit(artists))
    values.pop("artists", None)
    values.pop("artistsort", None)
    _put(values, "artistsort", sort_credit(artists))
    if len(artists) > 1:
        _put(values, "artists", *(a.name for a in artists))
    _put(values, "musicbrainz_artistid", *_ids(artists))
    _put(values, "album", album.title)
    _put(values, "albumartist", credit(album.artists))
    _put(values, "albumartistsort", sort_credit(album.artists))
    _put(values, "musicbrainz_albumartistid", *_ids(album.artists))
    _put(values, "tracknumber", track.number)
    _put(values, "totaltracks", track.track_total)
    _put(values, "discnumber", track.disc)
    _put(values, "totaldiscs", album.medium_count)
    _put(values, "date", album.date)
    _put(values, "originaldate", original_date(candidate, track))
    _put(values, "barcode", album.barcode)
    _put(values, "label", album.label)
    _put(values, "catalognumber", album.catalog_number)
    _put(values, "releasecountry", album.country)
    _put(values, "releasestatus", album.status.lower() if album.status else None)
    _put(values, "releasetype", *_release_types(track))
    _put(values, "media", track.format)
    _put(values, "musicbrainz_albumid", album.id)
    _put(values, "musicbrainz_releasegroupid", album.release_group_id)
    _put(values, "musicbrainz_trackid", track.id)
    return values


def _release_types(track: ReleaseTrack) -> list[str]:
    """Picard's ``releasetype``: the primary type then the secondary ones, lower case."""
    types = [track.album.type] if track.album.type else []
    return [t.lower() for t in types + list(track.album.secondary_types)]
