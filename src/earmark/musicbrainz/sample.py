"""mbdata's real sample data (41 recordings on 2 releases) copied into the subset.

``mbdata.sample_data.create_sample_data(session)`` adds ORM objects of ~50 tables, many outside
the subset, and commits. It runs against a scratch in-memory SQLite database holding exactly
those tables; then the rows of the subset's tables are copied to the target (SQLite or
PostgreSQL). Two shims (musicbrainz.md §2.3): the module never sets ``artist_credit.gid`` and
``medium.gid``, NOT NULL since schema 28, so they get uuid5 values derived from the row id; and
SQLAlchemy 2 wants ``uuid.UUID`` objects where the module writes strings.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from earmark.musicbrainz.errors import MusicBrainzError
from earmark.musicbrainz.schema import SCHEMA, execute, models, tables

# Namespace of the gids the shim fills in (uuid5 of "<table>/<id>").
SAMPLE_GID_NAMESPACE = uuid.UUID("5e11a94f-17ba-4b95-93d1-17b1dd1b2205")
# "Moon", 367000 ms, on "XVI Reflections on Classical Music": the reference's own test case.
SAMPLE_RECORDING = "7853bd8c-2141-4b4d-9f62-578bab214ab9"


@dataclass(frozen=True)
class SampleLoad:
    """Rows copied per table (empty when the sample was already there)."""

    rows: dict[str, int]

    @property
    def loaded(self) -> bool:
        return bool(self.rows)


def sample_loaded(conn: Connection) -> bool:
    recording = tables().recording
    query = sa.select(recording.c.id).where(recording.c.gid == uuid.UUID(SAMPLE_RECORDING))
    return execute(conn, query).first() is not None


def load_sample(conn: Connection) -> SampleLoad:
    """Copy mbdata's sample into the subset (in the caller's transaction); idempotent.

    Refuses (MusicBrainzError) when ``recording`` already holds other data: the sample keeps
    MusicBrainz's own row ids, which would collide with a real or synthetic data set.
    """
    if sample_loaded(conn):
        return SampleLoad({})
    recording = tables().recording
    others = execute(conn, sa.select(sa.func.count()).select_from(recording)).scalar_one()
    if others:
        raise MusicBrainzError(
            f"the MusicBrainz database already holds {others} recordings that are not mbdata's "
            "sample; load the sample into an empty database"
        )
    scratch = sa.create_engine("sqlite://")
    try:
        with scratch.connect() as source:
            source.execution_options(schema_translate_map={SCHEMA: None})
            _fill_scratch(source)
            try:
                return SampleLoad(_copy_subset(source, conn))
            except sa.exc.IntegrityError as exc:
                raise MusicBrainzError(
                    "mbdata's sample collides with rows already in the MusicBrainz database "
                    f"({' '.join(str(exc.orig).split())}); load it into an empty database"
                ) from None
    finally:
        scratch.dispose()


def _sample_tables() -> list[sa.Table]:
    """The tables the sample module writes, with every table their foreign keys point at."""
    import mbdata.sample_data

    found = {
        value.__table__
        for value in vars(mbdata.sample_data).values()
        if isinstance(value, type) and hasattr(value, "__table__")
    }
    todo = list(found)
    while todo:
        for key in todo.pop().foreign_keys:
            target = key.column.table
            if target not in found:
                found.add(target)
                todo.append(target)
    return sorted(found, key=lambda table: table.fullname)


def _fill_scratch(source: Connection) -> None:
    import mbdata.sample_data

    mb_models = models()
    mb_models.Base.metadata.create_all(source, tables=_sample_tables())
    source.commit()
    session = Session(bind=source)
    sa.event.listen(session, "before_flush", _gid_shim)
    try:
        mbdata.sample_data.create_sample_data(session)
    finally:
        session.close()
    source.commit()


def _gid_shim(session: Session, _context: Any, _instances: Any) -> None:
    mb_models = models()
    unset = (mb_models.ArtistCredit, mb_models.Medium)
    for instance in session.new:
        if isinstance(instance, unset) and instance.gid is None:
            table = instance.__table__.name
            instance.gid = uuid.uuid5(SAMPLE_GID_NAMESPACE, f"{table}/{instance.id}")
        for attribute in sa.inspect(instance).mapper.column_attrs:
            if not isinstance(attribute.columns[0].type, sa.Uuid):
                continue
            value = getattr(instance, attribute.key)
            if isinstance(value, str):
                setattr(instance, attribute.key, uuid.UUID(value))


def _copy_subset(source: Connection, target: Connection) -> dict[str, int]:
    present = set(sa.inspect(source).get_table_names())
    copied: dict[str, int] = {}
    for table in tables().base_tables():
        if table.name not in present:
            continue
        # Primary-key order puts parents first in the self-referencing type tables.
        query = sa.select(table).order_by(*table.primary_key.columns)
        rows = [dict(row._mapping) for row in source.execute(query)]
        if rows:
            execute(target, table.insert(), rows)
            copied[table.name] = len(rows)
    return copied
