"""Helpers of the MusicBrainz tests: mirrors, lookup requests, statement counts, dump archives."""

from __future__ import annotations

import bz2
import io
import json
import tarfile
import uuid
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from earmark.db.links import MbidLink
from earmark.musicbrainz import copytext
from earmark.musicbrainz.enrich import Enrichment, ResultLinks, inject_metadata
from earmark.musicbrainz.flags import parse_meta
from earmark.musicbrainz.schema import MusicBrainzDatabase, execute, tables
from earmark.musicbrainz.synthetic import SyntheticData
from tests.support import statements_run

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "musicbrainz"


@dataclass(frozen=True)
class Mirror:
    """A MusicBrainz subset holding mbdata's sample and a synthetic data set."""

    database: MusicBrainzDatabase
    synthetic: SyntheticData

    @property
    def kind(self) -> str:
        return self.database.engine.dialect.name


def result_id(name: str) -> str:
    """A made-up AcoustID track id for a test result."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"earmark-test/acoustid-track/{name}"))


def lookup(
    database: MusicBrainzDatabase,
    meta: str,
    requests: Sequence[tuple[str, float, ResultLinks]],
) -> Enrichment:
    """inject_metadata on fresh result objects built from (name, score, links)."""
    results = [{"id": result_id(name), "score": score} for name, score, _ in requests]
    with database.read() as conn:
        return inject_metadata(conn, results, [links for *_, links in requests], parse_meta(meta))


def mbid_link(mbid: str, sources: int) -> MbidLink:
    """An enabled link of a made-up track to ``mbid``, carried by ``sources`` submissions."""
    return MbidLink(
        id=0, track_id=0, mbid=uuid.UUID(mbid), submission_count=sources, disabled=False
    )


def links(*pairs: tuple[str, int]) -> ResultLinks:
    return ResultLinks([mbid_link(mbid, sources) for mbid, sources in pairs])


def golden(name: str) -> Any:
    return json.loads((GOLDEN / name).read_text(encoding="utf-8"))


def counted_selects(engine: sa.Engine) -> AbstractContextManager[list[str]]:
    """The SELECT statements sent to the database inside the block."""
    return statements_run(engine, _is_select)


def _is_select(statement: str) -> bool:
    return statement.lstrip().upper().startswith(("SELECT", "WITH"))


def table_rows(database: MusicBrainzDatabase, table_name: str) -> list[tuple[Any, ...]]:
    """Every row of a subset table in primary-key order, values in column order."""
    table = tables().by_name()[table_name]
    with database.read() as conn:
        query = sa.select(table).order_by(*table.primary_key.columns)
        return [tuple(row) for row in execute(conn, query)]


def row_counts(database: MusicBrainzDatabase) -> dict[str, int]:
    counts = {}
    with database.read() as conn:
        for name, table in tables().by_name().items():
            query = sa.select(sa.func.count()).select_from(table)
            counts[name] = execute(conn, query).scalar_one()
    return counts


def planner_rows(database: MusicBrainzDatabase, table_name: str) -> int | None:
    """How many rows the database's planner statistics say ``table_name`` holds (None: no
    statistics; PostgreSQL's -1 means never analyzed)."""
    with database.read() as conn:
        if conn.dialect.name == "sqlite":
            stat = conn.exec_driver_sql(
                "SELECT stat FROM sqlite_stat1 WHERE tbl = ? LIMIT 1", (table_name,)
            ).scalar()
            return None if stat is None else int(str(stat).split()[0])
        found = conn.execute(
            sa.text(
                "SELECT c.reltuples FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = :schema AND c.relname = :name"
            ),
            {"schema": database.schema_name, "name": table_name},
        ).scalar()
        return None if found is None else int(found)


def dump_members(database: MusicBrainzDatabase) -> dict[str, bytes]:
    """The subset's tables as MusicBrainz dump members (COPY text, column order of the schema)."""
    members = {}
    for name in tables().by_name():
        rows = table_rows(database, name)
        members[f"mbdump/{name}"] = b"".join(copytext.format_line(row) for row in rows)
    return members


def write_archive(
    path: Path,
    members: dict[str, bytes] | list[tuple[str, bytes]],
    *,
    streams: int = 1,
    tweak: Callable[[tarfile.TarInfo], None] | None = None,
) -> Path:
    """An ``mbdump.tar.bz2``-style archive; ``streams`` > 1 writes concatenated bzip2 streams."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        entries = list(members.items()) if isinstance(members, dict) else members
        for name, data in entries:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            if tweak is not None:
                tweak(info)
            tar.addfile(info, io.BytesIO(data))
    raw = buffer.getvalue()
    step = -(-len(raw) // streams)
    path.write_bytes(b"".join(bz2.compress(raw[i : i + step]) for i in range(0, len(raw), step)))
    return path
