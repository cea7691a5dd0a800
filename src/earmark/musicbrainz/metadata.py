"""``lookup_metadata``: MusicBrainz data for recording MBIDs in a bounded number of queries.

As in the reference (musicbrainz.md §1.3) there is one main query, recording joined to its
tracks, mediums, formats and releases (one row per appearance of a recording on a medium), and
then side queries keyed by the internal ids it found: release counts, release events, release
groups, their secondary types, ISRCs and the artists of every artist credit seen. Two
differences, both on purpose:

* MBIDs missing from ``recording`` are looked up in ``recording_gid_redirect`` (one more query,
  only when something is missing) and answered with the recording they were merged into.
* Recordings come back even when they have no track (a "standalone" recording), with no
  appearances; the callers decide what that means for their output format.

So a lookup costs at most 8 statements whatever the number of MBIDs. The objects returned are
plain values (MBIDs as lowercase dashed strings, durations in whole seconds).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from earmark.musicbrainz.schema import MbTables, execute, tables


@dataclass(frozen=True)
class CreditedArtist:
    """One name of an artist credit. ``id`` is None for user-submitted names (plain strings)."""

    id: str | None
    name: str
    joinphrase: str = ""


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
class Track:
    id: str | None
    position: int | None
    title: str
    artists: Credit
    duration: int | None  # whole seconds (length // 1000); None when MusicBrainz has no length


@dataclass(frozen=True)
class Appearance:
    """A recording as a track on a medium of a release (one row of the main query)."""

    track: Track
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

    ``release_groups`` implies ``releases``. Statements: 1 main query, 1 redirect query when
    some MBIDs are not recordings, then at most 6 side queries, each over internal ids.
    """
    wanted = sorted({normalize_mbid(mbid) for mbid in mbids})
    if not wanted:
        return MetadataLookup({}, {}, ())
    releases = releases or release_groups
    mb = tables()
    rows = list(execute(conn, _main_query(mb, wanted, releases=releases, redirected=False)))
    found = {str(row.recording_gid) for row in rows}
    redirects: dict[str, str] = {}
    misses = [mbid for mbid in wanted if mbid not in found]
    if misses and follow_redirects:
        for row in execute(conn, _main_query(mb, misses, releases=releases, redirected=True)):
            redirects[str(row.requested_gid)] = str(row.recording_gid)
            if str(row.recording_gid) not in found:
                rows.append(row)
        found.update(redirects.values())
    missing = tuple(mbid for mbid in misses if mbid not in redirects)
    # Rows of a recording reached both directly and through a redirect appear once.
    unique_rows = list(
        {(str(r.recording_gid), r.track_gid if releases else None): r for r in rows}.values()
    )
    recordings = _assemble(conn, mb, unique_rows, releases, release_groups, isrcs)
    return MetadataLookup(recordings, redirects, missing)


def _main_query(
    mb: MbTables, mbids: Sequence[str], *, releases: bool, redirected: bool
) -> sa.Select[Any]:
    recording = mb.recording
    columns: list[Any] = [
        recording.c.id.label("recording_id"),
        recording.c.gid.label("recording_gid"),
        recording.c.name.label("recording_name"),
        recording.c.artist_credit.label("recording_credit"),
        recording.c.length.label("recording_length"),
    ]
    source: sa.FromClause = recording
    keys = [uuid.UUID(mbid) for mbid in mbids]
    if redirected:
        redirect = mb.recording_gid_redirect
        columns.append(redirect.c.gid.label("requested_gid"))
        source = redirect.join(recording, recording.c.id == redirect.c.new_id)
        condition = redirect.c.gid.in_(keys)
    else:
        condition = recording.c.gid.in_(keys)
    order: list[Any] = [recording.c.gid]
    if releases:
        track, medium, release, medium_format = mb.track, mb.medium, mb.release, mb.medium_format
        # Outer joins keep recordings without tracks; every track has a medium and a release.
        source = (
            source.outerjoin(track, track.c.recording == recording.c.id)
            .outerjoin(medium, medium.c.id == track.c.medium)
            .outerjoin(release, release.c.id == medium.c.release)
            .outerjoin(medium_format, medium_format.c.id == medium.c.format)
        )
        columns += [
            track.c.gid.label("track_gid"),
            track.c.position.label("track_position"),
            track.c.name.label("track_name"),
            track.c.artist_credit.label("track_credit"),
            track.c.length.label("track_length"),
            medium.c.position.label("medium_position"),
            medium.c.track_count.label("medium_track_count"),
            medium.c.name.label("medium_name"),
            medium_format.c.name.label("medium_format"),
            release.c.id.label("release_id"),
            release.c.gid.label("release_gid"),
            release.c.name.label("release_name"),
            release.c.artist_credit.label("release_credit"),
            release.c.release_group.label("release_group_id"),
        ]
        order += [release.c.gid, medium.c.position, track.c.position, track.c.gid]
    return sa.select(*columns).select_from(source).where(condition).order_by(*order)


