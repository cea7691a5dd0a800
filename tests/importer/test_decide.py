"""The import decision procedure (reference §9.3, test_data_submission.py) on both engines."""

from __future__ import annotations

import uuid
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa

from earmark.chromaprint.identifiable import FINGERPRINT_MIN_UNIQUE_ITEMS, TOO_FEW_ITEMS
from earmark.db import fingerprints, foreignids, links, sources, submissions, tracks
from earmark.db.tables import fingerprint as fingerprint_table
from earmark.db.tables import track as track_table
from earmark.importer.decide import SKIP_NO_LINK
from tests.clipindex.conftest import load_clip_tracks
from tests.db import queries
from tests.importer.harness import Harness, corpus_items, fixture_items

MBID = uuid.UUID("b81f83ee-4da4-11e0-9ed8-0025225356f3")
MBID2 = uuid.UUID("6d1e2d2f-5f3b-4b65-8bba-4e6d8d0c8a6b")
PUID = uuid.UUID("40a8d26e-0a1b-4b4b-9c2f-6d1a8b4f3a11")
NIL = uuid.UUID(int=0)


@pytest.fixture
def fp(acoustid_fixtures: Any) -> dict[str, tuple[Any, int]]:
    return {name: fixture_items(acoustid_fixtures, name) for name in ("1A", "1B", "1C", "1D", "2")}


def _track_fps(h: Harness, track_id: int) -> list[int]:
    with h.dbs.read() as conns:
        return tracks.fingerprint_ids(conns.fingerprint, track_id)


def _count(h: Harness, fingerprint_id: int) -> int | None:
    with h.dbs.read() as conns:
        return fingerprints.submission_count(conns.fingerprint, fingerprint_id)


def _counts(h: Harness) -> tuple[int, int]:
    """(tracks, fingerprints) in the database."""
    with h.dbs.read() as conns:
        return tracks.count(conns.fingerprint), fingerprints.count(conns.fingerprint)


def test_first_submission_creates_track_and_fingerprint(harness: Harness, fp: Any) -> None:
    items, length = fp["1A"]
    sub_id = harness.submit(items, length, mbid=MBID, bitrate=192, format="FLAC")
    outcome = harness.run(sub_id)
    assert outcome.status == "imported"
    assert outcome.final
    assert outcome.new_track
    assert outcome.new_fingerprint
    assert outcome.fingerprint_id is not None
    assert outcome.track_id is not None
    assert _counts(harness) == (1, 1)
    assert _count(harness, outcome.fingerprint_id) == 1
    sub = harness.submission(sub_id)
    assert (sub.status, sub.handled, sub.reason) == ("imported", True, None)
    assert sub.handled_at is not None
    with harness.dbs.read() as conns:
        stored = fingerprints.get(conns.fingerprint, outcome.fingerprint_id)
        assert stored is not None
        assert stored.track_id == outcome.track_id
        assert stored.length == length
        assert np.array_equal(stored.items.view(np.uint32), items)
        assert submissions.pending_count(conns.ingest) == 0
        assert queries.fingerprint_source_ids(conns.ingest, sub_id) == [outcome.fingerprint_id]
        result = submissions.get_result(conns.ingest, sub_id)
        assert result is not None
        assert (result.fingerprint_id, result.track_id, result.mbid) == (
            outcome.fingerprint_id,
            outcome.track_id,
            MBID,
        )
        assert fingerprints.outbox_size(conns.fingerprint) == 0  # flushed after the commit
        # Source and format were found or inserted in the app database.
        source_id = sources.find_or_insert(
            conns.app,
            application_id=harness.application_id,
            account_id=harness.account_id,
            version="1.0",
        )
        assert sources.get(conns.app, source_id) is not None
        format_id = conns.fingerprint.execute(
            sa.select(fingerprint_table.c.format_id).where(
                fingerprint_table.c.id == outcome.fingerprint_id
            )
        ).scalar_one()
        assert queries.format_name(conns.app, format_id) == "FLAC"


def test_identical_fingerprint_is_reused(harness: Harness, fp: Any) -> None:
    items, length = fp["1A"]
    first = harness.submit_and_run(items, length, mbid=MBID)
    second = harness.submit_and_run(items, length, mbid=MBID)
    assert second.status == "imported"
    assert not second.new_fingerprint
    assert not second.new_track
    assert (second.fingerprint_id, second.track_id) == (first.fingerprint_id, first.track_id)
    assert first.fingerprint_id is not None
    assert _count(harness, first.fingerprint_id) == 2
    assert _counts(harness) == (1, 1)


