"""Identify audio files: fingerprint them here, look them up on a server, describe the answer.

The server's answer is untrusted: every field is checked for its type before it is shown, and
text is shown on one line (a title cannot move the cursor or fake another file's entry).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from earmark.library.client import LOOKUP_BATCH, Query, WebServiceClient
from earmark.library.fingerprints import Scanned, scan_files
from earmark.library.tags import clean_text

DEFAULT_META = "recordings releasegroups usermeta"
#: ``--catalog``: the Earmark extension that adds ISRCs and catalog tracks to each recording.
CATALOG_META = "catalog sources"
#: The catalog fields shown per file, in this order.
CATALOG_FIELDS = ("title", "artists", "album", "track_number", "isrc", "barcode")


@dataclass(frozen=True)
class Identified:
    """One file and the server's results for it (or why it could not be looked up)."""

    path: str
    duration: float = 0.0
    results: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    warning: str | None = None
    #: Why the file's fingerprint can never be identified (too short, silence), or None.
    unidentifiable: str | None = None
    #: ``--catalog``: show the catalog fields of the best recording's first track.
    catalog: bool = False

    def to_json(self) -> str:
        data: dict[str, Any] = {"path": self.path}
        if self.error is not None:
            data["error"] = self.error
        else:
            data["duration"] = round(self.duration, 2)
            data["results"] = self.results
            if self.catalog:
                data["catalog"] = catalog_fields(self.results)
            if self.unidentifiable is not None and not self.results:
                data["unidentifiable"] = self.unidentifiable
        return json.dumps(data, ensure_ascii=False, sort_keys=True)

    def to_text(self) -> str:
        lines = [_line(self.path)]
        if self.error is not None:
            return f"{lines[0]}\n  error: {_line(self.error)}\n"
        if not self.results and self.unidentifiable is not None:
            return f"{lines[0]}\n  no match: {self.unidentifiable}\n"
        if not self.results:
            return f"{lines[0]}\n  no match\n"
        best = self.results[0]
        if self.catalog:
            fields = catalog_fields(self.results)
            if fields is None:
                lines.append("  (no catalog data)")
            for name in CATALOG_FIELDS if fields is not None else ():
                lines.append(f"  {name.replace('_', ' ')}: {fields[name] or '-'}")  # type: ignore[index]
        lines.append(f"  track {_line(best.get('id'))}  score {_score(best.get('score'))}")
        recordings = list(_dicts(best.get("recordings")))
        for recording in recordings:
            lines.append("    " + describe_recording(recording))
        if not recordings:
            lines.append("    (no recordings linked)")
        if len(self.results) > 1:
            lines.append(f"  ({len(self.results) - 1} more result(s); --json shows all)")
        return "\n".join(lines) + "\n"


def catalog_fields(results: list[dict[str, Any]]) -> dict[str, str | None] | None:
    """Title, artists, album, track number, ISRC and barcode of the best recording's first
    catalog track (the best result's recording with the most sources that has catalog tracks),
    or None when no recording has any."""
    best = results[0] if results and isinstance(results[0], dict) else {}
    candidates = [r for r in _dicts(best.get("recordings")) if _dicts(r.get("catalog_tracks"))]
    if not candidates:
        return None
    recording = max(candidates, key=lambda r: _int(r.get("sources")))
    track = _dicts(recording.get("catalog_tracks"))[0]
    found = track.get("album")
    album: dict[str, Any] = found if isinstance(found, dict) else {}
    isrcs = [i for i in recording.get("isrcs") or [] if isinstance(i, str)]
    return {
        "title": clean_text(track.get("title"), 200),
        "artists": artist_credit(track.get("artists")),
        "album": clean_text(album.get("title"), 200),
        "track_number": clean_text(track.get("number"), 20),
        "isrc": clean_text(isrcs[0], 20) if isrcs else None,
        "barcode": clean_text(album.get("barcode"), 40),
    }


def _int(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def describe_recording(recording: dict[str, Any]) -> str:
    """``Title — Artist [mbid]``, with whatever parts the server sent."""
    title = clean_text(recording.get("title"), 200)
    artist = artist_credit(recording.get("artists"))
    mbid = clean_text(recording.get("id"), 64)
    text = title or "(untitled)"
    if artist:
        text += f" — {artist}"
    return text + (f"  [{mbid}]" if mbid else "  [user metadata]")


def artist_credit(artists: object) -> str | None:
    """MusicBrainz artists (``{"name", "joinphrase"}``; the catalog's ``join_phrase``) or user
    metadata (plain strings)."""
    if not isinstance(artists, list):
        return None
    parts: list[str] = []
    for i, artist in enumerate(artists):
        if isinstance(artist, str):
            parts.append(("; " if i else "") + artist)
        elif isinstance(artist, dict) and isinstance(artist.get("name"), str):
            join = artist.get("joinphrase", artist.get("join_phrase"))
            parts.append(artist["name"] + (join if isinstance(join, str) else ""))
    return clean_text("".join(parts), 200)


def _dicts(value: object) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _score(value: object) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"{float(value):.3f}"
    return "?"


def _line(value: object) -> str:
    return clean_text(value, 1000) or "?"


async def identify(
    client: WebServiceClient,
    paths: Sequence[str],
    *,
    meta: str,
    jobs: int,
    length: float,
    emit: Callable[[Identified], None],
    catalog: bool = False,
) -> None:
    """Fingerprint ``paths`` and look them up in batches; ``emit`` each file in input order.
    ``catalog``: the results carry ``meta=catalog`` data; each file shows its catalog fields."""
    batch: list[Scanned] = []

    async def flush() -> None:
        queries = [Query(s.fingerprint or "", max(1, int(s.duration))) for s in batch]
        found = await client.lookup(queries, meta)
        for scanned, results in zip(batch, found, strict=True):
            emit(
                Identified(
                    scanned.path,
                    scanned.duration,
                    results,
                    warning=scanned.warning,
                    unidentifiable=scanned.unidentifiable,
                    catalog=catalog,
                )
            )
        batch.clear()

    async for scanned in scan_files(paths, jobs=jobs, length=length, with_tags=False):
        if scanned.fingerprint is None:
            if batch:
                await flush()
            emit(Identified(scanned.path, error=scanned.error or "cannot fingerprint"))
            continue
        batch.append(scanned)
        if len(batch) >= LOOKUP_BATCH:
            await flush()
    if batch:
        await flush()
