"""``/v2/submit``, ``/v2/submission_status`` and the legacy XML ``/submit`` (reference §4, §5.8).

A submit stores one ``submission`` row per (fingerprint, MBID) — one row when there is no
MBID — with its ``pending_submission`` row, all in one write transaction committed before the
answer, then announces the ids on the submission queue (docs/queue.md). The importer turns
them into tracks later (docs/importer.md); ``submission_status`` tells how that went.

Compatibility (docs/compatibility.md):

* ``index`` in the submit answer is a *string* ("0"), present only for suffixed input, as the
  reference sends it (§17 quirk 1; clients rely on it).
* A row with no MBID, PUID, metadata *or foreign id* is skipped silently. The reference also
  drops rows that carry only a foreign id (§17 quirk 4); Earmark stores and imports them.
* ``wait`` (ignored by the reference) waits up to ``min(wait, 10)`` seconds for the importer
  and answers each submission's current status, in the ``submission_status`` shape.
* ``submission_status`` answers the final states ``skipped`` and ``failed`` with a
  ``reason``, and ``unknown`` for ids that name no submission; the reference says
  ``pending`` for all of them, forever (§18.2).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

from earmark.api.call import Call, Handler, Payload
from earmark.api.params import clean_label, parse_int
from earmark.api.services import ApiServices
from earmark.api.submit_params import (
    V1,
    V2,
    Dialect,
    FingerprintSubmission,
    bounded_int,
    parse_submissions,
)
from earmark.db import submissions
from earmark.db.submissions import StatusInfo

#: The longest ``wait`` honoured, in seconds: a client cannot hold a request open for long.
MAX_WAIT_SECONDS = 10.0
#: How often a waiting submit looks at its submissions again.
WAIT_POLL_SECONDS = 0.2
#: Submission ids are BIGINT; larger numbers cannot name one.
MAX_SUBMISSION_ID = 2**63 - 1


# --- /v2/submit and /submit ---------------------------------------------------------------


async def submit(call: Call) -> Payload:
    return await _submit(call, V2)


async def v1_submit(call: Call) -> Payload:
    return await _submit(call, V1)


async def _submit(call: Call, dialect: Dialect) -> Payload:
    # The reference's order: client, user, wait, then the submissions (§4.1).
    app = await call.application()
    version = clean_label(call.params.get("clientversion"))
    user = await call.user()
    wait = bounded_int(call.params.get("wait")) or 0
    parsed = parse_submissions(call.params, dialect)
    await call.admit(application_id=app.id, account_id=user.id)

    services = call.services
    stored = await call.thread(_store, services, app.id, user.id, version, parsed)
    ids = [submission_id for submission_id, _ in stored]
    if ids:
        await services.queue.publish(ids)
        services.metrics.submissions.inc(len(ids))

    if wait > 0 and ids:
        infos = await _wait_for_import(services, ids, min(float(wait), MAX_WAIT_SECONDS))
        entries = [status_entry(sid, infos.get(sid)) for sid in ids]
    else:
        entries = [{"id": sid, "status": "pending"} for sid in ids]
    for entry, (_, index) in zip(entries, stored, strict=True):
        if index is not None:
            entry["index"] = index
    return {"submissions": entries}


def _store(
    services: ApiServices,
    application_id: int,
    account_id: int,
    version: str | None,
    parsed: Sequence[FingerprintSubmission],
) -> list[tuple[int, str | None]]:
    """Store every row in one transaction; (submission id, index) per stored row, in order."""
    stored: list[tuple[int, str | None]] = []
    with services.dbs.write() as conns:
        for item in parsed:
            for mbid in item.mbids or (None,):
                if not submissions.has_link_data(
                    mbid=mbid, puid=item.puid, meta=item.meta, foreignid=item.foreignid
                ):
                    continue
                new_id = submissions.create(
                    conns.ingest,
                    account_id=account_id,
                    application_id=application_id,
                    application_version=version,
                    fingerprint=item.fingerprint,
                    length=item.length,
                    bitrate=item.bitrate,
                    format=item.file_format,
                    meta=item.meta,
                    mbid=mbid,
                    puid=item.puid,
                    foreignid=item.foreignid,
                )
                stored.append((new_id, item.index))
    return stored


async def _wait_for_import(
    services: ApiServices, ids: Sequence[int], seconds: float
) -> dict[int, StatusInfo]:
    """The submissions' states once none is pending, or after ``seconds``.

    Each look is a short read in a worker thread; no connection is held while sleeping.
    """
    deadline = time.monotonic() + seconds
    while True:
        infos = await asyncio.to_thread(_statuses, services, ids)
        if all(info.status != "pending" for info in infos.values()):
            return infos
        left = deadline - time.monotonic()
        if left <= 0:
            return infos
        await asyncio.sleep(min(WAIT_POLL_SECONDS, left))


# --- /v2/submission_status ----------------------------------------------------------------


async def submission_status(call: Call) -> Payload:
    app = await call.application()
    requested = [sid for sid in map(_submission_id, call.params.getlist("id")) if sid is not None]
    await call.admit(application_id=app.id)
    known = [sid for sid in requested if 0 < sid <= MAX_SUBMISSION_ID]
    infos = await call.thread(_statuses, call.services, known) if known else {}
    # One entry per requested id, in request order, repeats included (as the reference).
    return {"submissions": [status_entry(sid, infos.get(sid)) for sid in requested]}


def _submission_id(text: str) -> int | None:
    """An ``id`` value as an integer; None (dropped) when it is not one. 0 and negative
    numbers are kept (answered ``unknown``) as the reference keeps them."""
    try:
        value = parse_int(text)
    except ValueError:  # more digits than Python converts: certainly no submission
        return None
    return value


def _statuses(services: ApiServices, ids: Sequence[int]) -> dict[int, StatusInfo]:
    with services.dbs.read() as conns:
        return submissions.status_many(conns.ingest, ids, fingerprint_conn=conns.fingerprint)


def status_entry(submission_id: int, info: StatusInfo | None) -> dict[str, Any]:
    """One submission as ``submission_status`` (and a waiting submit) shows it."""
    if info is None:
        return {"id": submission_id, "status": "unknown"}
    entry: dict[str, Any] = {"id": submission_id, "status": info.status}
    if info.status == "imported":
        if info.track_gid is not None:
            entry["result"] = {"id": str(info.track_gid)}
    elif info.status in ("skipped", "failed"):
        entry["reason"] = info.reason or ""
    return entry


ROUTES: list[tuple[str, str, Handler]] = [
    ("/v2/submit", "submit", submit),
    ("/v2/submission_status", "submission_status", submission_status),
]
LEGACY_ROUTES: list[tuple[str, str, Handler]] = [("/submit", "v1_submit", v1_submit)]
