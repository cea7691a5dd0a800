"""Manual curation (reference §9.4): a moderator disables or re-enables a track's MBID link.

``POST /edit/toggle-track-mbid`` with ``track`` (the track's gid), ``mbid``, ``state`` (``1``
disables, ``0`` enables, as the reference) and ``note`` (why; shown in the track's history).
The link and its history row are written in one write transaction
(:func:`earmark.db.curation.toggle_mbid_link`); lookups read the links from the database, so
the next ``/v2/lookup`` no longer shows (or shows again) the recording.

Moderators are the accounts :func:`earmark.web.access.is_moderator` names. Anybody else gets a
403 page that says why, and nothing changes.
"""

from __future__ import annotations

import uuid

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from earmark.db import curation, tracks
from earmark.db.engine import Connections
from earmark.web.access import current_account, is_moderator, safe_return_url, services_of
from earmark.web.forms import read_form, text_field

NOT_SIGNED_IN = (
    "Only moderators can change the links between tracks and MusicBrainz recordings. Sign in "
    "first: an account that signed in with MusicBrainz is a moderator."
)
NOT_MODERATOR = (
    "Only moderators can change the links between tracks and MusicBrainz recordings. Sign in "
    "with your MusicBrainz account, or ask an administrator of this server to make your "
    "account a moderator."
)


def _uuid_field(value: str, what: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise HTTPException(400, f"The {what} is not a valid id (a UUID).") from None


async def toggle_track_mbid(request: Request) -> Response:
    form = await read_form(request)
    account = await current_account(request)
    if account is None:
        raise HTTPException(403, NOT_SIGNED_IN)
    if not is_moderator(account):
        raise HTTPException(403, NOT_MODERATOR)
    gid = _uuid_field(text_field(form, "track", max_length=100), "track")
    mbid = _uuid_field(text_field(form, "mbid", max_length=100), "MusicBrainz recording id")
    state = text_field(form, "state", max_length=10)
    if state not in ("0", "1"):
        raise HTTPException(400, "The state must be 1 (disable the link) or 0 (enable it).")
    note = text_field(form, "note", max_length=curation.NOTE_MAX)
    if state == "1" and not note:
        raise HTTPException(400, "Say in the note why the link is wrong: other curators read it.")
    author = account.id

    def change(conns: Connections) -> tuple[tracks.Track | None, curation.ToggleOutcome]:
        track = tracks.get_by_gid(conns.fingerprint, gid)
        if track is None:
            return None, curation.ToggleOutcome.NO_LINK
        outcome = curation.toggle_mbid_link(
            conns, track.id, mbid, disabled=state == "1", account_id=author, note=note
        )
        return track, outcome

    track, outcome = await services_of(request).write(change)
    if track is None:
        raise HTTPException(404, "There is no such track.")
    if outcome is curation.ToggleOutcome.NO_LINK:
        raise HTTPException(404, "This track has no link to that MusicBrainz recording.")
    default = f"/track/{track.gid}"
    back = safe_return_url(text_field(form, "return_url", max_length=2000), default)
    if not back.startswith(default):
        back = default
    return RedirectResponse(back, status_code=303)


ROUTES: list[BaseRoute] = [
    Route(
        "/edit/toggle-track-mbid",
        toggle_track_mbid,
        methods=["POST"],
        name="toggle_track_mbid",
    ),
]
