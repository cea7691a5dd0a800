"""The import decision procedure (reference §9.3); the steps are in docs/importer.md."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from earmark.chromaprint.compare import compare2
from earmark.chromaprint.identifiable import (
    FINGERPRINT_MIN_UNIQUE_ITEMS as FINGERPRINT_MIN_UNIQUE_ITEMS,
)
from earmark.chromaprint.identifiable import (
    unidentifiable_reason,
)
from earmark.db import fingerprints, foreignids, links, submissions, tracks
from earmark.db import meta as meta_data
from earmark.db.engine import Connections
from earmark.db.fingerprints import ImportRecord
from earmark.db.links import LinkKind
from earmark.db.submissions import Submission, usable_uuid
from earmark.db.tracks import TrackFingerprint
from earmark.importer import locks
from earmark.importer.group import ImportGroup, LinkValue
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


def import_submission(conns: Connections, searcher: Searcher, submission_id: int) -> ImportOutcome:
    """Import one submission inside the caller's write transaction (docs/importer.md)."""
    return import_group(conns, searcher, [submission_id])[0]


def import_group(
    conns: Connections,
    searcher: Searcher,
    submission_ids: Sequence[int],
    stop: Callable[[], bool] | None = None,
) -> list[ImportOutcome]:
    """Import several submissions inside the caller's one write transaction, in order; one
    outcome each (docs/importer.md, "Import groups"). A later submission sees what an earlier
    one stored. On any exception nothing of the group may be committed: the caller rolls back.

    When ``stop()`` turns true the group ends early: the outcomes are those of the first
    submissions only, the others were not touched (hand them back).

    Raises :class:`earmark.search.SearchUnavailableError` when the index cannot be searched;
    the caller rolls back and retries later.
    """
    group = ImportGroup(conns)
    subs = submissions.lock_many(conns.ingest, submission_ids)
    outcomes: dict[int, ImportOutcome] = {}
    pending: list[Submission] = []
    for sid in dict.fromkeys(submission_ids):  # a message delivered twice is imported once
        sub = subs.get(sid)
        if sub is None:
            outcomes[sid] = ImportOutcome(sid, "missing")
        elif sub.status != "pending":
            group.remove_pending(sub.id)
            outcomes[sid] = _already(conns, sub)
        else:
            pending.append(sub)

    keys = [_lock_keys(sub) for sub in pending]
    taken = locks.try_lock_many(conns.fingerprint, [k for ks in keys for k in ks])
    free = []
    position = 0
    for sub, sub_keys in zip(pending, keys, strict=True):
        position += len(sub_keys)
        if all(taken[position - len(sub_keys) : position]):
            free.append(sub)
        else:
            log.info("submission %d: another import holds its lock, later", sub.id)
            outcomes[sub.id] = ImportOutcome(sub.id, "busy")

    recorded = fingerprints.get_imports(conns.fingerprint, [sub.id for sub in free])
    for sub in free:
        if stop is not None and stop():
            break
        record = recorded.get(sub.id)
        if record is not None:
            log.info("submission %d: fingerprint side already done, finishing", sub.id)
            outcomes[sub.id] = _finish_recorded(group, sub, record)
        else:
            outcomes[sub.id] = _import_one(group, searcher, sub)
    group.flush()
    seen: set[int] = set()
    result = []
    for sid in submission_ids:
        if sid not in outcomes:
            break  # stopped before this one
        outcome = outcomes[sid]
        if sid in seen and outcome.status in ("imported", "skipped"):
            outcome = ImportOutcome(
                sid, "already", outcome.reason, outcome.fingerprint_id, outcome.track_id
            )
        seen.add(sid)
        result.append(outcome)
    return result


def _lock_keys(sub: Submission) -> list[tuple[int, int]]:
    keys = [locks.fingerprint_key(sub.fingerprint)]
    mbid = usable_uuid(sub.mbid)
    if mbid is not None:
        keys.append(locks.mbid_key(mbid))
    return keys


