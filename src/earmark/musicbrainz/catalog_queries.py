"""The statements of the catalog API (:mod:`earmark.musicbrainz.catalog`), built once each.

Every statement takes lists as parameters (:func:`earmark.musicbrainz.statements.among`), so
one execution serves any number of ids: a batch of 400 ids runs the same statements as a batch
of one. MBIDs are passed as ``uuid.UUID`` values, internal ids as integers. The statements name
the schema ``musicbrainz``; the connection's schema translate map applies.
"""

from __future__ import annotations

import functools
from typing import Any

import sqlalchemy as sa

from earmark.db import driver
from earmark.musicbrainz.schema import SCHEMA, tables
from earmark.musicbrainz.statements import DUCKDB, among, secondary_types

#: Parameter names.
GIDS = "gids"
REDIRECTED = "redirected"
IDS = "ids"
RECORDINGS = "recordings"
RELEASES = "releases"
GROUPS = "groups"
CODES = "codes"


def _ints(column: sa.ColumnElement[Any], name: str, dialect: str) -> sa.ColumnElement[bool]:
    return among(column, name, dialect, inline=True)


@functools.cache
def resolve(kind: str, dialect: str) -> sa.CompoundSelect[Any]:
    """(asked gid, internal id, current gid) of the MBIDs ``gids`` of entity ``kind``; the
    same for the MBIDs ``redirected`` looked up in the kind's gid redirect table (pass the same
    list twice: the two branches of one statement)."""
    mb = tables()
    entity: sa.Table = getattr(mb, kind)
    redirect: sa.Table = getattr(mb, f"{kind}_gid_redirect")
    # The Parquet export sorts entities by id; their gids have a copy sorted by gid.
    found: sa.TableClause = gid_index(kind) if dialect == DUCKDB else entity
    direct = sa.select(
        found.c.gid.label("asked"), found.c.id.label("id"), found.c.gid.label("gid")
    ).where(among(found.c.gid, GIDS, dialect))
    merged = (
        sa.select(redirect.c.gid.label("asked"), entity.c.id.label("id"), entity.c.gid)
        .select_from(redirect.join(entity, entity.c.id == redirect.c.new_id))
        .where(among(redirect.c.gid, REDIRECTED, dialect))
    )
    return sa.union_all(direct, merged)


def gid_index(kind: str) -> sa.TableClause:
    """The (gid, id) table of the Parquet export's entities of ``kind``, sorted by gid."""
    return sa.table(
        f"{kind}_gid", sa.column("gid", sa.Uuid()), sa.column("id", sa.Integer()), schema=SCHEMA
    )


@functools.cache
def isrc_recordings(dialect: str) -> sa.Select[Any]:
    """(ISRC, recording id) of the ISRCs ``codes``."""
    isrc = tables().isrc
    return sa.select(isrc.c.isrc, isrc.c.recording).where(among(isrc.c.isrc, CODES, dialect))


@functools.cache
def barcode_releases(dialect: str) -> sa.Select[Any]:
    """(barcode, release id) of the barcodes ``codes``."""
    release = tables().release
    return sa.select(release.c.barcode, release.c.id).where(
        among(release.c.barcode, CODES, dialect)
    )


_TRACK_COLUMNS = ("id", "gid", "name", "position", "number", "length", "artist_credit", "recording")


@functools.cache
def tracks(dialect: str) -> sa.CompoundSelect[Any]:
    """The tracks ``ids``, every track of the recordings ``recordings`` and every track of the
    releases ``releases``, with their medium, in release, disc, position order.

    One branch per list, united: a single ``WHERE`` with the three tests OR-ed (one of them on
    the medium) cannot use an index on either table, and both databases scanned every track
    (about 100 ms per ISRC lookup at 100,000 recordings, linear in the mirror's size).
    """
    mb = tables()
    track, medium, fmt, recording = mb.track, mb.medium, mb.medium_format, mb.recording
    # Every column labelled: SQLite matches the ORDER BY of a compound statement by label.
    base = sa.select(
        *(track.c[name].label(name) for name in _TRACK_COLUMNS),
        recording.c.gid.label("recording_gid"),
        medium.c.release.label("release"),
        medium.c.position.label("medium_position"),
        medium.c.name.label("medium_name"),
        medium.c.track_count.label("medium_track_count"),
        fmt.c.name.label("medium_format"),
    ).select_from(
        track.join(medium, medium.c.id == track.c.medium)
        .join(recording, recording.c.id == track.c.recording)
        .outerjoin(fmt, fmt.c.id == medium.c.format)
    )
    united = sa.union(
        base.where(_ints(track.c.id, IDS, dialect)),
        base.where(_ints(track.c.recording, RECORDINGS, dialect)),
        base.where(_ints(medium.c.release, RELEASES, dialect)),
    )
    found = united.selected_columns
    return united.order_by(found.release, found.medium_position, found.position, found.id)


