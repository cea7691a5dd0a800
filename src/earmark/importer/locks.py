"""The importer's advisory locks (reference §9.3.1), PostgreSQL only.

Two importers must not decide about the same fingerprint, or the same MBID, at once: each would
miss the other's uncommitted rows and create duplicate tracks or links. The locks are
transaction-scoped (``pg_try_advisory_xact_lock``), so they end with the import's commit or
rollback. Keys pair crc32(name) & 0x7fffffff with the value: the fingerprint's SimHash as a
signed 32-bit integer, or crc32 of the MBID text. SQLite needs none: its write transaction
already excludes every other writer.
"""

from __future__ import annotations

import uuid
import zlib
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from earmark.chromaprint.compare import simhash
from earmark.db.engine import is_sqlite

FINGERPRINT_LOCK = "import.fp"
MBID_LOCK = "import.mbid"


def _crc(text: str) -> int:
    return zlib.crc32(text.encode()) & 0x7FFFFFFF


def _signed32(value: int) -> int:
    value &= 0xFFFFFFFF
    return value - (1 << 32) if value >= 1 << 31 else value


def fingerprint_key(items: npt.NDArray[np.integer]) -> tuple[int, int]:
    return _crc(FINGERPRINT_LOCK), _signed32(simhash(items))


def mbid_key(mbid: uuid.UUID) -> tuple[int, int]:
    return _crc(MBID_LOCK), _crc(str(mbid))


def try_lock(conn: Connection, key: tuple[int, int]) -> bool:
    """Take one transaction-scoped advisory lock; False when another transaction holds it."""
    return try_lock_many(conn, [key])[0]


def try_lock_many(conn: Connection, keys: Sequence[tuple[int, int]]) -> list[bool]:
    """:func:`try_lock` for each key, in one statement (an import group's locks); a lock this
    transaction already holds is taken again (a group may hold two submissions of one key)."""
    if is_sqlite(conn) or not keys:
        return [True] * len(keys)
    taken = conn.execute(
        sa.text(
            "SELECT pg_try_advisory_xact_lock(k1, k2) FROM unnest("
            "CAST(:k1 AS integer[]), CAST(:k2 AS integer[])) WITH ORDINALITY AS k(k1, k2, n) "
            "ORDER BY n"
        ),
        {"k1": [k[0] for k in keys], "k2": [k[1] for k in keys]},
    ).scalars()
    return [bool(t) for t in taken]