def test_similar_fingerprint_above_0_9_is_reused(harness: Harness, fp: Any) -> None:
    # TEST_1A vs TEST_1B scores 0.929 (> FINGERPRINT_MERGE_THRESHOLD).
    first = harness.submit_and_run(*fp["1A"], mbid=MBID)
    second = harness.submit_and_run(*fp["1B"], mbid=MBID)
    assert second.fingerprint_id == first.fingerprint_id
    assert not second.new_fingerprint
    assert first.fingerprint_id is not None
    assert _count(harness, first.fingerprint_id) == 2
    assert _counts(harness) == (1, 1)


def test_same_track_new_fingerprint_between_0_75_and_0_9(harness: Harness, fp: Any) -> None:
    # TEST_1A vs TEST_1C scores 0.853: the track is joined with a fingerprint of its own.
    first = harness.submit_and_run(*fp["1A"], mbid=MBID)
    second = harness.submit_and_run(*fp["1C"], mbid=MBID)
    assert second.status == "imported"
    assert second.track_id == first.track_id
    assert not second.new_track
    assert second.new_fingerprint
    assert second.fingerprint_id != first.fingerprint_id
    assert first.track_id is not None
    assert _track_fps(harness, first.track_id) == [first.fingerprint_id, second.fingerprint_id]
    assert second.fingerprint_id is not None
    assert _count(harness, second.fingerprint_id) == 1


@pytest.mark.parametrize("other", ["1D", "2"])
def test_different_fingerprint_gets_a_new_track(harness: Harness, fp: Any, other: str) -> None:
    # 1A vs 1D scores 0.662 (< TRACK_MERGE_THRESHOLD), 1A vs 2 scores 0.
    first = harness.submit_and_run(*fp["1A"], mbid=MBID)
    second = harness.submit_and_run(*fp[other], mbid=MBID)
    assert second.new_track
    assert second.new_fingerprint
    assert second.track_id != first.track_id
    assert _counts(harness) == (2, 2)


def test_real_fingerprints(harness: Harness, dev_corpus_vectors: Any) -> None:
    night = corpus_items(dev_corpus_vectors, "supertux/antarctic/voc-night#120")
    night_mp3 = corpus_items(dev_corpus_vectors, "supertux/antarctic/voc-night#whole-mp3+noise+vol")
    breeze = corpus_items(dev_corpus_vectors, "supertux/antarctic/arctic_breeze#120")
    first = harness.submit_and_run(night, 120, mbid=MBID)
    again = harness.submit_and_run(night_mp3, 121, mbid=MBID)  # scores 0.984
    other = harness.submit_and_run(breeze, 120, mbid=MBID2)
    assert again.fingerprint_id == first.fingerprint_id
    assert not again.new_fingerprint
    assert other.new_track
    assert other.track_id != first.track_id
    assert _counts(harness) == (2, 2)


def _add_to_track(h: Harness, track_id: int, items: Any, length: int) -> int:
    """A fingerprint put into a track directly (as a merge or older rules might have)."""
    with h.dbs.write() as conns:
        fp_id = fingerprints.insert(
            conns.fingerprint,
            items=items,
            length=length,
            bitrate=None,
            format_id=None,
            track_id=track_id,
        )
    h.flush()
    return fp_id


def test_track_with_a_dissimilar_fingerprint_is_not_eligible(harness: Harness, fp: Any) -> None:
    first = harness.submit_and_run(*fp["1A"], mbid=MBID)
    assert first.track_id is not None
    # TEST_2 scores 0 against TEST_1B (< TRACK_GROUP_MERGE_THRESHOLD), same length.
    _add_to_track(harness, first.track_id, fp["2"][0], fp["1A"][1])
    second = harness.submit_and_run(*fp["1B"], mbid=MBID)
    assert second.new_track
    assert second.new_fingerprint
    # The walk goes on to the next track: 1C scores 0.853 against 1A (ineligible track) and
    # 0.842 against 1B, whose track is eligible, so 1C joins it with a new fingerprint.
    third = harness.submit_and_run(*fp["1C"], mbid=MBID)
    assert third.track_id == second.track_id
    assert third.new_fingerprint


