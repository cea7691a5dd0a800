"""Recently looked-up MusicBrainz metadata, per process: popular recordings skip the mirror.

:func:`~earmark.musicbrainz.metadata.lookup_metadata` costs three statements and the assembly
of their rows. Lookups keep asking for the same popular recordings, and the mirror changes
only when it replicates (hourly for a MusicBrainz mirror), so the web service keeps what it
assembled for ``ttl`` seconds (setting ``musicbrainz_cache_ttl``), at most ``size`` MBIDs
(``musicbrainz_cache_size``; least recently used leave first). An answer may therefore be up to
``ttl`` seconds older than the mirror.

Each requested MBID is remembered with what the lookup made of it: the recording (under its
own MBID, or under the MBID it was merged into) or "missing", separately for each shape of
lookup (releases, release groups, ISRCs), since a recording loaded without releases cannot
answer a lookup that wants them. Missing MBIDs and redirects are reported again from the cache,
so the cron hears of them exactly as without it. The cached objects are frozen dataclasses:
sharing them between requests and threads is safe.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sqlalchemy.engine import Connection

from earmark.musicbrainz.metadata import MetadataLookup, Recording, lookup_metadata, normalize_mbid
from earmark.ttlcache import TtlCache


@dataclass(frozen=True, slots=True)
class Shape:
    """What a lookup loads besides the recordings (``lookup_metadata``'s keyword arguments)."""

    releases: bool
    release_groups: bool
    isrcs: bool


@dataclass(frozen=True, slots=True)
class _Known:
    """What one requested MBID resolved to: ``current`` is None when MusicBrainz lacks it."""

    current: str | None
    recording: Recording | None


class MetadataCache:
    """The lookups of :func:`lookup_metadata`, remembered per MBID (see the module docstring)."""

    def __init__(self, ttl: float, size: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._entries: TtlCache[_Known] = TtlCache(ttl, size, clock)

    def lookup(
        self,
        conn: Connection,
        mbids: Iterable[str],
        *,
        releases: bool = False,
        release_groups: bool = False,
        isrcs: bool = False,
    ) -> MetadataLookup:
        """As :func:`lookup_metadata` (which it calls for the MBIDs it does not hold)."""
        shape = Shape(releases or release_groups, release_groups, isrcs)
        wanted = sorted({normalize_mbid(mbid) for mbid in mbids})
        known: dict[str, _Known] = {}
        unknown: list[str] = []
        for mbid in wanted:
            found = self._entries.get((mbid, shape))
            if found is None:
                unknown.append(mbid)
            else:
                known[mbid] = found
        if unknown:
            fresh = lookup_metadata(
                conn,
                unknown,
                releases=shape.releases,
                release_groups=shape.release_groups,
                isrcs=shape.isrcs,
            )
            for mbid in unknown:
                current = fresh.resolve(mbid)
                recording = fresh.recordings.get(current)
                entry = _Known(current, recording) if recording is not None else _Known(None, None)
                known[mbid] = entry
                self._entries.put((mbid, shape), entry)
        return _combine(wanted, known)

    def clear(self) -> None:
        self._entries.clear()


def _combine(wanted: list[str], known: dict[str, _Known]) -> MetadataLookup:
    recordings: dict[str, Recording] = {}
    redirects: dict[str, str] = {}
    missing: list[str] = []
    for mbid in wanted:
        entry = known[mbid]
        if entry.current is None or entry.recording is None:
            missing.append(mbid)
            continue
        recordings[entry.current] = entry.recording
        if entry.current != mbid:
            redirects[mbid] = entry.current
    return MetadataLookup(recordings, redirects, tuple(missing))
