"""get_many's duration window: in Python for a lookup's few ids, in SQL for many; same rows."""

from __future__ import annotations

from typing import Any

import pytest

from earmark.db import fingerprints, tracks
from earmark.db.engine import Databases
from earmark.db.fingerprints import FEW_IDS, StoredFingerprint, get_many
from tests.support import statements_run

DURATION = 120
# Every length from 10 s below the duration to 10 s above, over and over.
LENGTHS = [DURATION - 10 + n % 21 for n in range(FEW_IDS + 10)]


@pytest.fixture
def stored(dbs: Databases) -> list[int]:
    """Ids of fingerprints of LENGTHS, on a few tracks."""
    ids = []
    with dbs.write() as conns:
        track_ids = [tracks.insert(conns.fingerprint).id for _ in range(3)]
        for n, length in enumerate(LENGTHS):
            ids.append(
                fingerprints.insert(
                    conns.fingerprint,
                    items=[n, n + 1, n + 2],
                    length=length,
                    bitrate=None,
                    format_id=None,
                    track_id=track_ids[n % 3],
                )
            )
    return ids


def _rows(found: list[StoredFingerprint]) -> list[tuple[Any, ...]]:
    return [(f.id, f.track_id, f.track_gid, f.length, f.items.tolist()) for f in found]


def _windowed(found: list[StoredFingerprint], duration: int, diff: int) -> list[tuple[Any, ...]]:
    return _rows([f for f in found if duration - diff <= f.length <= duration + diff])


@pytest.mark.parametrize("count", [5, FEW_IDS, FEW_IDS + 1, len(LENGTHS)])
def test_the_window_keeps_the_same_rows_however_many_ids(
    dbs: Databases, stored: list[int], count: int
) -> None:
    # A lookup's few candidates, or the first ``count``: lengths on both sides of the window.
    ids = [stored[n] for n in (0, 5, 10, 13, 20)] if count == 5 else stored[:count]
    with dbs.read() as conns:
        everything = get_many(conns.fingerprint, ids)
        assert [f.id for f in everything] == sorted(ids)
        for diff in (7, 2, 0):
            with statements_run(dbs.fingerprint) as seen:
                found = get_many(conns.fingerprint, ids, duration=DURATION, max_duration_diff=diff)
            expected = _windowed(everything, DURATION, diff)
            assert 0 < len(expected) < len(everything)
            assert _rows(found) == expected
            # The window is in the statement only for more than FEW_IDS ids.
            (statement,) = seen
            assert ("BETWEEN" in statement.upper()) is (count > FEW_IDS)


def test_the_window_edges_are_included(dbs: Databases, stored: list[int]) -> None:
    few, many = stored[:FEW_IDS], stored
    with dbs.read() as conns:
        for ids in (few, many):
            lengths = {f.length for f in get_many(conns.fingerprint, ids, duration=DURATION)}
            assert lengths == set(range(DURATION - 7, DURATION + 8))


def test_no_duration_no_window(dbs: Databases, stored: list[int]) -> None:
    with dbs.read() as conns:
        assert [f.length for f in get_many(conns.fingerprint, stored)] == LENGTHS
        assert get_many(conns.fingerprint, [], duration=DURATION) == []