def test_two_eligible_tracks_are_not_merged(harness: Harness, fp: Any) -> None:
    # The reference's merge of eligible tracks is disabled: the best one is joined, and the
    # other keeps its fingerprint. 1C scores 0.853 against 1A and 0.842 against 1B.
    with harness.dbs.write() as conns:
        track_a = tracks.insert(conns.fingerprint)
        track_b = tracks.insert(conns.fingerprint)
    fp_a = _add_to_track(harness, track_a.id, *fp["1A"])
    fp_b = _add_to_track(harness, track_b.id, *fp["1B"])
    outcome = harness.submit_and_run(*fp["1C"], mbid=MBID)
    assert outcome.track_id == track_a.id
    assert outcome.new_fingerprint
    assert _track_fps(harness, track_a.id) == [fp_a, outcome.fingerprint_id]
    assert _track_fps(harness, track_b.id) == [fp_b]
    with harness.dbs.read() as conns:
        assert tracks.get(conns.fingerprint, track_b.id) == track_b


@pytest.mark.parametrize(("stored_length", "joins"), [(268, False), (267, True)])
def test_track_with_a_fingerprint_too_far_in_length(
    harness: Harness, fp: Any, stored_length: int, joins: bool
) -> None:
    items_a, length = fp["1A"]
    first = harness.submit_and_run(items_a, length, mbid=MBID)
    assert first.track_id is not None
    _add_to_track(harness, first.track_id, fp["1C"][0], stored_length)
    second = harness.submit_and_run(*fp["1B"], mbid=MBID)
    if joins:
        assert second.fingerprint_id == first.fingerprint_id
    else:
        assert second.new_track
        assert second.track_id != first.track_id


def test_unflushed_fingerprint_is_found_through_the_outbox(harness: Harness, fp: Any) -> None:
    first = harness.run(harness.submit(*fp["1A"], mbid=MBID), flush=False)
    with harness.dbs.read() as conns:
        assert fingerprints.outbox_size(conns.fingerprint) == 1
    second = harness.run(harness.submit(*fp["1B"], mbid=MBID), flush=False)
    third = harness.run(harness.submit(*fp["1C"], mbid=MBID), flush=False)
    assert second.fingerprint_id == first.fingerprint_id
    assert third.track_id == first.track_id
    assert third.new_fingerprint
    assert harness.flush() == 2
    fourth = harness.submit_and_run(*fp["1C"], mbid=MBID)
    assert fourth.fingerprint_id == third.fingerprint_id


def test_links_count_submissions_and_keep_provenance(harness: Harness, fp: Any) -> None:
    meta = {"track": "Foo", "artist": "Bar", "year": 2001}
    common: dict[str, Any] = {
        "mbid": MBID,
        "puid": PUID,
        "meta": meta,
        "foreignid": "spotify:abc def",
    }
    ids = [harness.submit(*fp["1A"], **common) for _ in range(2)]
    outcomes = [harness.run(i) for i in ids]
    track_id = outcomes[0].track_id
    assert track_id is not None
    assert outcomes[1].track_id == track_id
    with harness.dbs.read() as conns:
        fconn, iconn = conns.fingerprint, conns.ingest
        mbid_link = links.find(fconn, "mbid", track_id, MBID)
        puid_link = links.find(fconn, "puid", track_id, PUID)
        result = submissions.get_result(iconn, ids[1])
        assert result is not None
        assert result.meta_id is not None
        meta_link = links.find(fconn, "meta", track_id, result.meta_id)
        user_meta = links.meta_for_tracks(fconn, [track_id])[track_id]
        assert mbid_link
        assert puid_link
        assert meta_link
        for kind, link in (("mbid", mbid_link), ("puid", puid_link), ("meta", meta_link)):
            assert link.submission_count == 2
            assert queries.link_source_count(iconn, kind, link.id) == 2  # type: ignore[arg-type]
        [entry] = user_meta
        assert (entry.meta.track, entry.meta.artist, entry.meta.year) == ("Foo", "Bar", 2001)
        assert entry.meta.gid == result.meta_gid == harness.submission(ids[0]).meta_gid
        assert entry.submission_count == 2
        assert (result.mbid, result.puid, result.foreignid) == (MBID, PUID, "spotify:abc def")


