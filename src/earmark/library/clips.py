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
            payload = await client.call(
                "identify",
                [
                    ("client", client.client_key),
                    ("fingerprint", scanned.fingerprint),
                    ("meta", meta),
                ],
            )
        except AcoustidError as exc:
            # A clip the server will not search (too short, silence) is this file's answer.
            emit(ClipIdentified(scanned.path, scanned.duration, error=exc.message))
            continue
        results = payload.get("results")
        emit(
            ClipIdentified(
                scanned.path,
                scanned.duration,
                [r for r in results if isinstance(r, dict)] if isinstance(results, list) else [],
                timeline=timeline,
            )
        )
