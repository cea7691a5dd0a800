"""The catalog API's reads of the mirror: tracks, recordings, releases, release groups, artists
by MBID (merged MBIDs followed), ISRC and barcode, in a fixed number of statements.

:func:`load` answers a :class:`CatalogQuery` in at most 16 statements whatever the number of
ids (:mod:`earmark.musicbrainz.catalog_queries`): one per kind of id asked (MBIDs with their
redirects, ISRCs, barcodes), then tracks, recordings, their ISRCs, releases, release events,
labels, release groups, artists and the names of every artist credit seen. ``fixed=True`` runs
every statement of the kinds a batch may hold even when the list is empty, so that the count
does not depend on what the batch holds either (``/batch/lookup``, a test counts them).

Values come back as plain dataclasses keyed by current MBID (lowercase dashed strings); the HTTP
layer (:mod:`earmark.catalog`) renders them.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from earmark.musicbrainz import catalog_queries as q
from earmark.musicbrainz import statements
from earmark.musicbrainz.metadata import Credit, CreditedArtist, ReleaseEvent
from earmark.musicbrainz.schema import execute, fetch

#: The kinds of MBIDs a batch may hold (their statements always run with ``fixed``).
BATCH_KINDS = ("track", "recording", "release", "artist")


@dataclass(frozen=True)
class CatalogQuery:
    """What to load. MBIDs must be valid UUIDs (any case); ISRCs and barcodes normalised."""

    tracks: Sequence[str] = ()
    recordings: Sequence[str] = ()
    releases: Sequence[str] = ()
    release_groups: Sequence[str] = ()
    artists: Sequence[str] = ()
    isrcs: Sequence[str] = ()
    barcodes: Sequence[str] = ()
    #: Also load every track of the releases asked (``/lookup/album/{id}/tracks``).
    release_tracks: bool = False


@dataclass(frozen=True)
class CatalogLabel:
    id: str | None
    name: str | None
    catalog_number: str | None


@dataclass(frozen=True)
class CatalogReleaseGroup:
    id: str
    title: str
    type: str | None
    secondary_types: tuple[str, ...]
    artists: Credit
    disambiguation: str = ""
    releases: tuple[str, ...] = ()  # release MBIDs, earliest first


@dataclass(frozen=True)
class CatalogRelease:
    id: str
    title: str
    status: str | None
    barcode: str | None
    disambiguation: str
    artists: Credit
    group: CatalogReleaseGroup
    medium_count: int
    track_count: int
    events: tuple[ReleaseEvent, ...]  # earliest first
    labels: tuple[CatalogLabel, ...]

    def sort_key(self) -> tuple[Any, ...]:
        first = self.events[0].sort_key() if self.events else (10_001, 13, 32, "~")
        return first, self.id


@dataclass(frozen=True)
class CatalogTrack:
    id: str
    title: str
    position: int
    number: str
    length_ms: int | None
    artists: Credit
    recording: str
    release: str
    disc: int
    disc_title: str
    format: str | None

    def sort_key(self, releases: dict[str, CatalogRelease]) -> tuple[Any, ...]:
        release = releases[self.release]
        return release.sort_key(), self.disc, self.position, self.id


@dataclass(frozen=True)
class CatalogRecording:
    id: str
    title: str
    length_ms: int | None
    artists: Credit
    disambiguation: str
    isrcs: tuple[str, ...]
    tracks: tuple[str, ...]  # track MBIDs, earliest release first


@dataclass(frozen=True)
class CatalogArtist:
    id: str
    name: str
    sort_name: str
    disambiguation: str
    type: str | None
    gender: str | None
    area: str | None
    country: str | None
    begin: tuple[int | None, int | None, int | None]
    end: tuple[int | None, int | None, int | None]
    ended: bool


@dataclass
class CatalogData:
    """What :func:`load` found. ``resolved[kind]`` maps each MBID asked (lowercase) to the
    current MBID (itself unless merged); MBIDs absent there were not found."""

    resolved: dict[str, dict[str, str]] = field(default_factory=dict)
    isrc_tracks: dict[str, tuple[str, ...]] = field(default_factory=dict)
    barcode_releases: dict[str, tuple[str, ...]] = field(default_factory=dict)
    release_tracks: dict[str, tuple[str, ...]] = field(default_factory=dict)
    tracks: dict[str, CatalogTrack] = field(default_factory=dict)
    recordings: dict[str, CatalogRecording] = field(default_factory=dict)
    releases: dict[str, CatalogRelease] = field(default_factory=dict)
    release_groups: dict[str, CatalogReleaseGroup] = field(default_factory=dict)
    artists: dict[str, CatalogArtist] = field(default_factory=dict)
    #: Answers already rendered from these values, by kind and MBID: a release on many tracks
    #: of one answer is shaped once (:func:`earmark.musicbrainz.catalog_render.album_of`).
    rendered: dict[tuple[str, str], Any] = field(default_factory=dict)


#: Runs one statement with its parameters and returns its rows (by position and by label).
Run = Callable[[Any, dict[str, Any]], Iterable[Any]]


def load(conn: Connection, query: CatalogQuery, *, fixed: bool = False) -> CatalogData:
    """Everything ``query`` asks for (see the module docstring)."""
    return load_with(
        lambda statement, params: fetch(conn, statement, params, sqlite=True),
        conn.dialect.name,
        query,
        fixed=fixed,
    )


def load_with(run: Run, dialect: str, query: CatalogQuery, *, fixed: bool = False) -> CatalogData:
    """:func:`load` with the statements built for ``dialect`` and run by ``run`` (the DuckDB
    reader of the Parquet export, :mod:`earmark.musicbrainz.columnar_read`, runs them there)."""
    return _Loader(run, dialect, fixed).run(query)


class _Loader:
    def __init__(self, run: Run, dialect: str, fixed: bool) -> None:
        self.run_statement = run
        self.dialect = dialect
        self.fixed = fixed
        self.data = CatalogData()

    def rows(self, statement: Any, params: dict[str, Any], *, always: bool = False) -> list[Any]:
        """The rows of ``statement``; nothing is run when every list parameter is empty,
        unless ``always`` (the fixed statements of a batch)."""
        if not (always or any(params.values())):
            return []
        return list(self.run_statement(statement, params))

    def resolve(self, kind: str, mbids: Sequence[str]) -> dict[str, tuple[int, str]]:
        """asked MBID → (internal id, current MBID); current MBIDs win over redirects."""
        keys = sorted({uuid.UUID(mbid) for mbid in mbids})
        always = self.fixed and kind in BATCH_KINDS
        found: dict[str, tuple[int, str]] = {}
        for asked, row_id, gid in self.rows(
            q.resolve(kind, self.dialect), {q.GIDS: keys, q.REDIRECTED: keys}, always=always
        ):
            asked_text, current = str(asked), str(gid)
            if asked_text not in found or asked_text == current:
                found[asked_text] = (int(row_id), current)
        self.data.resolved[kind] = {asked: gid for asked, (_, gid) in found.items()}
        return found

    def run(self, query: CatalogQuery) -> CatalogData:
        data = self.data
        track_ids = {i for i, _ in self.resolve("track", query.tracks).values()}
        recording_ids = {i for i, _ in self.resolve("recording", query.recordings).values()}
        release_ids = {i for i, _ in self.resolve("release", query.releases).values()}
        artist_ids = {i for i, _ in self.resolve("artist", query.artists).values()}
        group_ids = {i for i, _ in self.resolve("release_group", query.release_groups).values()}
        if not query.release_groups:
            del data.resolved["release_group"]

        isrc_recordings: dict[str, set[int]] = {}
        codes = sorted(set(query.isrcs))
        for code, recording_id in self.rows(
            q.isrc_recordings(self.dialect), {q.CODES: codes}, always=self.fixed
        ):
            isrc_recordings.setdefault(code.strip(), set()).add(int(recording_id))
        barcode_releases: dict[str, set[int]] = {}
        for code, release_id in self.rows(
            q.barcode_releases(self.dialect), {q.CODES: sorted(set(query.barcodes))}
        ):
            barcode_releases.setdefault(code, set()).add(int(release_id))
            release_ids.add(int(release_id))

        # Tracks: those asked, those of the recordings asked or found by ISRC, and (for the
        # album's track list) those of the releases asked.
        expanded = recording_ids | {r for found in isrc_recordings.values() for r in found}
        track_rows = self.rows(
            q.tracks(self.dialect),
            {
                q.IDS: sorted(track_ids),
                q.RECORDINGS: sorted(expanded),
                q.RELEASES: sorted(release_ids) if query.release_tracks else [],
            },
            always=self.fixed,
        )
        all_recordings = expanded | {int(row.recording) for row in track_rows}
        release_ids |= {int(row.release) for row in track_rows}

        recording_rows = self.rows(
            q.recordings(self.dialect), {q.IDS: sorted(all_recordings)}, always=self.fixed
        )
        isrcs: dict[int, set[str]] = {}
        for recording_id, code in self.rows(
            statements.isrcs(self.dialect),
            {statements.IDS: sorted(all_recordings)},
            always=self.fixed,
        ):
            isrcs.setdefault(int(recording_id), set()).add(code.strip())

        release_rows = self.rows(
            q.releases(self.dialect),
            {q.IDS: sorted(release_ids), q.GROUPS: sorted(group_ids)},
            always=self.fixed,
        )
        all_releases = {int(row.id) for row in release_rows}
        events = self.events(all_releases)
        labels: dict[int, list[CatalogLabel]] = {}
        for release_id, gid, name, number in self.rows(
            q.labels(self.dialect), {q.IDS: sorted(all_releases)}, always=self.fixed
        ):
            labels.setdefault(int(release_id), []).append(
                CatalogLabel(None if gid is None else str(gid), name, number)
            )
        group_rows = self.rows(q.release_groups(self.dialect), {q.IDS: sorted(group_ids)})
        artist_rows = self.rows(
            q.artists(self.dialect), {q.IDS: sorted(artist_ids)}, always=self.fixed
        )

        credit_ids = {row.artist_credit for row in [*track_rows, *recording_rows, *release_rows]}
        credit_ids |= {row.group_credit for row in release_rows}
        credit_ids |= {row.artist_credit for row in group_rows}
        credits = self.credits(credit_ids)

        def credit(credit_id: int | None) -> Credit:
            return credits.get(credit_id, ()) if credit_id is not None else ()

        groups: dict[int, CatalogReleaseGroup] = {}
        for row in release_rows:
            groups.setdefault(
                row.group_id,
                CatalogReleaseGroup(
                    id=str(row.group_gid),
                    title=row.group_name or "",
                    type=row.group_type,
                    secondary_types=_names(row.group_secondary_types),
                    artists=credit(row.group_credit),
                ),
            )
        release_by_id: dict[int, CatalogRelease] = {}
        for row in release_rows:
            release_by_id[int(row.id)] = CatalogRelease(
                id=str(row.gid),
                title=row.name or "",
                status=row.status,
                barcode=row.barcode or None,
                disambiguation=row.comment or "",
                artists=credit(row.artist_credit),
                group=groups[row.group_id],
                medium_count=int(row.medium_count or 0),
                track_count=int(row.track_count or 0),
                events=events.get(int(row.id), ()),
                labels=tuple(labels.get(int(row.id), ())),
            )
        data.releases = {
            r.id: r for r in sorted(release_by_id.values(), key=CatalogRelease.sort_key)
        }
        release_gid = {row_id: release.id for row_id, release in release_by_id.items()}

        for row in track_rows:
            data.tracks[str(row.gid)] = CatalogTrack(
                id=str(row.gid),
                title=row.name or "",
                position=int(row.position),
                number=row.number or str(row.position),
                length_ms=row.length,
                artists=credit(row.artist_credit),
                recording=str(row.recording_gid),
                release=release_gid[int(row.release)],
                disc=int(row.medium_position),
                disc_title=row.medium_name or "",
                format=row.medium_format,
            )
        # The album's track list: disc then position (the statement's order).
        if query.release_tracks:
            for release_id in sorted(release_ids):
                gid = release_gid.get(release_id)
                if gid is not None:
                    data.release_tracks[gid] = tuple(
                        str(row.gid) for row in track_rows if int(row.release) == release_id
                    )
        tracks_of: dict[int, list[CatalogTrack]] = {}
        for row in track_rows:
            tracks_of.setdefault(int(row.recording), []).append(data.tracks[str(row.gid)])
        recording_gid: dict[int, str] = {}
        for row in recording_rows:
            recording_gid[int(row.id)] = str(row.gid)
            mine = sorted(tracks_of.get(int(row.id), []), key=lambda t: t.sort_key(data.releases))
            data.recordings[str(row.gid)] = CatalogRecording(
                id=str(row.gid),
                title=row.name or "",
                length_ms=row.length,
                artists=credit(row.artist_credit),
                disambiguation=row.comment or "",
                isrcs=tuple(sorted(isrcs.get(int(row.id), ()))),
                tracks=tuple(t.id for t in mine),
            )
        for code, found in isrc_recordings.items():
            data.isrc_tracks[code] = tuple(
                track
                for recording_id in sorted(found, key=lambda r: recording_gid.get(r, ""))
                if recording_id in recording_gid
                for track in data.recordings[recording_gid[recording_id]].tracks
            )
        for code, found_releases in barcode_releases.items():
            wanted_gids = {release_gid[i] for i in found_releases if i in release_gid}
            data.barcode_releases[code] = tuple(r for r in data.releases if r in wanted_gids)
        for row in group_rows:
            data.release_groups[str(row.gid)] = CatalogReleaseGroup(
                id=str(row.gid),
                title=row.name or "",
                type=row.type,
                secondary_types=_names(row.secondary_types),
                artists=credit(row.artist_credit),
                disambiguation=row.comment or "",
                releases=tuple(r.id for r in data.releases.values() if r.group.id == str(row.gid)),
            )
        for row in artist_rows:
            data.artists[str(row.gid)] = CatalogArtist(
                id=str(row.gid),
                name=row.name or "",
                sort_name=row.sort_name or "",
                disambiguation=row.comment or "",
                type=row.type,
                gender=row.gender,
                area=row.area,
                country=row.country.strip() if row.country else None,
                begin=(row.begin_date_year, row.begin_date_month, row.begin_date_day),
                end=(row.end_date_year, row.end_date_month, row.end_date_day),
                ended=bool(row.ended),
            )
        return data

    def events(self, release_ids: set[int]) -> dict[int, tuple[ReleaseEvent, ...]]:
        found: dict[int, set[ReleaseEvent]] = {}
        for release, _country, code, year, month, day in self.rows(
            statements.release_events(self.dialect),
            {statements.IDS: sorted(release_ids)},
            always=self.fixed,
        ):
            event = ReleaseEvent(code.strip() if code else None, year, month, day)
            found.setdefault(int(release), set()).add(event)
        return {
            release: tuple(sorted(events, key=ReleaseEvent.sort_key))
            for release, events in found.items()
        }

    def credits(self, credit_ids: Iterable[int | None]) -> dict[int, Credit]:
        wanted = sorted({c for c in credit_ids if c is not None})
        found: dict[int, list[CreditedArtist]] = {}
        for credit_id, _position, name, join_phrase, gid, sort_name in self.rows(
            statements.credits(self.dialect), {statements.IDS: wanted}, always=self.fixed
        ):
            found.setdefault(int(credit_id), []).append(
                CreditedArtist(str(gid), name, join_phrase or "", sort_name or "")
            )
        return {credit_id: tuple(names) for credit_id, names in found.items()}


def _names(joined: str | None) -> tuple[str, ...]:
    if not joined:
        return ()
    return tuple(sorted(set(joined.split(statements.SECONDARY_TYPE_SEPARATOR))))


@dataclass(frozen=True)
class ReplicationState:
    """Where the mirror stands: the replication packet it applied last, and when."""

    schema_sequence: int | None
    sequence: int | None
    last_replication_date: datetime | None


def replication_state(conn: Connection) -> ReplicationState:
    """The first ``replication_control`` row (all None when there is none)."""
    return replication_state_of(execute(conn, q.replication_state()).first())


def replication_state_of(row: Any) -> ReplicationState:
    """The state of a row of :func:`earmark.musicbrainz.catalog_queries.replication_state`."""
    if row is None:
        return ReplicationState(None, None, None)
    date = row.last_replication_date
    if isinstance(date, str):  # SQLite hands back text in some drivers' modes
        date = datetime.fromisoformat(date)
    if date is not None:
        date = date.replace(tzinfo=UTC) if date.tzinfo is None else date.astimezone(UTC)
    return ReplicationState(row.current_schema_sequence, row.current_replication_sequence, date)


def ping(conn: Connection) -> None:
    """One trivial statement (the health check)."""
    conn.execute(sa.text("SELECT 1")).scalar()
