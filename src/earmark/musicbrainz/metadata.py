"""``lookup_metadata``: MusicBrainz data for recording MBIDs in a bounded number of queries.

As in the reference (musicbrainz.md §1.3) there is one main query, recording joined to its
tracks, mediums, formats and releases (one row per appearance of a recording on a medium; here
it also carries each release's medium count and track total and, when asked, its release group
with the group's primary and secondary types), then side queries keyed by the internal ids it
found: release events, ISRCs and the artists of every artist credit seen. Two differences, both
on purpose:

* MBIDs missing from ``recording`` are looked up in ``recording_gid_redirect`` (one more query,
  only when something is missing) and answered with the recording they were merged into.
* Recordings come back even when they have no track (a "standalone" recording), with no
  appearances; the callers decide what that means for their output format.

So a lookup costs at most 5 statements whatever the number of MBIDs (2 for ``recordings``
alone), each built once per process (:mod:`earmark.musicbrainz.statements`): a lookup runs on
the database, not on SQLAlchemy building statements. The objects returned are plain values
(MBIDs as lowercase dashed strings, durations in whole seconds).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from earmark.musicbrainz import statements
from earmark.musicbrainz.schema import fetch


@dataclass(frozen=True)
class CreditedArtist:
    """One name of an artist credit. ``id`` is None for user-submitted names (plain strings).
    ``sort_name`` is the artist's sort name; only the catalog (:mod:`earmark.musicbrainz.catalog`)
    fills it, the lookup's own metadata leaves it empty (its JSON has no sort names)."""

    id: str | None
    name: str
    joinphrase: str = ""
    sort_name: str = ""


Credit = tuple[CreditedArtist, ...]


@dataclass(frozen=True)
class ReleaseEvent:
    country: str | None  # ISO 3166-1 code; None for an unknown country
    year: int | None
    month: int | None
    day: int | None

    def sort_key(self) -> tuple[int, int, int, str]:
        """Earliest first; unknown parts after known ones; then by country code."""
        return (self.year or 10_000, self.month or 13, self.day or 32, self.country or "~")


@dataclass(frozen=True)
class ReleaseGroup:
    id: str | None  # None: built from user-submitted metadata
    title: str
    type: str | None
    secondary_types: tuple[str, ...]
    artists: Credit


@dataclass(frozen=True)
class Release:
    id: str | None
    title: str
    medium_count: int | None
    track_count: int | None
    artists: Credit
    events: tuple[ReleaseEvent, ...]  # sorted by ReleaseEvent.sort_key
    release_group: ReleaseGroup | None

    def sort_key(self) -> tuple[tuple[int, int, int, str], str]:
        first = self.events[0].sort_key() if self.events else (10_001, 13, 32, "~")
        return first, self.id or ""


@dataclass(frozen=True)
class Medium:
    position: int | None
    track_count: int | None
    format: str | None
    title: str


@dataclass(frozen=True)
class MediumTrack:
    id: str | None
    position: int | None
    title: str
    artists: Credit
    duration: int | None  # whole seconds (length // 1000); None when MusicBrainz has no length


@dataclass(frozen=True)
class Appearance:
    """A recording as a track on a medium of a release (one row of the main query)."""

    track: MediumTrack
    medium: Medium
    release: Release

    def sort_key(self) -> tuple[Any, ...]:
        return (
            self.release.sort_key(),
            self.medium.position or 0,
            self.track.position or 0,
            self.track.id or "",
        )


@dataclass(frozen=True)
class Recording:
    id: str | None
    title: str
    duration: int | None  # whole seconds, None when unknown
    artists: Credit
    isrcs: tuple[str, ...]
    appearances: tuple[Appearance, ...]  # sorted by Appearance.sort_key; empty if not loaded


@dataclass(frozen=True)
class MetadataLookup:
    """What MusicBrainz knows about the requested MBIDs.

    ``recordings`` is keyed by current MBID: a requested MBID that was merged away is in
    ``redirects`` (old → current) and its data under the current one. ``missing`` lists the
    requested MBIDs that are in neither ``recording`` nor ``recording_gid_redirect``.
    """

    recordings: dict[str, Recording]
    redirects: dict[str, str]
    missing: tuple[str, ...]

    def resolve(self, mbid: str) -> str:
        return self.redirects.get(mbid, mbid)


