"""Track and fingerprint reads that need no client key (reference §5.1-§5.3).

``/v2/track/list_by_mbid`` answers the AcoustIDs linked to recordings, ``/v2/track/list_by_puid``
those linked to a PUID, and ``/v2/fingerprint`` one stored fingerprint. None of them names an
application, so only the global and per-IP rate buckets apply.

Two fixes against the reference (docs/compatibility.md): an MBID sent in upper case finds its
tracks (the reference keyed its answer by the lower-case form and returned nothing), tracks come
in a defined order (oldest track first); and list_by_puid answers the PUID links Earmark keeps
instead of an always empty list.
"""

from __future__ import annotations

import uuid
from typing import Any

from earmark.api import errors
from earmark.api.call import Call, Handler, Payload
from earmark.api.params import parse_int, parse_uuid, truthy_int
from earmark.db import fingerprints, tracks
from earmark.db.engine import read_connection
from earmark.db.fingerprints import StoredFingerprint
from earmark.db.tracks import MbidTrack, Track

#: Fingerprint ids are 32-bit serials: anything outside cannot exist (and must not reach SQL).
_MAX_ID = 2**31 - 1


def _track_json(found: MbidTrack, include_disabled: bool) -> dict[str, Any]:
    item: dict[str, Any] = {"id": str(found.gid)}
    if include_disabled and found.disabled:
        item["disabled"] = True
    return item


async def list_by_mbid(call: Call) -> Payload:
    """``mbid`` (repeatable; none → 2, any invalid → 7), ``batch``, ``disabled``."""
    sent = call.params.getlist("mbid")
    if not sent:
        raise errors.missing_parameter("mbid")
    mbids = [parse_uuid(text, "mbid") for text in sent]
    batch = truthy_int(call.params.get("batch"))
    include_disabled = truthy_int(call.params.get("disabled"))
    await call.admit()

    def read() -> dict[uuid.UUID, list[MbidTrack]]:
        with read_connection(call.services.dbs.fingerprint) as conn:
            return tracks.list_by_mbid(conn, mbids, include_disabled)

    # Keyed by the parsed UUID, so case and the form sent do not matter (quirk 10, fixed).
    found = await call.thread(read)

    def tracks_of(mbid: uuid.UUID) -> list[dict[str, Any]]:
        return [_track_json(t, include_disabled) for t in found[mbid]]

    if not batch:
        return {"tracks": tracks_of(mbids[0])}
    return {
        "mbids": [
            {"mbid": text, "tracks": tracks_of(mbid)}
            for text, mbid in zip(sent, mbids, strict=True)
        ]
    }


async def list_by_puid(call: Call) -> Payload:
    """``puid`` (missing → 2, invalid → 7): the tracks Earmark has linked to it."""
    puid = parse_uuid(call.required("puid"), "puid")
    await call.admit()

    def read() -> list[Track]:
        with read_connection(call.services.dbs.fingerprint) as conn:
            return tracks.list_by_puid(conn, puid)

    found = await call.thread(read)
    return {"tracks": [{"id": str(t.gid)} for t in found]}


async def fingerprint(call: Call) -> Payload:
    """``id`` (an integer, else 2): the fingerprint's items and length, or 18."""
    fingerprint_id = parse_int(call.params.get("id"))
    if fingerprint_id is None:
        raise errors.missing_parameter("id")
    await call.admit()
    if not 1 <= fingerprint_id <= _MAX_ID:
        raise errors.fingerprint_not_found()

    def read() -> StoredFingerprint | None:
        with read_connection(call.services.dbs.fingerprint) as conn:
            return fingerprints.get(conn, fingerprint_id)

    found = await call.thread(read)
    if found is None:
        raise errors.fingerprint_not_found()
    return {
        "fingerprint": {
            "id": found.id,
            # Stored as signed int32, as the reference answers them.
            "hashes": [int(h) for h in found.items.tolist()],
            "duration": found.length,
        }
    }


ROUTES: list[tuple[str, str, Handler]] = [
    ("/v2/track/list_by_mbid", "list_by_mbid", list_by_mbid),
    ("/v2/track/list_by_puid", "list_by_puid", list_by_puid),
    ("/v2/fingerprint", "fingerprint", fingerprint),
]
