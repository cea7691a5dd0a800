"""The statements of :func:`earmark.musicbrainz.metadata.lookup_metadata`, built once.

Why: on the small, indexed queries of a lookup, building a SQLAlchemy Core statement and
computing its cache key cost more than running it. A statement object built once (per kind of
database) keeps its memoized cache key, so every later execution finds its compiled form in the
engine's cache at once; the values (MBIDs, internal ids) are parameters. The statements name the
schema ``musicbrainz``: the connection's schema translate map still applies (SQLite, PostgreSQL
with any schema name).

Lists of values are passed the way each database handles best:

* PostgreSQL: one array parameter, ``column = ANY(:values)``. The statement's text is then the
  same whatever the number of values, so psycopg prepares it after a few executions and the
  server stops parsing and planning it; no limit on the number of parameters applies.
* SQLite: an expanding ``IN``; internal ids are integers and rendered inline
  (``literal_execute``), so no limit on the number of parameters applies to them.
* DuckDB (the catalog's Parquet export): every list rendered inline, so that its planner sees
  the values and skips the Parquet row groups whose statistics exclude them.
"""

from __future__ import annotations

import functools
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from earmark.db import driver
from earmark.musicbrainz.schema import tables

#: The parameter of :func:`main_query`: the requested MBIDs as ``uuid.UUID`` values.
MBIDS = "mbids"
#: The parameter of the side queries: a list of internal ids (integers).
IDS = "ids"
#: The statements' dialect name for DuckDB (compiled as PostgreSQL, lists inline).
DUCKDB = "duckdb"


def among(
    column: sa.ColumnElement[Any], name: str, dialect: str, *, inline: bool = False
) -> sa.ColumnElement[bool]:
    """``column`` is one of the list passed as parameter ``name`` (see the module docstring).

    ``inline``: on SQLite, render the values in the statement (integers only).
    """
    if dialect == "postgresql":
        return column == sa.any_(sa.bindparam(name, type_=postgresql.ARRAY(column.type)))
    inline = inline or dialect == DUCKDB
    return column.in_(sa.bindparam(name, expanding=True, literal_execute=inline))


def _ids(column: sa.ColumnElement[Any], dialect: str) -> sa.ColumnElement[bool]:
    return among(column, IDS, dialect, inline=True)


@functools.cache
def main_query(
    dialect: str, *, releases: bool, release_groups: bool, redirected: bool
) -> sa.Select[Any]:
    """One row per appearance of a requested recording on a medium (one row if it has none).

    ``redirected``: the MBIDs are looked up in ``recording_gid_redirect`` (column
    ``requested_gid`` holds the one asked). ``releases`` adds the track, medium, format and
    release of each appearance with the release's medium count and track total;
    ``release_groups`` (only with ``releases``) adds the release group, its primary type and
    its secondary types (:data:`SECONDARY_TYPE_SEPARATOR` between the names).
    """
    mb = tables()
    recording = mb.recording
    columns: list[Any] = [
        recording.c.id.label("recording_id"),
        recording.c.gid.label("recording_gid"),
        recording.c.name.label("recording_name"),
        recording.c.artist_credit.label("recording_credit"),
        recording.c.length.label("recording_length"),
    ]
    source: sa.FromClause = recording
    if redirected:
        redirect = mb.recording_gid_redirect
        columns.append(redirect.c.gid.label("requested_gid"))
        source = redirect.join(recording, recording.c.id == redirect.c.new_id)
        asked = redirect.c.gid
    else:
        asked = recording.c.gid
    condition = among(asked, MBIDS, dialect)
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
        counted = mb.medium.alias("counted_medium")
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
            # The release's size, from every medium (not only those holding the recording).
            sa.select(sa.func.count(counted.c.id))
            .where(counted.c.release == release.c.id)
            .scalar_subquery()
            .label("release_medium_count"),
            sa.select(sa.func.sum(counted.c.track_count))
            .where(counted.c.release == release.c.id)
            .scalar_subquery()
            .label("release_track_count"),
        ]
        if release_groups:
            group, primary = mb.release_group, mb.release_group_primary_type
            source = source.outerjoin(group, group.c.id == release.c.release_group).outerjoin(
                primary, primary.c.id == group.c.type
            )
            columns += [
                group.c.gid.label("group_gid"),
                group.c.name.label("group_name"),
                group.c.artist_credit.label("group_credit"),
                primary.c.name.label("group_type"),
                secondary_types(dialect, group).label("group_secondary_types"),
            ]
        order += [release.c.gid, medium.c.position, track.c.position, track.c.gid]
    return sa.select(*columns).select_from(source).where(condition).order_by(*order)


#: Separates the names of :func:`secondary_types` (a control character: never in a name).
SECONDARY_TYPE_SEPARATOR = "\x1f"


def secondary_types(dialect: str, group: sa.Table) -> sa.ScalarSelect[Any]:
    """The secondary type names of the row's release group in one string (NULL: none).

    A correlated aggregate rather than a statement of its own: one round trip less.
    """
    mb = tables()
    join, secondary = mb.release_group_secondary_type_join, mb.release_group_secondary_type
    if dialect in ("postgresql", DUCKDB):
        names = sa.func.string_agg(secondary.c.name, sa.func.chr(31))
    else:
        names = sa.func.group_concat(secondary.c.name, sa.func.char(31))
    return (
        sa.select(names)
        .select_from(join.join(secondary, secondary.c.id == join.c.secondary_type))
        .where(join.c.release_group == group.c.id)
        .scalar_subquery()
    )


@functools.cache
def release_events(dialect: str) -> sa.Select[Any]:
    """The events of the releases ``ids``, with the ISO code(s) of their country."""
    mb = tables()
    event, iso = mb.release_event, mb.iso_3166_1
    return (
        sa.select(
            event.c.release,
            event.c.country,
            iso.c.code,
            event.c.date_year,
            event.c.date_month,
            event.c.date_day,
        )
        .select_from(event.outerjoin(iso, iso.c.area == event.c.country))
        .where(_ids(event.c.release, dialect))
        # SQLite pushes a list of values, not a subquery, into the view's branches.
        .execution_options(**{driver.INLINE_LISTS: True})
    )


@functools.cache
def isrcs(dialect: str) -> sa.Select[Any]:
    """(recording id, ISRC) of the recordings ``ids``."""
    isrc = tables().isrc
    return sa.select(isrc.c.recording, isrc.c.isrc).where(_ids(isrc.c.recording, dialect))


@functools.cache
def credits(dialect: str) -> sa.Select[Any]:
    """The names of the artist credits ``ids``, in credit then position order, with each
    artist's MBID and sort name."""
    mb = tables()
    name, artist = mb.artist_credit_name, mb.artist
    return (
        sa.select(
            name.c.artist_credit,
            name.c.position,
            name.c.name,
            name.c.join_phrase,
            artist.c.gid,
            artist.c.sort_name,
        )
        .select_from(name.join(artist, artist.c.id == name.c.artist))
        .where(_ids(name.c.artist_credit, dialect))
        .order_by(name.c.artist_credit, name.c.position)
    )