def normalize_mbid(mbid: str | uuid.UUID) -> str:
    """An MBID as a lowercase dashed string (raises ValueError when it is not a UUID)."""
    return str(mbid if isinstance(mbid, uuid.UUID) else uuid.UUID(mbid))


def seconds(length_ms: int | None) -> int | None:
    """MusicBrainz lengths are milliseconds; the reference truncates to whole seconds."""
    return None if length_ms is None else length_ms // 1000


def lookup_metadata(
    conn: Connection,
    mbids: Iterable[str],
    *,
    releases: bool = False,
    release_groups: bool = False,
    isrcs: bool = False,
    follow_redirects: bool = True,
) -> MetadataLookup:
    """Look the recording MBIDs up; ``releases``/``release_groups``/``isrcs`` say what to load.

    ``release_groups`` implies ``releases``. Statements: 1 main query (with the releases' sizes
    and release groups), 1 redirect query when some MBIDs are not recordings, then at most 3
    side queries (release events, ISRCs, artists), each over internal ids.
    """
    keys = {_uuid(mbid) for mbid in mbids}
    if not keys:
        return MetadataLookup({}, {}, ())
    wanted = sorted(str(key) for key in keys)
    releases = releases or release_groups
    shape = {"releases": releases, "release_groups": release_groups}
    query = statements.main_query(conn.dialect.name, **shape, redirected=False)
    rows = fetch(conn, query, {statements.MBIDS: sorted(keys)})
    found = {str(row.recording_gid) for row in rows}
    redirects: dict[str, str] = {}
    misses = [mbid for mbid in wanted if mbid not in found]
    if misses and follow_redirects:
        query = statements.main_query(conn.dialect.name, **shape, redirected=True)
        asked = [uuid.UUID(mbid) for mbid in misses]
        for row in fetch(conn, query, {statements.MBIDS: asked}):
            redirects[str(row.requested_gid)] = str(row.recording_gid)
            if str(row.recording_gid) not in found:
                rows.append(row)
        found.update(redirects.values())
    missing = tuple(mbid for mbid in misses if mbid not in redirects)
    if redirects:
        # Rows of a recording reached both directly and through a redirect appear once.
        rows = list(
            {(r.recording_gid, r.track_gid if releases else None): r for r in rows}.values()
        )
    recordings = _assemble(conn, rows, releases, release_groups, isrcs)
    return MetadataLookup(recordings, redirects, missing)


def _uuid(mbid: str | uuid.UUID) -> uuid.UUID:
    return mbid if isinstance(mbid, uuid.UUID) else uuid.UUID(mbid)


def _ids(values: Iterable[int]) -> dict[str, list[int]]:
    # Sorted: the same ids give the same statement text.
    return {statements.IDS: sorted(set(values))}


def _tuples(
    conn: Connection, statement: sa.Select[Any], parameters: dict[str, Any]
) -> Iterable[tuple[Any, ...]]:
    """The rows of a side query, unpacked by position (cheaper than by name)."""
    return cast(Iterable[tuple[Any, ...]], fetch(conn, statement, parameters))


