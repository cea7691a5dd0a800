"""Facts about the test mirror, read from it with plain queries (not through the catalog)."""

from __future__ import annotations

import sqlalchemy as sa

from earmark.musicbrainz.schema import execute, tables
from tests.musicbrainz.support import Mirror

POLAR_MIX = "Trentemøller: The Pølar Mix"
XVI = "XVI Reflections on Classical Music"


def release_gid(mirror: Mirror, name: str) -> str:
    release = tables().release
    with mirror.database.read() as conn:
        found = execute(conn, sa.select(release.c.gid).where(release.c.name == name)).scalar_one()
    return str(found)


def shared_isrc(mirror: Mirror) -> tuple[str, int]:
    """An ISRC of a recording on the most releases, and that recording's track count."""
    mb = tables()
    isrc, track = mb.isrc, mb.track
    count = sa.func.count(track.c.id)
    query = (
        sa.select(isrc.c.isrc, count)
        .select_from(isrc.join(track, track.c.recording == isrc.c.recording))
        .group_by(isrc.c.isrc)
        .order_by(count.desc(), isrc.c.isrc)
        .limit(1)
    )
    with mirror.database.read() as conn:
        code, tracks = execute(conn, query).one()
    return str(code).strip(), int(tracks)


def recording_isrcs(mirror: Mirror, count: int) -> list[str]:
    isrc = tables().isrc
    query = sa.select(isrc.c.isrc).order_by(isrc.c.isrc).limit(count)
    with mirror.database.read() as conn:
        return [str(code).strip() for code in execute(conn, query).scalars()]


def gids(mirror: Mirror, table: str, count: int) -> list[str]:
    source = tables().by_name()[table]
    query = sa.select(source.c.gid).order_by(source.c.id).limit(count)
    with mirror.database.read() as conn:
        return [str(gid) for gid in execute(conn, query).scalars()]
