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

The JSON of a cached recording (:func:`~earmark.musicbrainz.assemble.recording_tree`, per set of
``meta`` flags) is kept beside it, and used only while the cache still answers that very
recording object: a tree is never older than the recording it was built from. Responses share
these trees read-only (:func:`~earmark.musicbrainz.assemble.recording_trees`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sqlalchemy.engine import Connection

from earmark.musicbrainz.assemble import Json, recording_trees
from earmark.musicbrainz.flags import MetaFlags
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
        self._trees: TtlCache[tuple[Recording, Json]] = TtlCache(ttl, size, clock)

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

    def trees(self, recordings: dict[str, Recording], flags: MetaFlags) -> dict[str, Json]:
        """:func:`~earmark.musicbrainz.assemble.recording_trees`, from the trees built before
        for these very recording objects when there are."""
        trees: dict[str, Json] = {}
        todo: dict[str, Recording] = {}
        for mbid, recording in recordings.items():
            found = self._trees.get((mbid, flags))
            if found is not None and found[0] is recording:
                trees[mbid] = found[1]
            else:
                todo[mbid] = recording
        for mbid, tree in recording_trees(todo, flags).items():
            self._trees.put((mbid, flags), (todo[mbid], tree))
            trees[mbid] = tree
        return trees

    def clear(self) -> None:
        self._entries.clear()
        self._trees.clear()


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