def _assemble(
    conn: Connection,
    rows: list[Any],
    releases: bool,
    release_groups: bool,
    isrcs: bool,
) -> dict[str, Recording]:
    with_tracks = [row for row in rows if row.track_gid is not None] if releases else []
    events = _release_events(conn, {row.release_id for row in with_tracks})
    codes = _isrcs(conn, {row.recording_id for row in rows}) if isrcs else {}
    credit_ids = {row.recording_credit for row in rows}
    for row in with_tracks:
        credit_ids.add(row.track_credit)
        credit_ids.add(row.release_credit)
        if release_groups:
            credit_ids.add(row.group_credit)
    credits = _credits(conn, credit_ids)

    def credit(credit_id: int) -> Credit:
        # The reference fails on a credit without names; here it is simply no artists.
        return credits.get(credit_id, ())

    release_cache: dict[int, Release] = {}
    group_cache: dict[int, ReleaseGroup] = {}
    appearances: dict[str, list[Appearance]] = {}
    recordings: dict[str, tuple[Any, list[Appearance]]] = {}
    for row in rows:
        mbid = str(row.recording_gid)
        if mbid not in recordings:
            recordings[mbid] = (row, appearances.setdefault(mbid, []))
        if not releases or row.track_gid is None:
            continue
        release = release_cache.get(row.release_id)
        if release is None:
            group = None
            if release_groups and row.group_gid is not None:
                group = group_cache.get(row.release_group_id)
                if group is None:
                    group = group_cache[row.release_group_id] = ReleaseGroup(
                        id=str(row.group_gid),
                        title=row.group_name or "",
                        type=row.group_type,
                        secondary_types=_names(row.group_secondary_types),
                        artists=credit(row.group_credit),
                    )
            release = release_cache[row.release_id] = Release(
                id=str(row.release_gid),
                title=row.release_name or "",
                medium_count=int(row.release_medium_count or 0),
                track_count=int(row.release_track_count or 0),
                artists=credit(row.release_credit),
                events=events.get(row.release_id, ()),
                release_group=group,
            )
        appearances[mbid].append(
            Appearance(
                track=MediumTrack(
                    id=str(row.track_gid),
                    position=row.track_position,
                    title=row.track_name or "",
                    artists=credit(row.track_credit),
                    duration=seconds(row.track_length),
                ),
                medium=Medium(
                    position=row.medium_position,
                    track_count=row.medium_track_count,
                    format=row.medium_format,
                    title=row.medium_name or "",
                ),
                release=release,
            )
        )
    return {
        mbid: Recording(
            id=mbid,
            title=row.recording_name or "",
            duration=seconds(row.recording_length),
            artists=credit(row.recording_credit),
            isrcs=codes.get(row.recording_id, ()),
            appearances=tuple(sorted(found, key=Appearance.sort_key)),
        )
        for mbid, (row, found) in recordings.items()
    }


def _names(joined: str | None) -> tuple[str, ...]:
    if not joined:
        return ()
    return tuple(sorted(set(joined.split(statements.SECONDARY_TYPE_SEPARATOR))))


def _release_events(conn: Connection, release_ids: set[int]) -> dict[int, tuple[ReleaseEvent, ...]]:
    if not release_ids:
        return {}
    # An area with two ISO codes would double its events: keep the smallest code per event.
    chosen: dict[tuple[Any, ...], ReleaseEvent] = {}
    for release, country, code, year, month, day in _tuples(
        conn, statements.release_events(conn.dialect.name), _ids(release_ids)
    ):
        key = (release, country, year, month, day)
        code = code.strip() if code else None
        current = chosen.get(key)
        if current is None or (code or "~") < (current.country or "~"):
            chosen[key] = ReleaseEvent(code, year, month, day)
    by_release: dict[int, list[ReleaseEvent]] = {}
    for key, found in chosen.items():
        by_release.setdefault(key[0], []).append(found)
    return {
        release_id: tuple(sorted(found_events, key=ReleaseEvent.sort_key))
        for release_id, found_events in by_release.items()
    }


def _isrcs(conn: Connection, recording_ids: set[int]) -> dict[int, tuple[str, ...]]:
    if not recording_ids:
        return {}
    codes: dict[int, set[str]] = {}
    for recording_id, code in _tuples(
        conn, statements.isrcs(conn.dialect.name), _ids(recording_ids)
    ):
        codes.setdefault(recording_id, set()).add(code.strip())
    return {recording_id: tuple(sorted(found)) for recording_id, found in codes.items()}


def _credits(conn: Connection, credit_ids: set[int]) -> dict[int, Credit]:
    if not credit_ids:
        return {}
    found: dict[int, list[CreditedArtist]] = {}
    for credit_id, _position, name, join_phrase, gid, _sort_name in _tuples(
        conn, statements.credits(conn.dialect.name), _ids(credit_ids)
    ):
        found.setdefault(credit_id, []).append(CreditedArtist(str(gid), name, join_phrase or ""))
    return {credit_id: tuple(names) for credit_id, names in found.items()}
