"""The import decision procedure (reference §9.3); the steps are in docs/importer.md."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from earmark.chromaprint.compare import compare2
from earmark.chromaprint.identifiable import (
    FINGERPRINT_MIN_UNIQUE_ITEMS as FINGERPRINT_MIN_UNIQUE_ITEMS,
)
from earmark.chromaprint.identifiable import (
    unidentifiable_reason,
)
from earmark.db import fingerprints, foreignids, formats, links, sources, submissions, tracks
from earmark.db import meta as meta_data
from earmark.db.engine import Connections
from earmark.db.fingerprints import ImportRecord
from earmark.db.submissions import Submission, usable_uuid
from earmark.importer import locks
from earmark.importer.outcome import ImportOutcome
from earmark.search import MAX_OFFSET, Match, Searcher

log = logging.getLogger(__name__)

#: A match above this reuses the stored fingerprint (FINGERPRINT_MERGE_THRESHOLD).
FINGERPRINT_MERGE_THRESHOLD = 0.9
#: Matches above this are candidates for joining their track (TRACK_MERGE_THRESHOLD).
TRACK_MERGE_THRESHOLD = 0.75
#: Every fingerprint of a track joined must score at least this (TRACK_GROUP_MERGE_THRESHOLD).
TRACK_GROUP_MERGE_THRESHOLD = 0.4
#: ... and be at most this many seconds longer or shorter (FINGERPRINT_MAX_LENGTH_DIFF).
FINGERPRINT_MAX_LENGTH_DIFF = 7

SKIP_NO_LINK = "no usable MBID, PUID, metadata or foreign id"


@dataclass(frozen=True, slots=True)
class _Placement:
    """Where the submission's fingerprint goes."""

    track_id: int | None  # None: a new track
    fingerprint_id: int | None  # None: a new fingerprint


@dataclass(frozen=True, slots=True)
class _Links:
    """The link ids written (or found, when finishing a recorded import) for provenance."""

    mbid: int | None = None
    puid: int | None = None
    meta: int | None = None
    foreignid: int | None = None


def import_submission(conns: Connections, searcher: Searcher, submission_id: int) -> ImportOutcome:
    """Import one submission inside the caller's write transaction (docs/importer.md).

    Raises :class:`earmark.search.SearchUnavailableError` when the index cannot be searched;
    the caller rolls back and retries later.
    """
    sub = submissions.lock(conns.ingest, submission_id)
    if sub is None:
        return ImportOutcome(submission_id, "missing")
    if sub.status != "pending":
        submissions.remove_pending(conns.ingest, [sub.id])
        return _already(conns, sub)

    mbid = usable_uuid(sub.mbid)
    keys = [locks.fingerprint_key(sub.fingerprint)]
    if mbid is not None:
        keys.append(locks.mbid_key(mbid))
    for key in keys:
        if not locks.try_lock(conns.fingerprint, key):
            log.info("submission %d: another import holds lock %s, later", sub.id, key)
            return ImportOutcome(sub.id, "busy")

    recorded = fingerprints.get_import(conns.fingerprint, sub.id)
    if recorded is not None:
        log.info("submission %d: fingerprint side already done, finishing", sub.id)
        return _finish_recorded(conns, sub, recorded)

    reason = _skip_reason(sub)
    if reason is not None:
        submissions.finish(conns.ingest, sub.id, "skipped", reason)
        return ImportOutcome(sub.id, "skipped", reason=reason)

    source_id = sources.find_or_insert(
        conns.app,
        application_id=sub.application_id,
        account_id=sub.account_id,
        version=sub.application_version,
    )
    format_id = formats.find_or_insert(conns.app, sub.format) if sub.format else None

    matches = searcher.search(
        conns.fingerprint,
        sub.fingerprint,
        sub.length,
        mode="slow",
        max_duration_diff=FINGERPRINT_MAX_LENGTH_DIFF,
        min_score=TRACK_MERGE_THRESHOLD,
        limit=None,
    )
    placement = _place(conns, sub, matches)

    new_track = placement.track_id is None
    track_id = placement.track_id if placement.track_id is not None else _new_track(conns)
    if placement.fingerprint_id is not None:
        fingerprint_id = placement.fingerprint_id
        fingerprints.increment_submission_count(conns.fingerprint, fingerprint_id)
    else:
        fingerprint_id = fingerprints.insert(
            conns.fingerprint,
            items=sub.fingerprint,
            length=sub.length,
            bitrate=sub.bitrate,
            format_id=format_id,
            track_id=track_id,
        )
    new_fingerprint = placement.fingerprint_id is None

    meta_id, link_ids = _add_links(conns, sub, track_id)
    record = ImportRecord(sub.id, fingerprint_id, track_id, meta_id, new_fingerprint)
    fingerprints.record_import(conns.fingerprint, record)
    _finish_ingest(conns, sub, record, link_ids, source_id)
    log.info(
        "submission %d imported: fingerprint %d (%s) in track %d (%s)",
        sub.id,
        fingerprint_id,
        "new" if new_fingerprint else "reused",
        track_id,
        "new" if new_track else "existing",
    )
    return ImportOutcome(
        sub.id,
        "imported",
        fingerprint_id=fingerprint_id,
        track_id=track_id,
        new_fingerprint=new_fingerprint,
        new_track=new_track,
    )


