"""The data pages: a track, a fingerprint (drawn, and compared with another), an MBID.

Everything shown comes from named data functions (:mod:`earmark.db.curation`,
:mod:`earmark.db.links`, :mod:`earmark.db.fingerprints`) and, for titles and artists, from the
MusicBrainz mirror when the process has one (:mod:`earmark.web.pages.mbdata`). Without a mirror,
or when it cannot answer, the pages show the MBIDs alone. The change controls of the track page
post to :mod:`earmark.web.pages.moderation`.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from earmark.chromaprint.compare import compare2
from earmark.db import curation, fingerprints, links, tracks
from earmark.db.engine import Connections
from earmark.db.links import MbidLink, MetaLink
from earmark.search import MAX_OFFSET
from earmark.web.access import Redirect, current_account, is_moderator, services_of
from earmark.web.pages.mbdata import RecordingInfo, length_text, recordings_of
from earmark.web.render import render

#: User metadata rows shown on a track page (most submitted first).
META_SHOWN = 50
#: Ids are PostgreSQL integers: a larger number names nothing (and must not reach the database).
ID_MAX = 2**31 - 1


def parse_uuid(text: str, what: str) -> uuid.UUID:
    """``text`` as a UUID, else the 404 page saying it is not one."""
    try:
        return uuid.UUID(text)
    except ValueError:
        raise HTTPException(404, f"{text[:100]!r} is not {what} (a UUID).") from None


def json_block(data: Any) -> str:
    """JSON to put inside ``<script type="application/json">``: no ``<`` can end the block."""
    return json.dumps(data, separators=(",", ":")).replace("<", "\\u003c")


# --- /track/<gid> ------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrackData:
    track: tracks.Track
    fingerprints: list[curation.FingerprintSummary]
    links: list[MbidLink]
    meta: list[MetaLink]
    changes: list[curation.MbidChange]
    names: dict[int, str]


def _track_data(conns: Connections, track: tracks.Track) -> TrackData:
    every = links.mbids_for_tracks(conns.fingerprint, [track.id], include_disabled=True)[track.id]
    every.sort(key=lambda link: (-link.submission_count, link.mbid.hex))
    changes = curation.mbid_changes(conns.ingest, [link.id for link in every])
    return TrackData(
        track=track,
        fingerprints=curation.track_fingerprints(conns.fingerprint, track.id),
        links=every,
        meta=links.meta_for_tracks(conns.fingerprint, [track.id], limit_per_track=META_SHOWN)[
            track.id
        ],
        changes=changes,
        names=curation.account_names(conns.app, {c.account_id for c in changes}),
    )


async def track_page(request: Request) -> Response:
    text = request.path_params["gid"]
    services = services_of(request)
    if text.isdigit() and len(text) <= 10:  # the reference also takes the internal id
        track_id = int(text)
        if track_id > ID_MAX:
            raise HTTPException(404, "There is no such track.")
        found = await services.read(lambda c: tracks.get(c.fingerprint, track_id))
    else:
        gid = parse_uuid(text, "an AcoustID track id")
        found = await services.read(lambda c: tracks.get_by_gid(c.fingerprint, gid))
    if found is None:
        raise HTTPException(404, "There is no such track.")
    show_disabled = request.query_params.get("disabled") == "1"
    if found.merged or str(found.gid) != text:
        raise Redirect(f"/track/{found.gid}" + ("?disabled=1" if show_disabled else ""))
    track = found
    data = await services.read(lambda c: _track_data(c, track))
    info = await recordings_of(services, [link.mbid for link in data.links])
    by_link = {link.id: link for link in data.links}
    shown = [link for link in data.links if show_disabled or not link.disabled]
    account = await current_account(request)
    context = {
        "track": track,
        "fingerprints": [
            {"id": f.id, "length": length_text(f.length), "sources": f.submission_count}
            for f in data.fingerprints
        ],
        "recordings": [_recording_row(link, info.get(link.mbid)) for link in shown],
        "hidden": sum(1 for link in data.links if link.disabled and not show_disabled),
        "show_disabled": show_disabled,
        "mirror": info.available,
        "meta": data.meta,
        "changes": [
            {
                "created": change.created.strftime("%Y-%m-%d %H:%M"),
                "who": data.names.get(change.account_id, f"account {change.account_id}"),
                "mbid": str(by_link[change.track_mbid_id].mbid),
                "disabled": change.disabled,
                "note": change.note or "",
            }
            for change in data.changes
            if change.track_mbid_id in by_link
        ],
        "can_moderate": is_moderator(account),
        "return_to": f"/track/{track.gid}" + ("?disabled=1" if show_disabled else ""),
    }
    return await render(request, "data/track.html", context)


def _recording_row(link: MbidLink, info: RecordingInfo | None) -> dict[str, Any]:
    return {
        "mbid": str(link.mbid),
        "title": info.title if info else None,
        "artist": info.artist if info else None,
        "length": info.length if info else "",
        "redirect": info.redirect if info else None,
        "sources": link.submission_count,
        "disabled": link.disabled,
    }


# --- /fingerprint/<id> and /fingerprint/<a>/compare/<b> -------------------------------------


async def _fingerprint(request: Request, fingerprint_id: int) -> fingerprints.StoredFingerprint:
    if fingerprint_id > ID_MAX:
        raise HTTPException(404, "There is no such fingerprint.")
    found = await services_of(request).read(
        lambda c: fingerprints.get(c.fingerprint, fingerprint_id)
    )
    if found is None:
        raise HTTPException(404, f"There is no fingerprint {fingerprint_id}.")
    return found


def _drawable(found: fingerprints.StoredFingerprint) -> dict[str, Any]:
    return {"items": [int(v) for v in found.items], "label": f"Fingerprint {found.id}"}


async def fingerprint_page(request: Request) -> Response:
    found = await _fingerprint(request, request.path_params["id"])
    compare_with = request.query_params.get("with", "").strip()
    if compare_with:
        if not compare_with.isdigit() or len(compare_with) > 10:
            raise HTTPException(400, "Give the id of the fingerprint to compare with (a number).")
        raise Redirect(f"/fingerprint/{found.id}/compare/{int(compare_with)}")
    context = {
        "fingerprint": found,
        "length": length_text(found.length),
        "item_count": len(found.items),
        "data": json_block(_drawable(found)),
    }
    return await render(request, "data/fingerprint.html", context)


async def compare_page(request: Request) -> Response:
    a = await _fingerprint(request, request.path_params["a"])
    b = await _fingerprint(request, request.path_params["b"])
    score = compare2(a.items, b.items, MAX_OFFSET)
    data = {"a": _drawable(a), "b": _drawable(b), "score": score, "maxOffset": MAX_OFFSET}
    context = {"a": a, "b": b, "score": score, "data": json_block(data)}
    return await render(request, "data/compare.html", context)


# --- /mbid/<mbid> ------------------------------------------------------------------------------


async def mbid_page(request: Request) -> Response:
    text = request.path_params["mbid"]
    mbid = parse_uuid(text, "a MusicBrainz recording id")
    if str(mbid) != text:
        raise Redirect(f"/mbid/{mbid}")
    services = services_of(request)
    linked = await services.read(lambda c: curation.tracks_of_mbid(c.fingerprint, mbid))
    info = await recordings_of(services, [mbid], releases=True)
    recording = info.get(mbid)
    status = 200 if recording is not None or linked else 404
    context = {
        "mbid": str(mbid),
        "recording": recording,
        "mirror": info.available,
        "tracks": linked,
    }
    return await render(request, "data/mbid.html", context, status)


ROUTES: list[BaseRoute] = [
    Route("/track/{gid:str}", track_page, methods=["GET", "HEAD"], name="track"),
    Route("/fingerprint/{id:int}", fingerprint_page, methods=["GET", "HEAD"], name="fingerprint"),
    Route(
        "/fingerprint/{a:int}/compare/{b:int}",
        compare_page,
        methods=["GET", "HEAD"],
        name="fingerprint_compare",
    ),
    Route("/mbid/{mbid:str}", mbid_page, methods=["GET", "HEAD"], name="mbid"),
]