@functools.cache
def recordings(dialect: str) -> sa.Select[Any]:
    recording = tables().recording
    return sa.select(
        recording.c.id,
        recording.c.gid,
        recording.c.name,
        recording.c.length,
        recording.c.artist_credit,
        recording.c.comment,
    ).where(_ints(recording.c.id, IDS, dialect))


@functools.cache
def releases(dialect: str) -> sa.Select[Any]:
    """The releases ``ids`` and every release of the release groups ``groups``, with status,
    release group (type, secondary types), medium count and track total."""
    mb = tables()
    release, status, group = mb.release, mb.release_status, mb.release_group
    primary = mb.release_group_primary_type
    counted = mb.medium.alias("counted_medium")
    return (
        sa.select(
            release.c.id,
            release.c.gid,
            release.c.name,
            release.c.barcode,
            release.c.comment,
            release.c.artist_credit,
            status.c.name.label("status"),
            group.c.id.label("group_id"),
            group.c.gid.label("group_gid"),
            group.c.name.label("group_name"),
            group.c.artist_credit.label("group_credit"),
            primary.c.name.label("group_type"),
            secondary_types(dialect, group).label("group_secondary_types"),
            sa.select(sa.func.count(counted.c.id))
            .where(counted.c.release == release.c.id)
            .scalar_subquery()
            .label("medium_count"),
            sa.select(sa.func.sum(counted.c.track_count))
            .where(counted.c.release == release.c.id)
            .scalar_subquery()
            .label("track_count"),
        )
        .select_from(
            release.join(group, group.c.id == release.c.release_group)
            .outerjoin(status, status.c.id == release.c.status)
            .outerjoin(primary, primary.c.id == group.c.type)
        )
        .where(
            sa.or_(
                _ints(release.c.id, IDS, dialect),
                _ints(release.c.release_group, GROUPS, dialect),
            )
        )
        .order_by(release.c.id)
        # SQLite searches both indexes for an OR of two lists of values, not of subqueries.
        .execution_options(**{driver.INLINE_LISTS: True})
    )


@functools.cache
def release_groups(dialect: str) -> sa.Select[Any]:
    mb = tables()
    group, primary = mb.release_group, mb.release_group_primary_type
    return (
        sa.select(
            group.c.id,
            group.c.gid,
            group.c.name,
            group.c.comment,
            group.c.artist_credit,
            primary.c.name.label("type"),
            secondary_types(dialect, group).label("secondary_types"),
        )
        .select_from(group.outerjoin(primary, primary.c.id == group.c.type))
        .where(_ints(group.c.id, IDS, dialect))
    )


@functools.cache
def labels(dialect: str) -> sa.Select[Any]:
    """(release id, label gid, label name, catalogue number) of the releases ``ids``."""
    mb = tables()
    release_label, label = mb.release_label, mb.label
    return (
        sa.select(
            release_label.c.release,
            label.c.gid,
            label.c.name,
            release_label.c.catalog_number,
        )
        .select_from(release_label.outerjoin(label, label.c.id == release_label.c.label))
        .where(_ints(release_label.c.release, IDS, dialect))
        .order_by(release_label.c.release, release_label.c.id)
    )


@functools.cache
def artists(dialect: str) -> sa.Select[Any]:
    """The artists ``ids`` with type, gender, area name and the area's ISO 3166-1 code."""
    mb = tables()
    artist, kind, gender, area, iso = mb.artist, mb.artist_type, mb.gender, mb.area, mb.iso_3166_1
    code = sa.select(sa.func.min(iso.c.code)).where(iso.c.area == artist.c.area).scalar_subquery()
    return (
        sa.select(
            artist.c.id,
            artist.c.gid,
            artist.c.name,
            artist.c.sort_name,
            artist.c.comment,
            kind.c.name.label("type"),
            gender.c.name.label("gender"),
            area.c.name.label("area"),
            code.label("country"),
            artist.c.begin_date_year,
            artist.c.begin_date_month,
            artist.c.begin_date_day,
            artist.c.end_date_year,
            artist.c.end_date_month,
            artist.c.end_date_day,
            artist.c.ended,
        )
        .select_from(
            artist.outerjoin(kind, kind.c.id == artist.c.type)
            .outerjoin(gender, gender.c.id == artist.c.gender)
            .outerjoin(area, area.c.id == artist.c.area)
        )
        .where(_ints(artist.c.id, IDS, dialect))
    )


@functools.cache
def replication_state() -> sa.Select[Any]:
    """The mirror's replication sequence and its date (the first row of replication_control)."""
    control = tables().replication_control
    return (
        sa.select(
            control.c.current_schema_sequence,
            control.c.current_replication_sequence,
            control.c.last_replication_date,
        )
        .order_by(control.c.id)
        .limit(1)
    )
