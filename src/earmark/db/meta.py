"""User-submitted metadata (fingerprint database): normalisation, gids and ``meta`` rows.

A submission's ``meta`` holds the non-empty fields among track, artist, album, album_artist,
track_no, disc_no and year (reference §4.2). Its gid is a uuid5 of the compact JSON of those
fields in that order (§9.3.8), so equal metadata always maps to one ``meta`` row.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from earmark.db import upsert
from earmark.db.tables import meta

#: The namespace of meta gids (reference §9.3.8).
META_NAMESPACE = uuid.UUID("3b3bd228-5d2c-11ea-b498-60f67731bf41")

TEXT_FIELDS = ("track", "artist", "album", "album_artist")
#: The order of the fields in the gid's JSON.
FIELDS = ("track", "artist", "album", "album_artist", "track_no", "disc_no", "year")
#: track_no and disc_no above this are dropped (reference §4.2).
MAX_POSITION = 10000

MetaValue = str | int
MetaDict = dict[str, MetaValue]

_SPACES = re.compile(r"[\s\x00]+")


@dataclass(frozen=True, slots=True)
class UserMeta:
    """The fields of user-submitted metadata (any may be missing): what a ``meta`` row holds
    and what ``usermeta`` lookups show."""

    track: str | None = None
    artist: str | None = None
    album: str | None = None
    album_artist: str | None = None
    track_no: int | None = None
    disc_no: int | None = None
    year: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Meta(UserMeta):
    """One ``meta`` row."""

    id: int
    gid: uuid.UUID


def meta_row(row: sa.Row[Any]) -> Meta:
    """A :class:`Meta` from a row with the ``meta`` table's columns."""
    return Meta(
        id=row.id,
        gid=row.gid,
        track=row.track,
        artist=row.artist,
        album=row.album,
        album_artist=row.album_artist,
        track_no=row.track_no,
        disc_no=row.disc_no,
        year=row.year,
    )


def normalize(values: Mapping[str, object] | None) -> MetaDict:
    """The truthy fields of ``values``, whitespace runs and NULs collapsed to one space.

    Beyond the reference, text is also stripped at both ends, so " Foo " and "Foo" are one meta
    (a value of only spaces is dropped instead of becoming " "). Unknown keys are ignored.
    """
    result: MetaDict = {}
    if not values:
        return result
    for name in FIELDS:
        value = values.get(name)
        if value is None or value is False:
            continue
        if name in TEXT_FIELDS:
            text = _SPACES.sub(" ", str(value)).strip()
            if text:
                result[name] = text
        else:
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"meta field {name} must be an int, not {type(value).__name__}")
            if not value:
                continue
            if name in ("track_no", "disc_no") and value > MAX_POSITION:
                continue
            result[name] = value
    return result


def gid_of(values: Mapping[str, MetaValue]) -> uuid.UUID:
    """The gid of already normalised metadata (uuid5 of its compact JSON, fields in order)."""
    ordered = {name: values[name] for name in FIELDS if values.get(name)}
    text = json.dumps(ordered, separators=(",", ":"), ensure_ascii=False)
    return uuid.uuid5(META_NAMESPACE, text)


def find_or_insert(conn: Connection, values: Mapping[str, object]) -> tuple[int, uuid.UUID]:
    """The id and gid of the ``meta`` row for ``values`` (normalised first), inserted if new."""
    normal = normalize(values)
    gid = gid_of(normal)
    # Not covered by the importer's advisory locks (two different fingerprints may carry the
    # same new metadata at once), so the insert must tolerate a concurrent twin.
    row = {name: normal.get(name) for name in FIELDS}
    return upsert.find_or_insert(conn, meta, {"gid": gid}, extra=row), gid


def get_many(conn: Connection, ids: list[int]) -> list[Meta]:
    """``meta`` rows by id, in id order."""
    if not ids:
        return []
    rows = conn.execute(sa.select(meta).where(meta.c.id.in_(ids)).order_by(meta.c.id)).all()
    return [meta_row(r) for r in rows]


def find_or_insert_many(conn: Connection, metas: Sequence[MetaDict]) -> dict[uuid.UUID, int]:
    """:func:`find_or_insert` for a group of already normalised metadata; ids by gid."""
    rows = {(gid_of(m),): {name: m.get(name) for name in FIELDS} for m in metas}
    found = upsert.find_or_insert_many(conn, meta, ("gid",), rows)
    return {key[0]: meta_id for key, meta_id in found.items()}
