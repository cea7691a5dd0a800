"""What ``earmark tag`` makes of one lookup answer: the recordings on offer, and which one a file
is (docs/tagging.md, "Choosing the recording").

The answer is untrusted: every value is checked for its type here, once, and the rest of the
tagging code works with the typed values below. Pure functions, no I/O.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Any, Literal

from earmark.library.tags import Tags, clean_text, parse_mbid

#: A file whose duration differs from the recording's by at most this is "the same length".
DURATION_AGREES = 7.0
#: Beyond this the recording is probably another version (a radio edit, a live take).
DURATION_DISAGREES = 30.0

Status = Literal["matched", "low_confidence", "ambiguous", "no_match", "too_short"]


@dataclass(frozen=True)
class TagArtist:
    name: str
    id: str | None = None
    join: str = ""
    sort_name: str | None = None


@dataclass(frozen=True)
class TagAlbum:
    """A MusicBrainz release as the catalog shapes it (docs/catalog.md)."""

    id: str
    title: str | None = None
    status: str | None = None
    type: str | None = None
    secondary_types: tuple[str, ...] = ()
    release_group_id: str | None = None
    date: str | None = None
    countries: tuple[str, ...] = ()
    label: str | None = None
    catalog_number: str | None = None
    barcode: str | None = None
    medium_count: int | None = None
    artists: tuple[TagArtist, ...] = ()

    @property
    def country(self) -> str | None:
        return self.countries[0] if self.countries else None


@dataclass(frozen=True)
class ReleaseTrack:
    """One appearance of a recording: a track on a medium of a release."""

    id: str
    album: TagAlbum
    title: str | None = None
    number: int | None = None
    disc: int | None = None
    track_total: int | None = None
    format: str | None = None
    artists: tuple[TagArtist, ...] = ()


@dataclass(frozen=True)
class Candidate:
    """A recording of the best result (or user-submitted metadata, ``id`` None)."""

    acoustid: str
    score: float
    id: str | None = None
    title: str | None = None
    artists: tuple[TagArtist, ...] = ()
    duration: float | None = None
    sources: int = 0
    isrcs: tuple[str, ...] = ()
    tracks: tuple[ReleaseTrack, ...] = ()


@dataclass(frozen=True)
class RecordingChoice:
    """The recording a file is, or why none is taken (``candidate`` is then the best guess,
    shown but never written)."""

    status: Status
    candidate: Candidate | None = None
    reason: str | None = None
    #: ``ambiguous``: the recordings that tie (album mode may tell them apart).
    tied: tuple[Candidate, ...] = ()


def _text(value: object, limit: int = 500) -> str | None:
    return clean_text(value, limit) if isinstance(value, str) else None


def _int(value: object) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, str) and value.strip().isdigit() and len(value.strip()) < 7:
            return int(value)
        return None
    return value if 0 <= value < 1_000_000 else None


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if 0 <= number < 1e7 else None


def _dicts(value: object) -> list[dict[str, Any]]:
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def parse_artists(value: object) -> tuple[TagArtist, ...]:
    """Credited artists: objects (``joinphrase`` or the catalog's ``join_phrase``) or the
    plain names of user metadata."""
    if not isinstance(value, list):
        return ()
    found: list[TagArtist] = []
    for item in value[:50]:
        if isinstance(item, str) and (name := _text(item, 200)):
            found.append(TagArtist(name))
        elif isinstance(item, dict) and (name := _text(item.get("name"), 200)):
            join = item.get("joinphrase", item.get("join_phrase"))
            found.append(
                TagArtist(
                    name,
                    parse_mbid(item.get("id")),
                    join if isinstance(join, str) else "",
                    _text(item.get("sort_name"), 200),
                )
            )
    return tuple(found)


def credit(artists: tuple[TagArtist, ...]) -> str | None:
    """The credited name as printed: names with their join phrases."""
    return clean_text("".join(a.name + a.join for a in artists), 500)


def sort_credit(artists: tuple[TagArtist, ...]) -> str | None:
    """Picard's artist sort: each artist's sort name with the credit's join phrases; None
    unless every artist has a sort name (the catalog's credits have them, the lookup's not)."""
    if not artists or any(a.sort_name is None for a in artists):
        return None
    return clean_text("".join(f"{a.sort_name}{a.join}" for a in artists), 500)


def _album(data: dict[str, Any]) -> TagAlbum | None:
    album_id = parse_mbid(data.get("id"))
    if album_id is None:
        return None
    countries = [_text(e.get("country"), 8) for e in _dicts(data.get("release_events"))]
    first = _text(data.get("country"), 8)
    ordered = ([first] if first else []) + [c for c in countries if c and c != first]
    secondary = data.get("secondary_types")
    return TagAlbum(
        id=album_id,
        title=_text(data.get("title")),
        status=_text(data.get("status"), 40),
        type=_text(data.get("type"), 40),
        secondary_types=tuple(
            t for s in (secondary if isinstance(secondary, list) else []) if (t := _text(s, 40))
        ),
        release_group_id=parse_mbid(data.get("release_group_id")),
        date=_text(data.get("date"), 10),
        countries=tuple(ordered),
        label=_text(data.get("label")),
        catalog_number=_text(data.get("catalog_number"), 100),
        barcode=_text(data.get("barcode"), 40),
        medium_count=_int(data.get("medium_count")),
        artists=parse_artists(data.get("artists")),
    )


def _medium_totals(recording: dict[str, Any]) -> dict[tuple[str, int], int]:
    """(release MBID, medium position) → the medium's track count, from ``meta=releases
    tracks`` (the catalog's track objects carry only the release's total)."""
    totals: dict[tuple[str, int], int] = {}
    for release in _dicts(recording.get("releases")):
        release_id = parse_mbid(release.get("id"))
        for medium in _dicts(release.get("mediums")):
            position, count = _int(medium.get("position")), _int(medium.get("track_count"))
            if release_id and position is not None and count:
                totals[(release_id, position)] = count
    return totals


def _tracks(recording: dict[str, Any]) -> tuple[ReleaseTrack, ...]:
    totals = _medium_totals(recording)
    found: list[ReleaseTrack] = []
    for item in _dicts(recording.get("catalog_tracks"))[:500]:
        track_id = parse_mbid(item.get("id"))
        album_data = item.get("album")
        album = _album(album_data) if isinstance(album_data, dict) else None
        if track_id is None or album is None:
            continue
        disc = _int(item.get("disc_number"))
        found.append(
            ReleaseTrack(
                id=track_id,
                album=album,
                title=_text(item.get("title")),
                number=_int(item.get("position")),
                disc=disc,
                track_total=totals.get((album.id, disc or 0)),
                format=_text(item.get("format"), 60),
                artists=parse_artists(item.get("artists")),
            )
        )
    return tuple(found)


def parse_candidates(results: object) -> list[Candidate]:
    """The recordings of the best-scoring result, in the order the server sent them."""
    ranked = sorted(
        _dicts(results), key=lambda r: -(_number(r.get("score")) or 0.0)
    )  # stable: the server's order among equal scores
    if not ranked:
        return []
    best = ranked[0]
    acoustid = _text(best.get("id"), 64) or ""
    score = min(_number(best.get("score")) or 0.0, 1.0)
    found: list[Candidate] = []
    for recording in _dicts(best.get("recordings"))[:100]:
        isrcs = recording.get("isrcs")
        found.append(
            Candidate(
                acoustid=acoustid,
                score=score,
                id=parse_mbid(recording.get("id")),
                title=_text(recording.get("title")),
                artists=parse_artists(recording.get("artists")),
                duration=_number(recording.get("duration")),
                sources=_int(recording.get("sources")) or 0,
                isrcs=tuple(
                    i for v in (isrcs if isinstance(isrcs, list) else []) if (i := _text(v, 12))
                ),
                tracks=_tracks(recording),
            )
        )
    if not found:
        found.append(Candidate(acoustid=acoustid, score=score))
    return found


def fold(text: str | None) -> str:
    """Text compared loosely: case, accents, punctuation and spacing do not matter."""
    if not text:
        return ""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return " ".join(
        "".join(
            c if c.isalnum() else " " for c in decomposed if not unicodedata.combining(c)
        ).split()
    )


def agreement(candidate: Candidate, tags: Tags, duration: float) -> int:
    """How much a recording agrees with what the file says: its MBID (decisive), title,
    artist and length. Higher is better; 0 is "nothing to compare"."""
    points = 0
    if candidate.id is not None and candidate.id in tags.mbids:
        points += 8
    if tags.title and fold(tags.title) == fold(candidate.title):
        points += 2
    if tags.artist and fold(tags.artist) == fold(credit(candidate.artists)):
        points += 2
    if candidate.duration and duration > 0:
        gap = abs(candidate.duration - duration)
        if gap <= DURATION_AGREES:
            points += 1
        elif gap > DURATION_DISAGREES:
            points -= 2
    return points


def choose_recording(
    candidates: list[Candidate], tags: Tags, duration: float, *, min_score: float
) -> RecordingChoice:
    """The best result's recording that agrees best with the file's tags; then the one more
    submissions name. A tie on both, or a score under ``min_score``, is reported, not
    guessed."""
    if not candidates:
        return RecordingChoice("no_match", reason="no fingerprint in the catalogue matches")
    best_score = candidates[0].score
    known = [c for c in candidates if c.id is not None]
    if not known:
        return RecordingChoice(
            "no_match" if best_score >= min_score else "low_confidence",
            candidates[0],
            reason="the matching track has no recording MBID",
        )

    def rank(c: Candidate) -> tuple[int, int]:
        return (agreement(c, tags, duration), c.sources)

    ordered = sorted(known, key=rank, reverse=True)
    chosen = ordered[0]
    if best_score < min_score:
        return RecordingChoice(
            "low_confidence",
            chosen,
            reason=f"score {best_score:.2f} is under {min_score:.2f} (setting tag_min_score)",
        )
    if len(ordered) > 1 and rank(ordered[1]) == rank(chosen):
        tied = tuple(c for c in ordered if rank(c) == rank(chosen))
        ids = ", ".join(str(c.id) for c in tied)
        return RecordingChoice(
            "ambiguous",
            chosen,
            reason=f"recordings tie on tags and submissions: {ids}",
            tied=tied,
        )
    return RecordingChoice("matched", chosen)