def _ids(name: str, values: Iterable[int]) -> sa.BindParameter[Any]:
    # Internal ids are integers: rendered inline, so no driver limit on parameters applies.
    return sa.bindparam(name, sorted(set(values)), expanding=True, literal_execute=True)


def _assemble(
    conn: Connection,
    mb: MbTables,
    rows: list[Any],
    releases: bool,
    release_groups: bool,
    isrcs: bool,
) -> dict[str, Recording]:
    with_tracks = [row for row in rows if releases and row.track_gid is not None]
    release_ids = {row.release_id for row in with_tracks}
    counts = _release_counts(conn, mb, release_ids)
    events = _release_events(conn, mb, release_ids)
    group_ids = {row.release_group_id for row in with_tracks} if release_groups else set()
    groups = _release_groups(conn, mb, group_ids)
    codes = _isrcs(conn, mb, {row.recording_id for row in rows}) if isrcs else {}
    credit_ids = {row.recording_credit for row in rows}
    for row in with_tracks:
        credit_ids.update((row.track_credit, row.release_credit))
    credit_ids.update(group["artist_credit"] for group in groups.values())
    credits = _credits(conn, mb, credit_ids)

    def credit(credit_id: int) -> Credit:
        # The reference fails on a credit without names; here it is simply no artists.
        return credits.get(credit_id, ())

    release_groups_by_id = {
        group_id: ReleaseGroup(
            id=str(group["gid"]),
            title=group["name"] or "",
            type=group["type"],
            secondary_types=group["secondary_types"],
            artists=credit(group["artist_credit"]),
        )
        for group_id, group in groups.items()
    }
    release_cache: dict[int, Release] = {}
    appearances: dict[str, list[Appearance]] = {}
    recordings: dict[str, tuple[Any, list[Appearance]]] = {}
    for row in rows:
        mbid = str(row.recording_gid)
        recordings.setdefault(mbid, (row, appearances.setdefault(mbid, [])))
        if not releases or row.track_gid is None:
            continue
        release = release_cache.get(row.release_id)
        if release is None:
            medium_count, track_count = counts.get(row.release_id, (None, None))
            release = Release(
                id=str(row.release_gid),
                title=row.release_name or "",
                medium_count=medium_count,
                track_count=track_count,
                artists=credit(row.release_credit),
                events=events.get(row.release_id, ()),
                release_group=release_groups_by_id.get(row.release_group_id),
            )
            release_cache[row.release_id] = release
        appearances[mbid].append(
            Appearance(
                track=Track(
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


def _release_counts(
    conn: Connection, mb: MbTables, release_ids: set[int]
) -> dict[int, tuple[int, int]]:
    if not release_ids:
        return {}
    medium = mb.medium
    query = (
        sa.select(
            medium.c.release,
            sa.func.count(medium.c.id).label("mediums"),
            sa.func.sum(medium.c.track_count).label("tracks"),
        )
        .where(medium.c.release.in_(_ids("release_ids", release_ids)))
        .group_by(medium.c.release)
    )
    return {
        row.release: (int(row.mediums or 0), int(row.tracks or 0)) for row in execute(conn, query)
    }


def _release_events(
    conn: Connection, mb: MbTables, release_ids: set[int]
) -> dict[int, tuple[ReleaseEvent, ...]]:
    if not release_ids:
        return {}
    event, iso = mb.release_event, mb.iso_3166_1
    query = (
        sa.select(
            event.c.release,
            event.c.country,
            iso.c.code,
            event.c.date_year,
            event.c.date_month,
            event.c.date_day,
        )
        .select_from(event.outerjoin(iso, iso.c.area == event.c.country))
        .where(event.c.release.in_(_ids("release_ids", release_ids)))
    )
    # An area with two ISO codes would double its events: keep the smallest code per event.
    chosen: dict[tuple[Any, ...], ReleaseEvent] = {}
    for row in execute(conn, query):
        key = (row.release, row.country, row.date_year, row.date_month, row.date_day)
        code = row.code.strip() if row.code else None
        current = chosen.get(key)
        if current is None or (code or "~") < (current.country or "~"):
            chosen[key] = ReleaseEvent(code, row.date_year, row.date_month, row.date_day)
    by_release: dict[int, list[ReleaseEvent]] = {}
    for key, found in chosen.items():
        by_release.setdefault(key[0], []).append(found)
    return {
        release_id: tuple(sorted(found_events, key=ReleaseEvent.sort_key))
        for release_id, found_events in by_release.items()
    }


def _release_groups(
    conn: Connection, mb: MbTables, group_ids: set[int]
) -> dict[int, dict[str, Any]]:
    if not group_ids:
        return {}
    group, primary = mb.release_group, mb.release_group_primary_type
    query = (
        sa.select(
            group.c.id,
            group.c.gid,
            group.c.name,
            group.c.artist_credit,
            primary.c.name.label("type"),
        )
        .select_from(group.outerjoin(primary, primary.c.id == group.c.type))
        .where(group.c.id.in_(_ids("group_ids", group_ids)))
    )
    found = {row.id: dict(row._mapping) for row in execute(conn, query)}
    join, secondary = mb.release_group_secondary_type_join, mb.release_group_secondary_type
    query = (
        sa.select(join.c.release_group, secondary.c.name)
        .select_from(join.join(secondary, secondary.c.id == join.c.secondary_type))
        .where(join.c.release_group.in_(_ids("group_ids", group_ids)))
    )
    names: dict[int, set[str]] = {}
    for row in execute(conn, query):
        names.setdefault(row.release_group, set()).add(row.name)
    for group_id, values in found.items():
        values["secondary_types"] = tuple(sorted(names.get(group_id, ())))
    return found


def _isrcs(conn: Connection, mb: MbTables, recording_ids: set[int]) -> dict[int, tuple[str, ...]]:
    if not recording_ids:
        return {}
    isrc = mb.isrc
    query = sa.select(isrc.c.recording, isrc.c.isrc).where(
        isrc.c.recording.in_(_ids("recording_ids", recording_ids))
    )
    codes: dict[int, set[str]] = {}
    for row in execute(conn, query):
        codes.setdefault(row.recording, set()).add(row.isrc.strip())
    return {recording_id: tuple(sorted(found)) for recording_id, found in codes.items()}


def _credits(conn: Connection, mb: MbTables, credit_ids: set[int]) -> dict[int, Credit]:
    if not credit_ids:
        return {}
    name, artist = mb.artist_credit_name, mb.artist
    query = (
        sa.select(
            name.c.artist_credit, name.c.position, name.c.name, name.c.join_phrase, artist.c.gid
        )
        .select_from(name.join(artist, artist.c.id == name.c.artist))
        .where(name.c.artist_credit.in_(_ids("credit_ids", credit_ids)))
        .order_by(name.c.artist_credit, name.c.position)
    )
    found: dict[int, list[CreditedArtist]] = {}
    for row in execute(conn, query):
        found.setdefault(row.artist_credit, []).append(
            CreditedArtist(str(row.gid), row.name, row.join_phrase or "")
        )
    return {credit_id: tuple(names) for credit_id, names in found.items()}
