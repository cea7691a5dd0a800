"""Fingerprints read in PostgreSQL's binary array form (``array_send``) are the stored items,
on both engines and for every read path; malformed binary forms are refused. The MBID links
read with a lookup's candidates are those :func:`links.mbids_for_tracks` reads."""

from __future__ import annotations

import struct
import uuid

import numpy as np
import pytest
import sqlalchemy as sa

from earmark.db import fingerprints, links, tables
from earmark.db.engine import Databases, write_transaction
from earmark.db.types import parse_array_send

EDGES = [0, 1, -1, 2**31 - 1, -(2**31), 123456789, -987654321]


def _store(dbs: Databases, items_list: list[list[int]]) -> list[int]:
    with write_transaction(dbs.fingerprint) as conn:
        ids = []
        for items in items_list:
            track_id = conn.execute(
                sa.insert(tables.track).values(gid=uuid.uuid4()).returning(tables.track.c.id)
            ).scalar_one()
            ids.append(
                conn.execute(
                    sa.insert(tables.fingerprint)
                    .values(fingerprint=items, length=100, track_id=track_id, submission_count=1)
                    .returning(tables.fingerprint.c.id)
                ).scalar_one()
            )
    return ids


def test_every_read_path_returns_the_stored_items(dbs: Databases) -> None:
    rng = np.random.default_rng(3)
    stored = [EDGES, [], rng.integers(-(2**31), 2**31, 950).tolist()]
    ids = _store(dbs, stored)
    with dbs.fingerprint.connect() as conn:
        found = {f.id: f.items for f in fingerprints.get_many(conn, ids)}
        for fingerprint_id, items in zip(ids, stored, strict=True):
            got = found[fingerprint_id]
            assert got.dtype == np.int32
            assert got.tolist() == items


def _array_send(values: list[int]) -> bytes:
    """PostgreSQL's binary form of a one-dimensional int4 array (lower bound 1)."""
    head = struct.pack(">iiIii", 1, 0, 23, len(values), 1)
    return head + b"".join(struct.pack(">ii", 4, v) for v in values)


def test_the_binary_form_is_parsed() -> None:
    assert parse_array_send(_array_send(EDGES)).tolist() == EDGES
    assert parse_array_send(struct.pack(">iiI", 0, 0, 23)).tolist() == []


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x00\x00\x00\x01",
        _array_send([1, 2])[:-1],  # cut inside the last element
        _array_send([1, 2]) + b"\x00",  # trailing byte
        struct.pack(">iiIii", 2, 0, 23, 1, 1) + struct.pack(">ii", 4, 7),  # two dimensions
        struct.pack(">iiIii", 1, 1, 23, 1, 1) + struct.pack(">i", -1),  # a NULL element
        struct.pack(">iiIii", 1, 0, 20, 1, 1) + struct.pack(">iq", 8, 7),  # int8 elements
        struct.pack(">iiIii", 1, 0, 23, -5, 1),  # a negative length
        struct.pack(">iiIii", 1, 0, 23, 2**30, 1),  # a length the data cannot hold
    ],
)
def test_a_malformed_binary_form_is_refused(data: bytes) -> None:
    with pytest.raises(ValueError, match="int4 array"):
        parse_array_send(data)


def test_links_read_with_the_fingerprints_are_the_enabled_links(dbs: Databases) -> None:
    ids = _store(dbs, [[1, 2, 3], [4, 5, 6], [7, 8, 9]])
    mbids = sorted(uuid.uuid4() for _ in range(4))
    with write_transaction(dbs.fingerprint) as conn:
        track_ids = [f.track_id for f in fingerprints.get_many(conn, ids)]
        # Added out of order, several submissions on one, one disabled, none on the last track.
        for mbid in (mbids[2], mbids[0], mbids[3], mbids[0]):
            links.add_mbid(conn, track_ids[0], mbid)
        disabled = links.add_mbid(conn, track_ids[0], mbids[1])
        links.set_mbid_disabled(conn, disabled, True)
        links.add_mbid(conn, track_ids[1], mbids[1])
    with dbs.fingerprint.connect() as conn:
        found = fingerprints.get_many(conn, ids, with_links=True)
        expected = links.mbids_for_tracks(conn, track_ids)
        assert [f.links for f in found] == [expected[t] for t in track_ids]
        assert [link.mbid for link in expected[track_ids[0]]] == [mbids[0], mbids[2], mbids[3]]
        assert found[2].links == []
        assert all(f.links is None for f in fingerprints.get_many(conn, ids))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, []),
        ("[]", []),
        (
            '[[5, "00000000000000000000000000000002", 1], '
            '[4, "00000000-0000-0000-0000-000000000001", 3]]',
            [(4, 1, 3), (5, 2, 1)],
        ),
        ([[9, "00000000-0000-0000-0000-000000000003", 2]], [(9, 3, 2)]),
    ],
)
def test_links_are_parsed_from_either_engine(
    value: object, expected: list[tuple[int, int, int]]
) -> None:
    parsed = links.parse_mbid_links(value, 77)
    assert [(link.id, link.mbid.int, link.submission_count) for link in parsed] == expected
    assert all(link.track_id == 77 and not link.disabled for link in parsed)