def _import_one(group: ImportGroup, searcher: Searcher, sub: Submission) -> ImportOutcome:
    conns = group.conns
    reason = _skip_reason(sub)
    if reason is not None:
        group.finish(sub.id, "skipped", reason)
        return ImportOutcome(sub.id, "skipped", reason=reason)

    source_id = group.source_id(sub)
    format_id = group.format_id(sub.format) if sub.format else None

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
        group.count_submission(fingerprint_id)
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

    group.imported(
        sub,
        fingerprint_id=fingerprint_id,
        track_id=track_id,
        new_fingerprint=new_fingerprint,
        source_id=source_id,
        links_to_add=_links_to_add(conns, sub),
    )
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
        stored = tracks.fingerprints(conns.fingerprint, match.track_id)
        if _can_join(stored, sub):
            reuse = match.score > FINGERPRINT_MERGE_THRESHOLD and not _longer(
                sub, stored, match.fingerprint_id
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


def _longer(sub: Submission, stored: list[TrackFingerprint], fingerprint_id: int) -> bool:
    """Whether the submission covers much more of the track than the stored fingerprint (a
    whole-file fingerprint after the usual first 120 s): then both are kept."""
    items = next((fp.items for fp in stored if fp.id == fingerprint_id), None)
    return items is not None and len(sub.fingerprint) > LONGER_FACTOR * len(items)


def _can_join(stored: list[TrackFingerprint], sub: Submission) -> bool:
    """Every fingerprint of the track is close enough in sound and length (can_add_fp_to_track)."""
    for fp in stored:
        if abs(fp.length - sub.length) > FINGERPRINT_MAX_LENGTH_DIFF:
            return False
        if compare2(fp.items, sub.fingerprint, MAX_OFFSET) < TRACK_GROUP_MERGE_THRESHOLD:
            return False
    return True


def _new_track(conns: Connections) -> int:
    return tracks.insert(conns.fingerprint).id


def _links_to_add(conns: Connections, sub: Submission) -> list[LinkValue]:
    """What the track is linked to besides metadata (added by the group once its id is known):
    everything the submission names."""
    mbid, puid = usable_uuid(sub.mbid), usable_uuid(sub.puid)
    foreignid = _foreignid(sub)
    found: list[LinkValue] = []
    if mbid:
        found.append(("mbid", mbid))
    if puid:
        found.append(("puid", puid))
    if foreignid is not None:
        found.append(("foreignid", foreignids.find_or_insert(conns.fingerprint, foreignid)))
    return found


def _recorded_links(
    conns: Connections, sub: Submission, record: ImportRecord
) -> list[tuple[LinkKind, int]]:
    """The links a recorded import wrote, looked up without counting them again."""
    conn, track_id = conns.fingerprint, record.track_id
    mbid, puid = usable_uuid(sub.mbid), usable_uuid(sub.puid)
    foreignid = _foreignid(sub)
    foreignid_id = foreignids.find(conn, foreignid) if foreignid is not None else None
    wanted: list[tuple[LinkKind, object]] = [
        ("mbid", mbid),
        ("puid", puid),
        ("meta", record.meta_id),
        ("foreignid", foreignid_id),
    ]
    found: list[tuple[LinkKind, int]] = []
    for kind, value in wanted:
        link = links.find(conn, kind, track_id, value) if value is not None else None
        if link is not None:
            found.append((kind, link.id))
    return found


def _finish_recorded(group: ImportGroup, sub: Submission, record: ImportRecord) -> ImportOutcome:
    conns = group.conns
    group.finished_recorded(sub, record, _recorded_links(conns, sub, record), group.source_id(sub))
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


def _already(conns: Connections, sub: Submission) -> ImportOutcome:
    result = submissions.get_result(conns.ingest, sub.id)
    return ImportOutcome(
        sub.id,
        "already",
        reason=sub.reason,
        fingerprint_id=result.fingerprint_id if result else None,
        track_id=result.track_id if result else None,
    )
