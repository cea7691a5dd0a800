"""``/v2/identify``: which tracks a clip comes from, where in them, and for how long
(docs/clip-identification.md).

The clip is a ``fingerprint`` (compressed base64, any length, as ``/v2/lookup`` takes; no
``duration`` needed) or, when the request body is ``audio/*`` or ``application/octet-stream``,
an audio file (at most the web service's 1 MiB body and :data:`MAX_AUDIO_SECONDS` of audio;
the other parameters then go in the query string). ``client``, ``format`` and ``meta`` are as
in lookup, and so are the rate limits and the error envelope. Each result is one part of the
clip: ``id`` (the track), ``score`` (bit agreement), ``offset`` (seconds into the track),
``position`` (seconds into the clip) and ``duration`` (seconds matched), in clip order.
"""

from __future__ import annotations

import os
import tempfile
import time
from typing import Final

import numpy as np
import numpy.typing as npt

from earmark.api import errors
from earmark.api.call import Call, Handler, Payload
from earmark.api.lookup_work import OUTAGES, Json, enrich_results
from earmark.api.params import decode_fingerprint
from earmark.api.services import ApiServices
from earmark.chromaprint.audio import AudioError
from earmark.chromaprint.files import fingerprint_file
from earmark.clipindex.search import unsearchable_reason
from earmark.clipsync import ClipResult
from earmark.db.engine import read_connection
from earmark.musicbrainz.enrich import read_links
from earmark.musicbrainz.flags import MetaFlags, Mode, parse_meta

#: The longest audio upload decoded; longer audio is refused (error 19).
MAX_AUDIO_SECONDS: Final = 600
#: The longest clip searched: 30 minutes of items (a longer recording is sent in parts, as
#: ``earmark identify --segments`` does): bounds the work of one request.
MAX_CLIP_ITEMS: Final = 14_535
#: Decoding an upload stops after this many seconds of work (a hostile file may be slow).
DECODE_DEADLINE_S: Final = 20.0
_AUDIO_TYPES: Final = ("application/octet-stream",)


async def identify(call: Call) -> Payload:
    """``/v2/identify``."""
    app = await call.application()
    flags = parse_meta(call.params.get("meta"))
    if _is_audio(call):
        body = await call.request.body()
        if not body:
            raise errors.missing_parameter("fingerprint")
        items = await call.thread(_fingerprint_upload, body)
    else:
        items = decode_fingerprint(call.required("fingerprint"))
    if items.size > MAX_CLIP_ITEMS:
        raise errors.clip_too_long(MAX_CLIP_ITEMS)
    reason = unsearchable_reason(items)
    if reason is not None:
        raise errors.unsearchable_clip(reason)
    await call.admit(application_id=app.id)
    results = await call.thread(_run_and_count, call, items, flags)
    return {"results": results}


def _is_audio(call: Call) -> bool:
    content_type = call.request.headers.get("content-type", "").split(";")[0].strip().lower()
    return content_type.startswith("audio/") or content_type in _AUDIO_TYPES


def _fingerprint_upload(body: bytes) -> npt.NDArray[np.uint32]:
    """The items of an uploaded audio file; error 20 when it is not audio, 19 when too long."""
    with tempfile.NamedTemporaryFile(prefix="earmark-clip-", suffix=".audio") as fh:
        fh.write(body)
        fh.flush()
        try:
            found = fingerprint_file(
                fh.name, MAX_AUDIO_SECONDS + 1, deadline=time.monotonic() + DECODE_DEADLINE_S
            )
        except AudioError as exc:
            raise errors.not_audio(_without_path(exc.reason, fh.name)) from None
    if found.duration > MAX_AUDIO_SECONDS:
        raise errors.audio_too_long(MAX_AUDIO_SECONDS)
    return found.items


def _without_path(reason: str, path: str) -> str:
    """The decoder's reason without the temporary file's name (not the client's business)."""
    return reason.replace(path, "the upload").replace(os.path.basename(path), "the upload")


def _run_and_count(call: Call, items: npt.NDArray[np.uint32], flags: MetaFlags) -> list[Json]:
    try:
        results = _run(call.services, items, flags)
    except OUTAGES:
        raise errors.service_unavailable() from None
    call.count(hits=1 if results else 0, misses=0 if results else 1)
    return results


def _run(services: ApiServices, items: npt.NDArray[np.uint32], flags: MetaFlags) -> list[Json]:
    clips = services.clips
    if clips is None:
        raise errors.service_unavailable()
    with_links = flags.mode is not Mode.NONE
    with read_connection(services.dbs.fingerprint) as conn:
        found = clips.identify(conn, items, with_links=with_links)
        results = [_json(r) for r in found]
        if not found or not with_links:
            return results
        links = read_links(conn, [(r.track_id, r.links) for r in found], flags)
    enrich_results(services, results, links, flags)
    return results


def _json(result: ClipResult) -> Json:
    return {
        "id": str(result.track_gid),
        "score": result.score,
        "offset": result.offset,
        "position": result.position,
        "duration": result.duration,
    }


ROUTES: list[tuple[str, str, Handler]] = [("/v2/identify", "identify", identify)]
