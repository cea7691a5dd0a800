"""Tracks, fingerprints, links and foreign ids (fingerprint database) on both engines."""

from __future__ import annotations

import uuid

import numpy as np
import pytest
import sqlalchemy as sa

from earmark.db import fingerprints, foreignids, links, meta, tracks
from earmark.db.engine import Databases
from earmark.db.tables import track as track_table

ITEMS = np.arange(200, dtype=np.uint32) * 7919 + 0x9000_0000


def test_track_insert_and_resolve(dbs: Databases) -> None:
    with dbs.write() as conns:
        a = tracks.insert(conns.fingerprint)
        b = tracks.insert(conns.fingerprint)
        conns.fingerprint.execute(
            sa.update(track_table).where(track_table.c.id == a.id).values(new_id=b.id)
        )
    assert a.gid.version == 4
    assert a.gid != b.gid
    with dbs.read() as conns:
        assert tracks.get(conns.fingerprint, b.id) == b
        assert tracks.get_by_gid(conns.fingerprint, b.gid) == b
        assert tracks.get(conns.fingerprint, a.id) == tracks.Track(b.id, b.gid, merged=True)
        assert tracks.get_by_gid(conns.fingerprint, a.gid) == tracks.Track(b.id, b.gid, True)
        assert tracks.get_by_gid(conns.fingerprint, uuid.uuid4()) is None
        assert tracks.count(conns.fingerprint) == 2


def test_fingerprint_insert_increment_and_track_listing(dbs: Databases) -> None:
    with dbs.write() as conns:
        t = tracks.insert(conns.fingerprint)
        first = fingerprints.insert(
            conns.fingerprint, items=ITEMS, length=120, bitrate=0, format_id=None, track_id=t.id
        )
        second = fingerprints.insert(
            conns.fingerprint, items=ITEMS[:100], length=60, bitrate=320, format_id=3, track_id=t.id
        )
        fingerprints.increment_submission_count(conns.fingerprint, first)
    with dbs.read() as conns:
        listed = tracks.fingerprints(conns.fingerprint, t.id)
        assert fingerprints.submission_count(conns.fingerprint, first) == 2
        assert fingerprints.submission_count(conns.fingerprint, second) == 1
        assert fingerprints.submission_count(conns.fingerprint, second + 1) is None
        # Every new fingerprint waits in the outbox for the index.
        assert [i for i, _ in fingerprints.outbox_batch(conns.fingerprint, 10)] == [first, second]
    assert [(f.id, f.length) for f in listed] == [(first, 120), (second, 60)]
    assert np.array_equal(listed[0].items.view(np.uint32), ITEMS)


def test_import_record(dbs: Databases) -> None:
    with dbs.write() as conns:
        t = tracks.insert(conns.fingerprint)
        fp_id = fingerprints.insert(
            conns.fingerprint, items=ITEMS, length=120, bitrate=None, format_id=None, track_id=t.id
        )
        record = fingerprints.ImportRecord(77, fp_id, t.id, None, True)
        fingerprints.record_import(conns.fingerprint, record)
    with dbs.read() as conns:
        assert fingerprints.get_import(conns.fingerprint, 77) == record
        assert fingerprints.get_import(conns.fingerprint, 78) is None


def test_links_increment(dbs: Databases) -> None:
    mbid, puid = uuid.uuid4(), uuid.uuid4()
    with dbs.write() as conns:
        c = conns.fingerprint
        t = tracks.insert(c)
        meta_id, _ = meta.find_or_insert(c, {"track": "x"})
        fid = foreignids.find_or_insert(c, foreignids.parse("isrc:USRC17607839"))
        first = {
            "mbid": links.add_mbid(c, t.id, mbid),
            "puid": links.add_puid(c, t.id, puid),
            "meta": links.add_meta(c, t.id, meta_id),
            "foreignid": links.add_foreignid(c, t.id, fid),
        }
        again = {
            "mbid": links.add_mbid(c, t.id, mbid),
            "puid": links.add_puid(c, t.id, puid),
            "meta": links.add_meta(c, t.id, meta_id),
            "foreignid": links.add_foreignid(c, t.id, fid),
        }
    assert again == first
    with dbs.read() as conns:
        c = conns.fingerprint
        for kind, value in (("mbid", mbid), ("puid", puid), ("meta", meta_id), ("foreignid", fid)):
            found = links.find(c, kind, t.id, value)  # type: ignore[arg-type]
            assert found is not None
            assert (found.id, found.submission_count) == (first[kind], 2)
        assert links.find(c, "mbid", t.id, uuid.uuid4()) is None


