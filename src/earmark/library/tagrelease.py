"""Which release a recording is tagged from, alone or with the other files of its folder
(docs/tagging.md, "Choosing the release"). Pure functions, no I/O.

A release is ranked by, in this order: status Official first; its release group's type in the
preferred order (a secondary type such as Compilation or Live that the list does not name ranks
after every release without one); its country in the preferred order (any of its release
events counts); its medium format in the preferred order; the earliest (``original``) or latest
(``latest``) date, unknown dates last; then its MBID, so the same data always gives the same
choice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from earmark.library.tagmatch import Candidate, ReleaseTrack

ReleaseDate = Literal["original", "latest"]


def split_list(value: str) -> tuple[str, ...]:
    """A comma-separated setting as a tuple of its non-empty items."""
    return tuple(item.strip() for item in value.split(",") if item.strip())


@dataclass(frozen=True)
class ReleasePreferences:
    countries: tuple[str, ...] = ()
    formats: tuple[str, ...] = ("Digital Media", "CD")
    types: tuple[str, ...] = ("Album", "EP", "Single")
    date: ReleaseDate = "original"


def _position(value: str | None, preferred: tuple[str, ...]) -> int:
    folded = [p.casefold() for p in preferred]
    if value is not None and value.casefold() in folded:
        return folded.index(value.casefold())
    return len(preferred)


def _date_key(date: str | None, order: ReleaseDate) -> tuple[int, str]:
    if not date:
        return (1, "")
    if order == "original":
        return (0, date)
    # Latest first: invert each character so that a plain sort puts later dates first.
    return (0, "".join(chr(0x10FFFF - ord(c)) for c in date))


def release_rank(track: ReleaseTrack, prefs: ReleasePreferences) -> tuple[object, ...]:
    """The sort key of a release track: lower is preferred (the module doc's order)."""
    album = track.album
    listed = {t.casefold() for t in prefs.types}
    unlisted_secondary = any(t.casefold() not in listed for t in album.secondary_types)
    countries = [_position(c, prefs.countries) for c in album.countries] or [len(prefs.countries)]
    return (
        0 if (album.status or "").casefold() == "official" else 1,
        unlisted_secondary,
        _position(album.type, prefs.types),
        min(countries),
        _position(track.format, prefs.formats),
        _date_key(album.date, prefs.date),
        album.id,
        track.disc or 0,
        track.number or 0,
    )


def choose_release(
    tracks: Sequence[ReleaseTrack], prefs: ReleasePreferences
) -> ReleaseTrack | None:
    """The preferred appearance of a recording, or None when it is on no release."""
    return min(tracks, key=lambda t: release_rank(t, prefs)) if tracks else None


def original_date(candidate: Candidate, track: ReleaseTrack) -> str | None:
    """The earliest date among the releases of ``track``'s release group that hold this
    recording (the mirror's lookup does not carry the group's own first release date)."""
    group = track.album.release_group_id
    dates = [
        t.album.date
        for t in candidate.tracks
        if t.album.date
        and (
            (group is not None and t.album.release_group_id == group)
            or t.album.id == track.album.id
        )
    ]
    return min(dates) if dates else track.album.date


@dataclass(frozen=True)
class AlbumChoice:
    """The release a folder is tagged from, and how many of its files it covers."""

    album_id: str | None
    covered: int
    files: int


def choose_album(
    folder: Sequence[Candidate | None], prefs: ReleasePreferences
) -> tuple[AlbumChoice, list[ReleaseTrack | None]]:
    """Album mode: the release that holds the most of the folder's recordings (ties: the
    preferred release of those), and each file's track on it; a file whose recording is not on
    that release keeps its own preferred release. ``None`` entries (files without a chosen
    recording) are left out and get None."""
    covering: dict[str, set[int]] = {}
    best_track: dict[str, ReleaseTrack] = {}
    for index, candidate in enumerate(folder):
        for track in candidate.tracks if candidate is not None else ():
            covering.setdefault(track.album.id, set()).add(index)
            held = best_track.get(track.album.id)
            if held is None or release_rank(track, prefs) < release_rank(held, prefs):
                best_track[track.album.id] = track
    if not covering:
        return AlbumChoice(None, 0, len(folder)), [None] * len(folder)
    album_id = min(covering, key=lambda a: (-len(covering[a]), release_rank(best_track[a], prefs)))
    chosen: list[ReleaseTrack | None] = []
    for candidate in folder:
        if candidate is None:
            chosen.append(None)
            continue
        on_album = [t for t in candidate.tracks if t.album.id == album_id]
        chosen.append(choose_release(on_album or list(candidate.tracks), prefs))
    return AlbumChoice(album_id, len(covering[album_id]), len(folder)), chosen