def _skip_reason(sub: Submission) -> str | None:
    foreignid = _foreignid(sub)
    if not (
        usable_uuid(sub.mbid)
        or usable_uuid(sub.puid)
        or meta_data.normalize(sub.meta)
        or foreignid is not None
    ):
        return SKIP_NO_LINK
    return unidentifiable_reason(sub.fingerprint)


def _foreignid(sub: Submission) -> foreignids.ForeignId | None:
    """The submission's foreign id; one the API should not have accepted counts as absent."""
    if not sub.foreignid:
        return None
    try:
        return foreignids.parse(sub.foreignid)
    except ValueError:
        log.warning("submission %d: ignoring invalid foreign id %r", sub.id, sub.foreignid)
        return None


def _place(conns: Connections, sub: Submission, matches: list[Match]) -> _Placement:
    """The first eligible track among the matches (best first), and whether to reuse one."""
    seen: set[int] = set()
    for match in matches:
        if match.track_id in seen:
            continue
        seen.add(match.track_id)
        if _can_join(conns, match.track_id, sub):
            reuse = match.score > FINGERPRINT_MERGE_THRESHOLD and not _longer(
                conns, sub, match.fingerprint_id
            )
            log.debug(
                "submission %d: track %d eligible, fingerprint %d scores %.3f",
                sub.id,
                match.track_id,
                match.fingerprint_id,
                match.score,
            )
            return _Placement(match.track_id, match.fingerprint_id if reuse else None)
        log.debug("submission %d: track %d not eligible", sub.id, match.track_id)
    return _Placement(None, None)


#: A submission with this many times the items of the fingerprint it matches is kept as a
#: fingerprint of its own (the clip index needs whole tracks: docs/clip-identification.md).
LONGER_FACTOR = 1.25


def _longer(conns: Connections, sub: Submission, fingerprint_id: int) -> bool:
    """Whether the submission covers much more of the track than the stored fingerprint (a
    whole-file fingerprint after the usual first 120 s): then both are kept."""
    stored = fingerprints.get(conns.fingerprint, fingerprint_id)
    return stored is not None and len(sub.fingerprint) > LONGER_FACTOR * len(stored.items)


def _can_join(conns: Connections, track_id: int, sub: Submission) -> bool:
    """Every fingerprint of the track is close enough in sound and length (can_add_fp_to_track)."""
    for stored in tracks.fingerprints(conns.fingerprint, track_id):
        if abs(stored.length - sub.length) > FINGERPRINT_MAX_LENGTH_DIFF:
            return False
        if compare2(stored.items, sub.fingerprint, MAX_OFFSET) < TRACK_GROUP_MERGE_THRESHOLD:
            return False
    return True


