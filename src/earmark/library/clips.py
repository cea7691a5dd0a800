"""``earmark identify --clip`` and ``--segments``: whole files fingerprinted here and sent to
``/v2/identify`` (docs/clip-identification.md); the answer as the track and offset of a clip,
or as a timeline of what played when in a long recording.

The server's answer is untrusted, as in :mod:`earmark.library.identify`: numbers are checked
for their type and text is shown on one line.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from earmark.chromaprint.codec import decode_fingerprint_base64, encode_fingerprint_base64
from earmark.clipindex.terms import ITEMS_PER_SECOND
from earmark.library.client import AcoustidError, WebServiceClient
from earmark.library.fingerprints import scan_files
from earmark.library.identify import describe_recording
from earmark.library.tags import clean_text


@dataclass(frozen=True)
class ClipIdentified:
    """One file and the parts of it the server placed (or why it could not ask)."""

    path: str
    duration: float = 0.0
    results: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    #: ``--segments``: show every part as a timeline (otherwise the best part only).
    timeline: bool = False

    def to_json(self) -> str:
        data: dict[str, Any] = {"path": self.path}
        if self.error is not None:
            data["error"] = self.error
        else:
            data["duration"] = round(self.duration, 2)
            data["results"] = self.results
        return json.dumps(data, ensure_ascii=False, sort_keys=True)

    def to_text(self) -> str:
        head = clean_text(self.path, 1000) or "?"
        if self.error is not None:
            return f"{head}\n  error: {clean_text(self.error, 1000) or '?'}\n"
        parts = [r for r in self.results if isinstance(r, dict)]
        if not parts:
            return f"{head}\n  no match\n"
        if not self.timeline:
            parts = [max(parts, key=lambda r: _number(r.get("duration")))]
        lines = [head]
        for part in parts:
            start = _number(part.get("position"))
            end = start + _number(part.get("duration"))
            where = "" if not self.timeline else f"  {clock(start)}-{clock(end)}"
            lines.append(
                f"{where}  track {clean_text(part.get('id'), 64) or '?'}  from "
                f"{clock(_number(part.get('offset')))} in the track  score "
                f"{_number(part.get('score')):.3f}"
            )
            recordings = part.get("recordings")
            for recording in recordings if isinstance(recordings, list) else []:
                if isinstance(recording, dict):
                    lines.append("      " + describe_recording(recording))
        return "\n".join(lines) + "\n"


def clock(seconds: float) -> str:
    """``1:02:03.4`` / ``2:03.4``."""
    whole = int(seconds)
    tenths = int((seconds - whole) * 10)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    text = f"{minutes:d}:{secs:02d}.{tenths:d}"
    return f"{hours:d}:{minutes:02d}:{secs:02d}.{tenths:d}" if hours else text


def _number(value: object) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return max(0.0, float(value))
    return 0.0


async def identify_clips(
    client: WebServiceClient,
    paths: Sequence[str],
    *,
    meta: str,
    jobs: int,
    emit: Callable[[ClipIdentified], None],
    timeline: bool = False,
) -> None:
    """Fingerprint each whole file and ask ``/v2/identify``; ``emit`` each in input order."""
    async for scanned in scan_files(paths, jobs=jobs, length=0, with_tags=False):
        if scanned.fingerprint is None:
            emit(ClipIdentified(scanned.path, error=scanned.error or "cannot fingerprint"))
            continue
        try:
            results = await _identify_parts(client, scanned.fingerprint, meta)
        except AcoustidError as exc:
            # A clip the server will not search (too short, silence) is this file's answer.
            emit(ClipIdentified(scanned.path, scanned.duration, error=exc.message))
            continue
        emit(ClipIdentified(scanned.path, scanned.duration, results, timeline=timeline))


#: Items per request: the server's limit (30 minutes); a longer recording is sent in parts.
PART_ITEMS = 14_535
#: Parts overlap by this many items (20 s) so that a track across a cut is seen whole once.
PART_OVERLAP = 160


async def _identify_parts(
    client: WebServiceClient, fingerprint: str, meta: str
) -> list[dict[str, Any]]:
    """``/v2/identify`` on the recording, in parts of at most :data:`PART_ITEMS`; the parts'
    positions are moved to the whole recording's time."""
    items, _ = decode_fingerprint_base64(fingerprint)
    if items.size <= PART_ITEMS:
        return await _identify_one(client, fingerprint, meta, 0.0)
    found: list[dict[str, Any]] = []
    step = PART_ITEMS - PART_OVERLAP
    for start in range(0, items.size - PART_OVERLAP, step):
        part = encode_fingerprint_base64(items[start : start + PART_ITEMS])
        for result in await _identify_one(client, part, meta, start / ITEMS_PER_SECOND):
            previous = found[-1] if found else None
            if (
                previous is not None
                and previous.get("id") == result.get("id")
                and (_number(result.get("position")) <= _end(previous))
            ):
                continue  # the overlap saw the same part again
            found.append(result)
    return found


def _end(result: dict[str, Any]) -> float:
    return _number(result.get("position")) + _number(result.get("duration"))


async def _identify_one(
    client: WebServiceClient, fingerprint: str, meta: str, shift: float
) -> list[dict[str, Any]]:
    payload = await client.call(
        "identify",
        [("client", client.client_key), ("fingerprint", fingerprint), ("meta", meta)],
    )
    results = payload.get("results")
    found = [r for r in results if isinstance(r, dict)] if isinstance(results, list) else []
    for result in found:
        result["position"] = round(_number(result.get("position")) + shift, 2)
    return found