def test_mbids_for_tracks_ordered_by_text_without_disabled(dbs: Databases) -> None:
    low = uuid.UUID("0a000000-0000-4000-8000-000000000000")
    high = uuid.UUID("f0000000-0000-4000-8000-000000000000")
    middle = uuid.UUID("5b000000-0000-4000-8000-000000000000")
    with dbs.write() as conns:
        c = conns.fingerprint
        t = tracks.insert(c)
        other = tracks.insert(c)
        for mbid in (high, low, middle):
            links.add_mbid(c, t.id, mbid)
        disabled = links.add_mbid(c, t.id, uuid.UUID("33000000-0000-4000-8000-000000000000"))
        assert links.set_mbid_disabled(c, disabled, True)
        assert not links.set_mbid_disabled(c, disabled + 100, True)
    with dbs.read() as conns:
        found = links.mbids_for_tracks(conns.fingerprint, [t.id, other.id])
        everything = links.mbids_for_tracks(conns.fingerprint, [t.id], include_disabled=True)
    assert [link.mbid for link in found[t.id]] == [low, middle, high]
    assert found[other.id] == []
    assert len(everything[t.id]) == 4
    assert [link.disabled for link in everything[t.id]] == [False, True, False, False]


def test_user_meta_most_submitted_first(dbs: Databases) -> None:
    with dbs.write() as conns:
        c = conns.fingerprint
        t = tracks.insert(c)
        rare, _ = meta.find_or_insert(c, {"track": "rare"})
        common, _ = meta.find_or_insert(c, {"track": "common", "artist": "A"})
        links.add_meta(c, t.id, rare)
        for _ in range(3):
            links.add_meta(c, t.id, common)
    with dbs.read() as conns:
        found = links.meta_for_tracks(conns.fingerprint, [t.id])[t.id]
        limited = links.meta_for_tracks(conns.fingerprint, [t.id], limit_per_track=1)[t.id]
    assert [(m.meta.track, m.submission_count) for m in found] == [("common", 3), ("rare", 1)]
    assert [m.meta.id for m in limited] == [common]


@pytest.mark.parametrize(
    ("text", "vendor", "name"),
    [
        ("spotify:4uLU6hMCjMI75M1A2tKUQC", "spotify", "4uLU6hMCjMI75M1A2tKUQC"),
        ("isrc:US-RC1:76 07839", "isrc", "US-RC1:76 07839"),
        ("x1:y", "x1", "y"),
    ],
)
def test_parse_foreign_ids(text: str, vendor: str, name: str) -> None:
    parsed = foreignids.parse(text)
    assert (parsed.vendor, parsed.name, str(parsed)) == (vendor, name, text)
    assert foreignids.is_valid(text)


@pytest.mark.parametrize("text", ["", "spotify", "spotify:", "Spotify:x", ":x", "a b:c", "a:b\n"])
def test_invalid_foreign_ids(text: str) -> None:
    assert not foreignids.is_valid(text)
    with pytest.raises(ValueError, match="foreign id"):
        foreignids.parse(text)


def test_foreign_id_rows(dbs: Databases) -> None:
    with dbs.write() as conns:
        a = foreignids.find_or_insert(conns.fingerprint, foreignids.parse("spotify:a"))
        b = foreignids.find_or_insert(conns.fingerprint, foreignids.parse("spotify:b"))
        c = foreignids.find_or_insert(conns.fingerprint, foreignids.parse("deezer:a"))
        assert foreignids.find_or_insert(conns.fingerprint, foreignids.parse("spotify:a")) == a
    assert len({a, b, c}) == 3
    with dbs.read() as conns:
        assert foreignids.find(conns.fingerprint, foreignids.parse("deezer:a")) == c
        assert foreignids.find(conns.fingerprint, foreignids.parse("deezer:b")) is None


def test_links_add_many_counts_existing_and_new_links_and_keeps_disabled(dbs: Databases) -> None:
    """The batched form the import group uses: existing links gain their count, new ones start
    at it, a disabled MBID link stays disabled, and the ids are those of the rows."""
    kept, new, disabled = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    with dbs.write() as conns:
        c = conns.fingerprint
        t, u = tracks.insert(c), tracks.insert(c)
        kept_id = links.add_mbid(c, t.id, kept)
        disabled_id = links.add_mbid(c, u.id, disabled)
        assert links.set_mbid_disabled(c, disabled_id, True)
        ids = links.add_many(c, "mbid", {(t.id, kept): 2, (t.id, new): 3, (u.id, disabled): 1})
        metas = meta.find_or_insert_many(c, [{"track": "a"}, {"track": "b"}, {"track": "a"}])
        again = meta.find_or_insert_many(c, [{"track": "b"}])
    assert ids[(t.id, kept)] == kept_id
    assert ids[(u.id, disabled)] == disabled_id
    assert len(metas) == 2
    assert again == {meta.gid_of({"track": "b"}): metas[meta.gid_of({"track": "b"})]}
    with dbs.read() as conns:
        c = conns.fingerprint
        found = links.find(c, "mbid", t.id, kept)
        assert found is not None
        assert found.submission_count == 3
        created = links.find(c, "mbid", t.id, new)
        assert created is not None
        assert (created.id, created.submission_count) == (ids[(t.id, new)], 3)
        link = links.mbid_link(c, u.id, disabled)
        assert link is not None
        assert (link.disabled, link.submission_count) == (True, 2)
