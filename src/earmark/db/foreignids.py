"""Named data functions of foreign ids (fingerprint database): ``vendor:id`` references.

A foreign id names a recording in another catalogue (``spotify:4uLU6hMC…``). The vendor is
lower-case ASCII letters and digits; the id is any non-empty text on one line (the reference's
``^[0-9a-z]+:.+$``, §4.1 error 10).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from earmark.db import upsert
from earmark.db.tables import foreignid, foreignid_vendor

_FOREIGNID = re.compile(r"([0-9a-z]+):(.+)")


@dataclass(frozen=True, slots=True)
class ForeignId:
    vendor: str
    name: str

    def __str__(self) -> str:
        return f"{self.vendor}:{self.name}"


def parse(text: str) -> ForeignId:
    """Split ``vendor:id``; ValueError when ``text`` is not a foreign id."""
    match = _FOREIGNID.fullmatch(text)
    if match is None:
        raise ValueError(f"not a foreign id (vendor:id): {text!r}")
    return ForeignId(match.group(1), match.group(2))


def is_valid(text: str) -> bool:
    return _FOREIGNID.fullmatch(text) is not None


def find_or_insert(conn: Connection, value: ForeignId) -> int:
    """The id of the ``foreignid`` row (and its vendor), inserted if new."""
    vendor_id = upsert.find_or_insert(conn, foreignid_vendor, {"name": value.vendor})
    return upsert.find_or_insert(conn, foreignid, {"vendor_id": vendor_id, "name": value.name})


def find(conn: Connection, value: ForeignId) -> int | None:
    """The id of an existing ``foreignid`` row, or None."""
    found = conn.execute(
        sa.select(foreignid.c.id)
        .join(foreignid_vendor, foreignid_vendor.c.id == foreignid.c.vendor_id)
        .where(foreignid_vendor.c.name == value.vendor, foreignid.c.name == value.name)
    ).scalar_one_or_none()
    return None if found is None else int(found)
