"""User metadata: normalisation (reference §4.2), gids (§9.3.8) and ``meta`` rows."""

from __future__ import annotations

import uuid

import pytest

from earmark.db import meta
from earmark.db.engine import Databases


@pytest.mark.parametrize(
    ("values", "gid"),
    [
        ({}, "781f130c-a3b4-5090-a87a-816c30bed2a5"),
        ({"track": "foo"}, "454238f5-bceb-53c9-8a2c-029e79b86e26"),
        ({"track": "Foo"}, "da570fc1-ecfd-5fcd-86d7-009daa0f79e5"),
        ({"track": "foo", "year": 1}, "9acff514-86bf-5fcd-9253-03b8e91bc9ae"),
    ],
)
def test_reference_gid_vectors(values: meta.MetaDict, gid: str) -> None:
    assert meta.gid_of(values) == uuid.UUID(gid)


def test_gid_uses_the_field_order_and_keeps_unicode() -> None:
    ordered: meta.MetaDict = {"year": 1, "track": "foo"}
    assert meta.gid_of(ordered) == uuid.UUID("9acff514-86bf-5fcd-9253-03b8e91bc9ae")
    text = '{"track":"Žluťoučký kůň","artist":"Ørjan"}'
    assert meta.gid_of({"artist": "Ørjan", "track": "Žluťoučký kůň"}) == uuid.uuid5(
        meta.META_NAMESPACE, text
    )


def test_normalize() -> None:
    raw = {
        "track": "  Foo \t\n Bar\x00\x00baz ",
        "artist": "",
        "album": None,
        "album_artist": "   ",
        "track_no": 10001,
        "disc_no": 10000,
        "year": 0,
        "unknown": "dropped",
    }
    assert meta.normalize(raw) == {"track": "Foo Bar baz", "disc_no": 10000}
    assert meta.normalize(None) == {}
    with pytest.raises(TypeError):
        meta.normalize({"year": "1999"})


def test_find_or_insert_by_gid(dbs: Databases) -> None:
    values: meta.MetaDict = {"track": "Foo", "artist": "Bar", "track_no": 3, "year": 2020}
    with dbs.write() as conns:
        first_id, gid = meta.find_or_insert(conns.fingerprint, values)
        again_id, again_gid = meta.find_or_insert(conns.fingerprint, {**values, "track": " Foo "})
        other_id, _ = meta.find_or_insert(conns.fingerprint, {"track": "foo"})
    assert (again_id, again_gid) == (first_id, gid)
    assert gid == meta.gid_of(values)
    assert other_id != first_id
    with dbs.read() as conns:
        [row] = meta.get_many(conns.fingerprint, [first_id])
    assert (row.track, row.artist, row.album, row.track_no, row.disc_no, row.year) == (
        "Foo",
        "Bar",
        None,
        3,
        None,
        2020,
    )
    assert row.gid == gid
