"""The blocking part of a lookup, run in one worker thread per request (performance: one hop).

1. Each fingerprint query is searched (fast mode, score > 0.4, duration ± maxdurationdiff, at
   most 10 matches) and de-duplicated by track, best first (reference §3.2, §8). Each trackid
   query is resolved, following a merge (one statement for all of them); it answers score 1.0
   and echoes the requested gid while its links come from the surviving track (§17 quirk 5).
2. When ``meta`` asks for something: the tracks' enabled MBID links (and user metadata for
   ``usermeta``), then :func:`earmark.musicbrainz.enrich.inject_metadata` on the mirror, once
   for the whole response. MBIDs MusicBrainz does not know, or knows under another MBID, are
   reported to the cron (``check-reported-mbids`` merges redirects and times unknown ones).
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
from earmark.db import links, tracks
from earmark.db.engine import read_connection
from earmark.db.meta import Meta
from earmark.musicbrainz.assemble import prune_user_entry, recording_tree
from earmark.musicbrainz.enrich import (
    MAX_USER_META_PER_TRACK,
    MbidLink,
    ResultLinks,
    UserMeta,
    inject_metadata,
    user_recording,
)
from earmark.musicbrainz.flags import Flag, MetaFlags, Mode
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
class Query:
    """One parsed query: a fingerprint with its duration, or a track id (``requested`` keeps
    the text as sent, which the answer echoes)."""

    index: Suffix
    duration: int = 0
    items: npt.NDArray[np.uint32] | None = None
    trackid: uuid.UUID | None = None
    requested: str = ""


@dataclass(frozen=True)
class LookupWork:
    queries: Sequence[Query]
    flags: MetaFlags
    max_duration_diff: int


@dataclass(frozen=True, slots=True)
class _Hit:
    result: Json
    track_id: int
    #: The track's enabled MBID links when the search read them (fingerprint queries).
    links: list[links.MbidLink] | None = None


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
        result_links = _links(conn, flat, work.flags) if flat and mode is not Mode.NONE else None
        if result_links is not None and mirror is not None and mirror.engine is conn.engine:
            _enrich(services, [hit.result for hit in flat], result_links, work.flags, conn)
            result_links = None
    if result_links is not None:
        _enrich(services, [hit.result for hit in flat], result_links, work.flags)
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


def _links(conn: Connection, hits: Sequence[_Hit], flags: MetaFlags) -> list[ResultLinks]:
    track_ids = [hit.track_id for hit in hits]
    mbids = {hit.track_id: hit.links for hit in hits if hit.links is not None}
    unread = [hit.track_id for hit in hits if hit.links is None]  # trackid queries
    if unread:
        mbids.update(links.mbids_for_tracks(conn, unread))
    user_meta: dict[int, list[links.UserMeta]] = {}
    if Flag.USERMETA in flags and flags.mode is Mode.RECORDINGS:
        user_meta = links.meta_for_tracks(conn, track_ids, limit_per_track=MAX_USER_META_PER_TRACK)
    return [
        ResultLinks(
            [MbidLink(str(link.mbid), link.submission_count) for link in mbids[track_id]],
            [_user_meta(row.meta) for row in user_meta.get(track_id, ())],
        )
        for track_id in track_ids
    ]


def _user_meta(meta: Meta) -> UserMeta:
    return UserMeta(
        track=meta.track,
        artist=meta.artist,
        album=meta.album,
        album_artist=meta.album_artist,
        track_no=meta.track_no,
        disc_no=meta.disc_no,
        year=meta.year,
    )


def _enrich(
    services: ApiServices,
    results: list[Json],
    result_links: list[ResultLinks],
    flags: MetaFlags,
    shared: Connection | None = None,
) -> None:
    """MusicBrainz metadata into ``results``; on the lookup's own connection (``shared``) when
    the mirror lives in the fingerprint database."""
    mirror = services.mirror
    if mirror is None:
        without_mirror(results, result_links, flags)
        return
    cache = services.metadata_cache
    if shared is not None:
        enrichment = inject_metadata(mirror.on(shared), results, result_links, flags, cache)
    else:
        with mirror.read() as conn:
            enrichment = inject_metadata(conn, results, result_links, flags, cache)
    # Both kinds need the cron: a redirect's links are merged, an unknown MBID's clock starts.
    reported = set(enrichment.missing) | set(enrichment.redirects)
    if reported:
        services.counters.missing_mbids.report(sorted(reported))


def without_mirror(results: list[Json], result_links: list[ResultLinks], flags: MetaFlags) -> None:
    """Metadata when no MusicBrainz mirror is configured: what the lookup gives when the
    mirror knows none of the MBIDs (ids only, ``sources`` if asked, user metadata for
    ``usermeta``, empty release lists), and nothing is reported: without a mirror nobody can
    tell a missing MBID from one the mirror was never given."""
    mode = flags.mode
    for result, found in zip(results, result_links, strict=True):
        if mode in (Mode.RECORDINGS, Mode.M2):
            entries: list[Json] = []
            for link in sorted(found.mbids, key=lambda link: link.mbid):
                entry: Json = {"id": link.mbid}
                if mode is Mode.RECORDINGS and Flag.SOURCES in flags:
                    entry["sources"] = link.sources
                entries.append(entry)
            if mode is Mode.RECORDINGS and Flag.USERMETA in flags:
                for meta in found.user_meta[:MAX_USER_META_PER_TRACK]:
                    user_entry = prune_user_entry(recording_tree(user_recording(meta), flags))
                    if user_entry:
                        entries.append(user_entry)
            if entries:
                result["recordings"] = entries
        elif found.mbids:
            result["releasegroups" if mode is Mode.RELEASE_GROUPS else "releases"] = []
