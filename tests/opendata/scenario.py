"""The import scenario of the tests: three days in the three historic encodings, a day missing
between them, and every upstream quirk the importer must handle (docs/open-data.md)."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path
from typing import Any

from tests.opendata.files import corpus, stamp, write_day

ESCAPED_DAY = dt.date(2024, 12, 4)
UNSEPARATED_DAY = dt.date(2024, 12, 5)
MISSING_DAY = dt.date(2024, 12, 6)
PLAIN_DAY = dt.date(2024, 12, 7)

GID = {n: uuid.UUID(int=0x7000 + n) for n in (1, 2, 3, 4)}
MBID = {k: str(uuid.UUID(int=0xA000 + i)) for i, k in enumerate("ABCD")}
PUID = str(uuid.UUID(int=0xB000))
#: A meta row whose strings need JSON escapes (quotes, a backslash, non-ASCII).
TITLE = 'Café "Live" \\ mix'


def link(row_id: int, track: int, mbid: str, day: dt.date, count: int = 1, **extra: Any) -> Any:
    return {
        "id": row_id,
        "track_id": track,
        "mbid": MBID[mbid],
        "submission_count": count,
        "created": stamp(day),
        **extra,
    }


def write_scenario(root: Path, vectors: Any) -> dict[str, list[int]]:
    """Writes the scenario under ``root``; returns the fingerprints by song name."""
    fp = corpus(vectors)
    d1, d2, d4 = ESCAPED_DAY, UNSEPARATED_DAY, PLAIN_DAY
    write_day(
        root,
        d1,
        {
            "track": [{"id": n, "gid": str(GID[n]), "created": stamp(d1)} for n in (1, 2, 3)],
            "fingerprint": [
                {"id": 100 + n, "fingerprint": fp[song], "length": 120, "created": stamp(d1)}
                for n, song in ((1, "breeze"), (2, "boss"), (3, "disko"))
            ],
            "meta": [
                {"id": 201, "track": TITLE, "artist": "Ünïcode", "year": 2011, "created": stamp(d1)}
            ],
            "track_fingerprint": [
                {
                    "id": 100 + n,
                    "track_id": n,
                    "fingerprint_id": 100 + n,
                    "submission_count": 3,
                    "created": stamp(d1),
                }
                for n in (1, 2, 3)
            ],
            "track_mbid": [
                link(401, 1, "A", d1, 5),
                link(402, 2, "B", d1),
                link(403, 3, "D", d1),
                link(404, 99, "A", d1),  # a track that never appears
                link(405, 2, "C", d1, disabled=True),
            ],
            "track_puid": [
                {
                    "id": 501,
                    "track_id": 3,
                    "puid": PUID,
                    "submission_count": 1,
                    "created": stamp(d1),
                }
            ],
            "track_meta": [
                {
                    "id": 301,
                    "track_id": 1,
                    "meta_id": 201,
                    "submission_count": 1,
                    "created": stamp(d1),
                }
            ],
        },
        "escaped",
    )
    write_day(
        root,
        d2,
        {
            # Track 2 merged into track 1: its links now belong to track 1.
            "track": [
                {
                    "id": 2,
                    "gid": str(GID[2]),
                    "new_id": 1,
                    "created": stamp(d1),
                    "updated": stamp(d2),
                }
            ],
            "track_mbid": [
                link(402, 2, "B", d1, 2, updated=stamp(d2)),
                link(406, 2, "A", d2),  # a duplicate of 401 once the tracks are one
                link(405, 2, "C", d1, updated=stamp(d2)),  # "disabled" absent: enabled again
                link(407, 3, "B", d2, 1),
                link(407, 3, "B", d2, 4, updated=stamp(d2, 11)),  # same id, changed content
            ],
        },
        "unseparated",
    )
    write_day(
        root,
        d4,
        {
            "track": [{"id": 4, "gid": str(GID[4]), "created": stamp(d4)}],
            "fingerprint": [
                {"id": 104, "fingerprint": [1, 2**31, 3], "length": 120, "created": stamp(d4)},
                {"id": 105, "fingerprint": fp["night"], "length": 120, "created": stamp(d4)},
            ],
            "track_fingerprint": [
                {
                    "id": n,
                    "track_id": 4,
                    "fingerprint_id": n,
                    "submission_count": 1,
                    "created": stamp(d4),
                }
                for n in (104, 105)
            ],
            "track_mbid": [link(408, 4, "D", d4)],
        },
        "plain",
    )
    return fp