def _new_track(conns: Connections) -> int:
    return tracks.insert(conns.fingerprint).id


def _add_links(conns: Connections, sub: Submission, track_id: int) -> tuple[int | None, _Links]:
    """Link the track to everything the submission names; returns (meta id, link ids)."""
    conn = conns.fingerprint
    mbid, puid = usable_uuid(sub.mbid), usable_uuid(sub.puid)
    meta_values = meta_data.normalize(sub.meta)
    foreignid = _foreignid(sub)
    meta_id = meta_data.find_or_insert(conn, meta_values)[0] if meta_values else None
    return meta_id, _Links(
        mbid=links.add_mbid(conn, track_id, mbid) if mbid else None,
        puid=links.add_puid(conn, track_id, puid) if puid else None,
        meta=links.add_meta(conn, track_id, meta_id) if meta_id is not None else None,
        foreignid=(
            links.add_foreignid(conn, track_id, foreignids.find_or_insert(conn, foreignid))
            if foreignid is not None
            else None
        ),
    )


def _recorded_links(conns: Connections, sub: Submission, record: ImportRecord) -> _Links:
    """The links a recorded import wrote, looked up without counting them again."""
    conn, track_id = conns.fingerprint, record.track_id
    mbid, puid = usable_uuid(sub.mbid), usable_uuid(sub.puid)
    foreignid = _foreignid(sub)
    foreignid_id = foreignids.find(conn, foreignid) if foreignid is not None else None

    def link_id(kind: links.LinkKind, value: object) -> int | None:
        if value is None:
            return None
        found = links.find(conn, kind, track_id, value)
        return None if found is None else found.id

    return _Links(
        mbid=link_id("mbid", mbid),
        puid=link_id("puid", puid),
        meta=link_id("meta", record.meta_id),
        foreignid=link_id("foreignid", foreignid_id),
    )


def _finish_recorded(conns: Connections, sub: Submission, record: ImportRecord) -> ImportOutcome:
    source_id = sources.find_or_insert(
        conns.app,
        application_id=sub.application_id,
        account_id=sub.account_id,
        version=sub.application_version,
    )
    _finish_ingest(conns, sub, record, _recorded_links(conns, sub, record), source_id)
    # The track was new if the recorded fingerprint was new and is the track's first.
    track_fps = tracks.fingerprint_ids(conns.fingerprint, record.track_id)
    new_track = record.new_fingerprint and track_fps[:1] == [record.fingerprint_id]
    return ImportOutcome(
        sub.id,
        "imported",
        fingerprint_id=record.fingerprint_id,
        track_id=record.track_id,
        new_fingerprint=record.new_fingerprint,
        new_track=new_track,
    )


def _finish_ingest(
    conns: Connections, sub: Submission, record: ImportRecord, link_ids: _Links, source_id: int
) -> None:
    """The ingest side of an import: provenance, result, final status, queue row removed."""
    conn = conns.ingest
    submissions.add_fingerprint_source(
        conn, fingerprint_id=record.fingerprint_id, submission_id=sub.id, source_id=source_id
    )
    provenance: tuple[tuple[links.LinkKind, int | None], ...] = (
        ("mbid", link_ids.mbid),
        ("puid", link_ids.puid),
        ("meta", link_ids.meta),
        ("foreignid", link_ids.foreignid),
    )
    for kind, link_id in provenance:
        if link_id is not None:
            submissions.add_link_source(
                conn, kind, link_id=link_id, submission_id=sub.id, source_id=source_id
            )
    submissions.insert_result(
        conn,
        sub,
        fingerprint_id=record.fingerprint_id,
        track_id=record.track_id,
        meta_id=record.meta_id,
    )
    submissions.finish(conn, sub.id, "imported")


def _already(conns: Connections, sub: Submission) -> ImportOutcome:
    result = submissions.get_result(conns.ingest, sub.id)
    return ImportOutcome(
        sub.id,
        "already",
        reason=sub.reason,
        fingerprint_id=result.fingerprint_id if result else None,
        track_id=result.track_id if result else None,
    )
