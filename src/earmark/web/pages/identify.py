"""``/identify``: upload an audio file, see the tracks and recordings it matches.

The upload is bounded (setting ``web_identify_max_bytes``: a larger one is the 413 page before
anything is decoded), written to a temporary file, and fingerprinted in a worker thread: the
first 120 s of audio (as fpcalc), decoding stopped after ``web_identify_timeout`` seconds. The
fingerprint is searched as a lookup searches it (:class:`earmark.search.Searcher`, fast mode),
in this process: no HTTP call to the API.

With "clip" ticked (an excerpt from anywhere in a track), the whole upload (at most
:data:`earmark.api.identify.MAX_AUDIO_SECONDS`) is fingerprinted and searched in the clip index
``/v2/identify`` answers from (:class:`earmark.clipsync.ClipService`, the same object in
``serve``), in this process too; each result shows where in the track the clip sits.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from earmark.chromaprint.audio import AudioError
from earmark.chromaprint.files import DEFAULT_LENGTH, DecodeTimeoutError, fingerprint_file
from earmark.clipindex.search import unsearchable_reason
from earmark.clipsync import OUTAGES
from earmark.db.engine import Connections
from earmark.db.links import MbidLink
from earmark.search import Match, Searcher, SearchUnavailableError, best_per_track
from earmark.web.access import services_of
from earmark.web.forms import read_form
from earmark.web.pages.mbdata import length_text, recordings_of
from earmark.web.render import render

log = logging.getLogger(__name__)

#: Room for the form's other fields and the multipart framing around the file.
FORM_OVERHEAD = 16 * 1024


class Unidentifiable(Exception):  # noqa: N818 - a message for the visitor, not a failure
    """The file cannot be fingerprinted; the message says why, for the visitor."""


#: Seconds of a clip upload fingerprinted (the API's limit for audio uploads).
CLIP_SECONDS = 600


def _fingerprint(
    path: Path, timeout: float, length: float = DEFAULT_LENGTH
) -> tuple[npt.NDArray[np.uint32], int]:
    deadline = time.monotonic() + timeout
    try:
        found = fingerprint_file(path, length, deadline=deadline)
    except DecodeTimeoutError:
        raise Unidentifiable(
            f"Decoding this file took longer than {timeout:g} seconds: try a shorter or "
            "simpler file (MP3, Ogg Vorbis, FLAC, WAV)."
        ) from None
    except AudioError as exc:
        raise Unidentifiable(_reason(exc.reason)) from None
    return found.items, max(1, round(found.duration))


def _reason(reason: str) -> str:
    if reason.startswith("empty fingerprint"):
        return "The file has too little audio to identify (it needs about 3 seconds or more)."
    if reason.startswith(("not an audio file", "cannot open", "no audio stream")):
        return (
            "This is not an audio file this server can read. Upload a music file (MP3, Ogg "
            "Vorbis, Opus, FLAC, WAV, M4A, …)."
        )
    return "The audio in this file could not be decoded (the file may be damaged)."


def _save(upload: UploadFile) -> tuple[Path, int]:
    """The upload in a temporary file (its name keeps a plain file ending, a hint for the
    demuxer); the path and the size."""
    suffix = Path(upload.filename or "").suffix[:10]
    if not suffix.isascii() or not suffix[1:].isalnum():
        suffix = ""
    handle, name = tempfile.mkstemp(prefix="earmark-identify-", suffix=suffix)
    upload.file.seek(0)
    with os.fdopen(handle, "wb") as out:
        shutil.copyfileobj(upload.file, out)
        size = out.tell()
    return Path(name), size


async def identify_form(request: Request) -> Response:
    return await render(request, "data/identify.html", _context(request))


def _context(request: Request, **values: Any) -> dict[str, Any]:
    services = services_of(request)
    context: dict[str, Any] = {
        "available": services.searcher is not None,
        "max_mb": services.config.identify_max_bytes / (1024 * 1024),
        "error": None,
        "results": None,
        "filename": "",
        "duration": "",
        "mirror": services.mirror is not None,
        "clips": services.clips is not None,
        "clip": False,
    }
    context.update(values)
    return context


def _search(
    searcher: Searcher, items: npt.NDArray[np.uint32], duration: int
) -> Callable[[Connections], list[Match]]:
    def work(conns: Connections) -> list[Match]:
        return searcher.search(
            conns.fingerprint, items, duration, mode="fast", strict=True, with_links=True
        )

    return work


async def identify(request: Request) -> Response:
    services = services_of(request)
    form = await read_form(request, max_bytes=services.config.identify_max_bytes + FORM_OVERHEAD)
    searcher = services.searcher
    try:
        upload = form.get("file")
        if searcher is None:
            return await render(request, "data/identify.html", _context(request), 503)
        if not isinstance(upload, UploadFile) or not upload.filename:
            error = "Choose an audio file to upload."
            context = _context(request, error=error)
            return await render(request, "data/identify.html", context, 400)
        filename = upload.filename[:200]
        if not services.identify_slots.acquire(blocking=False):
            error = "The server is identifying other files right now: try again in a moment."
            context = _context(request, error=error, filename=filename)
            busy = await render(request, "data/identify.html", context, 503)
            busy.headers["Retry-After"] = "5"
            return busy
        clip = bool(form.get("clip")) and services.clips is not None
        try:
            items, duration = await _fingerprint_upload(
                request, upload, CLIP_SECONDS if clip else DEFAULT_LENGTH
            )
            reason = unsearchable_reason(items) if clip else None
            if reason is not None:
                raise Unidentifiable(f"This clip cannot be searched: {reason}.")
        except Unidentifiable as exc:
            context = _context(request, error=str(exc), filename=filename)
            return await render(request, "data/identify.html", context, 400)
        finally:
            services.identify_slots.release()
    finally:
        await form.close()
    if clip:
        return await _clip_page(request, items, filename, duration)
    try:
        matches = await services.read(_search(searcher, items, duration))
    except SearchUnavailableError as exc:
        log.warning("identify: the fingerprint index is unavailable: %s", exc)
        error = "The fingerprint index is unavailable right now: try again in a minute."
        context = _context(request, error=error, filename=filename)
        return await render(request, "data/identify.html", context, 503)
    results = await _results(request, best_per_track(matches))
    context = _context(request, results=results, filename=filename, duration=length_text(duration))
    return await render(request, "data/identify.html", context)


async def _clip_page(
    request: Request, items: npt.NDArray[np.uint32], filename: str, duration: int
) -> Response:
    clips = services_of(request).clips
    assert clips is not None
    try:
        found = await services_of(request).read(
            lambda conns: clips.identify(conns.fingerprint, items, with_links=True)
        )
    except OUTAGES as exc:
        log.warning("identify: the clip index cannot be brought up to date: %s", exc)
        error = "The fingerprint database is unavailable right now: try again in a minute."
        context = _context(request, error=error, filename=filename)
        return await render(request, "data/identify.html", context, 503)
    results = await _described(
        request,
        [
            (
                result.track_gid,
                result.score,
                result.fingerprint_id,
                f"from {length_text(round(result.offset))} in the track, "
                f"{result.duration:.0f} s matched at {length_text(round(result.position))} "
                "of the clip",
                result.links,
            )
            for result in found
        ],
    )
    context = _context(
        request, results=results, filename=filename, duration=length_text(duration), clip=True
    )
    return await render(request, "data/identify.html", context)


async def _fingerprint_upload(
    request: Request, upload: UploadFile, length: float = DEFAULT_LENGTH
) -> tuple[npt.NDArray[np.uint32], int]:
    config = services_of(request).config
    path, size = await run_in_threadpool(_save, upload)
    try:
        if size > config.identify_max_bytes:
            raise HTTPException(413, "The file is larger than this server accepts.")
        if size == 0:
            raise Unidentifiable("The file is empty.")
        return await run_in_threadpool(_fingerprint, path, config.identify_timeout, length)
    finally:
        await run_in_threadpool(path.unlink, True)


async def _results(request: Request, best: Sequence[Match]) -> list[dict[str, Any]]:
    return await _described(
        request,
        [(m.track_gid, m.score, m.fingerprint_id, length_text(m.length), m.links) for m in best],
    )


#: What a result shows: track gid, score, fingerprint id, a note, the track's MBID links.
_Shown = tuple[uuid.UUID, float, int, str, list[MbidLink] | None]


async def _described(request: Request, best: Sequence[_Shown]) -> list[dict[str, Any]]:
    mbids = [link.mbid for *_, links in best for link in (links or [])]
    info = await recordings_of(services_of(request), list(dict.fromkeys(mbids)))
    results = []
    for gid, score, fingerprint_id, note, links in best:
        own: list[MbidLink] = sorted(links or [], key=lambda link: -link.submission_count)
        recordings = []
        for link in own:
            found = info.get(link.mbid)
            recordings.append(
                {
                    "mbid": str(link.mbid),
                    "title": found.title if found else None,
                    "artist": found.artist if found else None,
                    "length": found.length if found else "",
                    "sources": link.submission_count,
                }
            )
        results.append(
            {
                "gid": str(gid),
                "score": f"{100 * score:.1f} %",
                "fingerprint_id": fingerprint_id,
                "length": note,
                "recordings": recordings,
            }
        )
    return results


ROUTES: list[BaseRoute] = [
    Route("/identify", identify_form, methods=["GET", "HEAD"], name="identify"),
    Route("/identify", identify, methods=["POST"], name="identify_post"),
]