def test_disabled_mbid_link_stays_disabled(harness: Harness, fp: Any) -> None:
    first = harness.submit_and_run(*fp["1A"], mbid=MBID)
    assert first.track_id is not None
    with harness.dbs.write() as conns:
        link = links.mbid_link(conns.fingerprint, first.track_id, MBID)
        assert link is not None
        assert links.set_mbid_disabled(conns.fingerprint, link.id, True)
    harness.submit_and_run(*fp["1A"], mbid=MBID)
    with harness.dbs.read() as conns:
        after = links.mbid_link(conns.fingerprint, first.track_id, MBID)
        assert after is not None
        assert after.id == link.id
        assert (after.disabled, after.submission_count) == (True, 2)
        assert links.mbids_for_tracks(conns.fingerprint, [first.track_id]) == {first.track_id: []}


def test_foreign_id_only_submission_is_kept(harness: Harness, fp: Any) -> None:
    outcome = harness.submit_and_run(*fp["1A"], foreignid="spotify:4uLU6hMCjMI75M1A2tKUQC")
    assert outcome.status == "imported"
    assert outcome.track_id is not None
    with harness.dbs.read() as conns:
        fid = foreignids.find(conns.fingerprint, foreignids.parse("spotify:4uLU6hMCjMI75M1A2tKUQC"))
        assert fid is not None
        link = links.find(conns.fingerprint, "foreignid", outcome.track_id, fid)
        assert link is not None
        assert link.submission_count == 1
        assert queries.link_source_count(conns.ingest, "foreignid", link.id) == 1


def test_nil_uuids_are_absent(harness: Harness, fp: Any) -> None:
    sub_id = harness.submit(*fp["1A"], mbid=NIL, puid=NIL)
    outcome = harness.run(sub_id)
    assert (outcome.status, outcome.reason) == ("skipped", SKIP_NO_LINK)


def test_nil_mbid_with_meta_links_only_the_meta(harness: Harness, fp: Any) -> None:
    outcome = harness.submit_and_run(*fp["1A"], mbid=NIL, meta={"track": "x"})
    assert outcome.status == "imported"
    assert outcome.track_id is not None
    with harness.dbs.read() as conns:
        assert links.find(conns.fingerprint, "mbid", outcome.track_id, NIL) is None
        result = submissions.get_result(conns.ingest, outcome.submission_id)
        assert result is not None
        assert result.mbid is None
        assert result.meta_id is not None


@pytest.mark.parametrize("case", ["no link data", "few items", "few unique items"])
def test_skipped_submissions(harness: Harness, fp: Any, case: str) -> None:
    items, length = fp["1A"]
    kwargs: dict[str, Any] = {"mbid": MBID}
    reason = TOO_FEW_ITEMS
    if case == "no link data":
        kwargs = {"meta": {"track": " \x00 "}}
        reason = SKIP_NO_LINK
    elif case == "few items":
        items = items[: FINGERPRINT_MIN_UNIQUE_ITEMS - 1]
    else:
        unique = np.unique(items)[: FINGERPRINT_MIN_UNIQUE_ITEMS - 1]
        items = np.resize(unique, 500)
    sub_id = harness.submit(items, length, **kwargs)
    outcome = harness.run(sub_id)
    assert (outcome.status, outcome.reason, outcome.final) == ("skipped", reason, True)
    sub = harness.submission(sub_id)
    assert (sub.status, sub.reason, sub.handled) == ("skipped", reason, True)
    assert sub.handled_at is not None
    assert _counts(harness) == (0, 0)
    with harness.dbs.read() as conns:
        assert submissions.get_result(conns.ingest, sub_id) is None
        assert submissions.pending_count(conns.ingest) == 0
        status = submissions.status_many(conns.ingest, [sub_id])[sub_id]
        assert (status.status, status.reason, status.track_gid) == ("skipped", reason, None)
    assert harness.run(sub_id).status == "already"


def test_exactly_80_unique_items_is_enough(harness: Harness, fp: Any) -> None:
    items = fp["1A"][0]
    unique = items[np.sort(np.unique(items, return_index=True)[1])][:FINGERPRINT_MIN_UNIQUE_ITEMS]
    outcome = harness.submit_and_run(unique, 20, mbid=MBID)
    assert outcome.status == "imported"


