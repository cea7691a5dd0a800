"""The blocking part of a lookup, run in one worker thread per request (performance: one hop).

1. Each fingerprint query is searched (fast mode, score > 0.4, duration ± maxdurationdiff, at
   most 10 matches) and de-duplicated by track, best first (reference §3.2, §8). Each trackid
   query is resolved, following a merge (one statement for all of them); it answers score 1.0
   and echoes the requested gid while its links come from the surviving track (§17 quirk 5).
2. When ``meta`` asks for something: :func:`earmark.musicbrainz.enrich.read_links` (the
   tracks' MBID links and user metadata) and :func:`~earmark.musicbrainz.enrich.add_metadata`
   (the mirror's metadata), once for the whole response. MBIDs MusicBrainz does not know, or
   knows under another MBID, are reported to the cron (``check-reported-mbids`` merges
   redirects and times unknown ones).
3. An outage (index, fingerprint database or mirror) is error 13 "try again later", never a
   false "no match" (the complaint of reference §18.5 and §18.9).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import sqlalchemy.exc
from sqlalchemy.engine import Connection

from earmark.api import errors
from earmark.api.params import Suffix
from earmark.api.services import ApiServices
from earmark.db import tracks
from earmark.db.engine import read_connection
from earmark.db.links import MbidLink
from earmark.musicbrainz.enrich import ResultLinks, add_metadata, read_links
from earmark.musicbrainz.flags import MetaFlags, Mode
from earmark.search import (
    LOOKUP_LIMIT,
    LOOKUP_MIN_SCORE,
    Searcher,
    SearchUnavailableError,
    best_per_track,
)

log = logging.getLogger(__name__)

Json = dict[str, Any]

#: What makes a lookup answer 13: the index, or a database that cannot be reached or answer
#: in time (connection refused, statement timeout, pool exhausted).
OUTAGES: tuple[type[Exception], ...] = (
    SearchUnavailableError,
    sqlalchemy.exc.OperationalError,
    sqlalchemy.exc.InterfaceError,
    sqlalchemy.exc.TimeoutError,
)


#: The range of ``fingerprint.length`` (a smallint).
MIN_LENGTH, MAX_LENGTH = -32768, 32767


@dataclass(frozen=True, slots=True)
class LookupQuery:
    """One parsed query: a fingerprint with its duration, or a track id (``requested`` keeps
    the text as sent, which the answer echoes)."""

    index: Suffix
    duration: int = 0
    items: npt.NDArray[np.uint32] | None = None
    trackid: uuid.UUID | None = None
    requested: str = ""


@dataclass(frozen=True)
class LookupWork:
    queries: Sequence[LookupQuery]
    flags: MetaFlags
    max_duration_diff: int


@dataclass(frozen=True, slots=True)
class _Hit:
    result: Json
    track_id: int
    #: The track's enabled MBID links when the search read them (fingerprint queries).
    links: list[MbidLink] | None = None


def run_lookup(services: ApiServices, work: LookupWork) -> list[list[Json]]:
    """The results of each query, in query order, with the metadata ``work.flags`` ask for.

    A pooled connection found broken (the database restarted since it was opened) is retried
    once on a fresh one: the pool has replaced its connections by then.
    """
    for attempt in (1, 2):
        try:
            return _run(services, work)
        except OUTAGES as exc:
            if attempt == 1 and getattr(exc, "connection_invalidated", False):
                continue
            log.warning("lookup answered 13 (service unavailable): %s", exc)
            raise errors.service_unavailable() from None
    raise AssertionError("unreachable")


def _run(services: ApiServices, work: LookupWork) -> list[list[Json]]:
    mode = work.flags.mode
    mirror = services.mirror
    with read_connection(services.dbs.fingerprint) as conn:
        per_query = _find(conn, services.searcher, work)
        flat = [hit for hits in per_query for hit in hits]
        result_links = (
            read_links(conn, [(hit.track_id, hit.links) for hit in flat], work.flags)
            if flat and mode is not Mode.NONE
            else None
        )
        if result_links is not None and mirror is not None and mirror.engine is conn.engine:
            enrich_results(services, [hit.result for hit in flat], result_links, work.flags, conn)
            result_links = None
    if result_links is not None:
        enrich_results(services, [hit.result for hit in flat], result_links, work.flags)
    return [[hit.result for hit in hits] for hits in per_query]


def _find(conn: Connection, searcher: Searcher, work: LookupWork) -> list[list[_Hit]]:
    gids = [q.trackid for q in work.queries if q.trackid is not None]
    resolved = tracks.get_many_by_gid(conn, gids) if gids else {}
    found: list[list[_Hit]] = []
    for query in work.queries:
        if query.trackid is not None:
            track = resolved.get(query.trackid)
            hit = _Hit({"id": query.requested, "score": 1.0}, track.id) if track else None
            found.append([hit] if hit else [])
            continue
        assert query.items is not None
        duration = _searchable_duration(query.duration, work.max_duration_diff)
        if duration is None:
            found.append([])
            continue
        matches = searcher.search(
            conn,
            query.items,
            duration,
            mode="fast",
            max_duration_diff=work.max_duration_diff,
            min_score=LOOKUP_MIN_SCORE,
            limit=LOOKUP_LIMIT,
            strict=True,
            with_links=work.flags.mode is not Mode.NONE,
        )
        found.append(
            [
                _Hit({"id": str(m.track_gid), "score": score_json(m.score)}, m.track_id, m.links)
                for m in best_per_track(matches)
            ]
        )
    return found


def _searchable_duration(duration: int, max_duration_diff: int) -> int | None:
    """The duration to search with, or None when no stored fingerprint can be that long.

    ``fingerprint.length`` is a smallint: a window reaching past its range would fail the
    statement on PostgreSQL (``duration=10**40`` must be "no match", not error 5). A window
    that only overlaps the edge of the range is moved inside it: near 32767 s (9 hours) it
    then admits a few seconds more than asked, harmless next to failing.
    """
    if duration - max_duration_diff > MAX_LENGTH or duration + max_duration_diff < MIN_LENGTH:
        return None
    return max(MIN_LENGTH + max_duration_diff, min(MAX_LENGTH - max_duration_diff, duration))


def score_json(score: float) -> float:
    """A score as AcoustID answers it: its ``real`` (float4) column read back as text, six
    significant digits (``0.929099``, not ``0.9290990829467773``)."""
    return float(f"{score:.6g}")


def enrich_results(
    services: ApiServices,
    results: list[Json],
    result_links: list[ResultLinks],
    flags: MetaFlags,
    shared: Connection | None = None,
) -> None:
    """Add the MusicBrainz metadata ``flags`` ask for to ``results`` (lookup and identify)."""
    enrichment = add_metadata(
        services.mirror, results, result_links, flags, services.metadata_cache, shared=shared
    )
    # Both kinds need the cron: a redirect's links are merged, an unknown MBID's clock starts.
    reported = set(enrichment.missing) | set(enrichment.redirects)
    if reported:
        services.counters.missing_mbids.report(sorted(reported))