def test_redelivery_is_already_and_counts_nothing_twice(harness: Harness, fp: Any) -> None:
    sub_id = harness.submit(*fp["1A"], mbid=MBID, meta={"track": "t"})
    first = harness.run(sub_id)
    again = harness.run(sub_id)
    assert again.status == "already"
    assert again.final
    assert (again.fingerprint_id, again.track_id) == (first.fingerprint_id, first.track_id)
    assert first.fingerprint_id is not None
    assert first.track_id is not None
    assert _count(harness, first.fingerprint_id) == 1
    with harness.dbs.read() as conns:
        link = links.find(conns.fingerprint, "mbid", first.track_id, MBID)
        assert link is not None
        assert link.submission_count == 1
        assert queries.fingerprint_source_ids(conns.ingest, sub_id) == [first.fingerprint_id]
        assert queries.link_source_count(conns.ingest, "mbid", link.id) == 1


def test_unknown_submission_is_missing(harness: Harness) -> None:
    outcome = harness.run(424242)
    assert (outcome.status, outcome.final) == ("missing", True)


def test_status_many_reports_the_current_track(harness: Harness, fp: Any) -> None:
    imported = harness.submit(*fp["1A"], mbid=MBID)
    pending = harness.submit(*fp["2"], mbid=MBID)
    outcome = harness.run(imported)
    with harness.dbs.read() as conns:
        found = submissions.status_many(conns.ingest, [imported, pending, 999999])
        track = tracks.get(conns.fingerprint, outcome.track_id or 0)
    assert set(found) == {imported, pending}
    assert found[pending].status == "pending"
    assert found[pending].track_gid is None
    assert track is not None
    assert found[imported].status == "imported"
    assert (found[imported].fingerprint_id, found[imported].track_gid) == (
        outcome.fingerprint_id,
        track.gid,
    )
    # Merging the track into another one changes the answer to the survivor's gid.
    with harness.dbs.write() as conns:
        survivor = tracks.insert(conns.fingerprint)
        conns.fingerprint.execute(
            track_table.update().where(track_table.c.id == track.id).values(new_id=survivor.id)
        )
    with harness.dbs.read() as conns:
        after = submissions.status_many(conns.ingest, [imported])[imported]
        resolved = tracks.get_by_gid(conns.fingerprint, track.gid)
    assert after.track_gid == survivor.gid
    assert resolved is not None
    assert (resolved.id, resolved.merged) == (survivor.id, True)


def test_list_by_mbid(harness: Harness, fp: Any) -> None:
    a = harness.submit_and_run(*fp["1A"], mbid=MBID)
    b = harness.submit_and_run(*fp["2"], mbid=MBID)
    harness.submit_and_run(*fp["2"], mbid=MBID2)
    assert a.track_id is not None
    assert b.track_id is not None
    with harness.dbs.write() as conns:
        link = links.mbid_link(conns.fingerprint, b.track_id, MBID)
        assert link is not None
        links.set_mbid_disabled(conns.fingerprint, link.id, True)
    unknown = uuid.uuid4()
    with harness.dbs.read() as conns:
        visible = tracks.list_by_mbid(conns.fingerprint, [MBID, unknown], False)
        everything = tracks.list_by_mbid(conns.fingerprint, [MBID, MBID2], True)
        gid_a = tracks.get(conns.fingerprint, a.track_id)
        gid_b = tracks.get(conns.fingerprint, b.track_id)
    assert gid_a is not None
    assert gid_b is not None
    assert [(t.gid, t.disabled) for t in visible[MBID]] == [(gid_a.gid, False)]
    assert visible[unknown] == []
    assert [(t.gid, t.disabled) for t in everything[MBID]] == [
        (gid_a.gid, False),
        (gid_b.gid, True),
    ]
    assert [t.gid for t in everything[MBID2]] == [gid_b.gid]


def test_a_whole_file_fingerprint_is_kept_beside_the_shorter_one_it_matches(
    harness: Harness,
) -> None:
    """The clip index needs whole tracks: a submission covering much more of the track than
    the fingerprint it matches (fpcalc -length 0 after the default 120 s) is stored as a new
    fingerprint of the same track; one of about the same length is still counted on the old."""
    whole = load_clip_tracks()[0].items
    first = harness.submit_and_run(whole[:600], 150, mbid=MBID)
    longer = harness.submit_and_run(whole, 150, mbid=MBID)
    again = harness.submit_and_run(whole[:620], 150, mbid=MBID)
    assert longer.status == "imported"
    assert longer.new_fingerprint
    assert longer.track_id == first.track_id
    assert not again.new_fingerprint
    assert first.track_id is not None
    assert len(_track_fps(harness, first.track_id)) == 2
