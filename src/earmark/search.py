"""The lookup pipeline's search: fingerprint → matching stored fingerprints (reference §8).

1. Query terms: :func:`~earmark.chromaprint.compare.extract_query` (≤120 masked items).
2. Candidates from the fingerprint index, ranked by shared terms. Fast mode (lookups) keeps
   candidates whose hits exceed 40 % of the top candidate's, at most 10; slow mode (the
   importer) 10 %, at most 20, plus the fingerprints the index has not confirmed yet (the
   ``index_outbox``), so an import never misses a fingerprint written moments before.
3. Re-scoring in the database's fingerprint rows: duration within ±``max_duration_diff``,
   ``compare2(stored, query, 80) > min_score`` (0.4 for lookups, 0.75 for the importer).
4. Order by score, then fingerprint id; keep ``limit``.

Merged tracks need no special case: a merge moves fingerprints to the surviving track.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from sqlalchemy.engine import Connection

from earmark.chromaprint.compare import compare2, extract_query
from earmark.db import fingerprints
from earmark.db.links import MbidLink
from earmark.index.client import IndexClient
from earmark.index.engine import EngineError, IndexNotFoundError
from earmark.tracing import child_span

log = logging.getLogger(__name__)

SearchMode = Literal["fast", "slow"]

#: compare2's maximum alignment offset, in items (reference §8.3).
MAX_OFFSET = 80
#: A lookup keeps matches scoring above this (TRACK_GROUP_MERGE_THRESHOLD).
LOOKUP_MIN_SCORE = 0.4
#: Lookup results per fingerprint query (MAX_RESULTS_PER_FINGERPRINT_QUERY).
LOOKUP_LIMIT = 10
DEFAULT_MAX_DURATION_DIFF = 7
#: Slow mode refuses to work (the importer retries later) when more fingerprints than this
#: wait for the index: by then the index is down or far behind.
MAX_UNINDEXED = 10_000


@dataclass(frozen=True)
class ModeParams:
    hits_pct: int
    max_candidates: int
    scan_unindexed: bool


MODES: dict[SearchMode, ModeParams] = {
    "fast": ModeParams(hits_pct=40, max_candidates=10, scan_unindexed=False),
    "slow": ModeParams(hits_pct=10, max_candidates=20, scan_unindexed=True),
}


@dataclass(frozen=True, slots=True)
class Match:
    fingerprint_id: int
    track_id: int
    track_gid: uuid.UUID
    score: float
    length: int
    #: The track's enabled MBID links, when the search was asked for them.
    links: list[MbidLink] | None = None


class SearchUnavailableError(Exception):
    """The index could not be asked (slow mode raises it; fast mode returns no candidates
    unless asked to be ``strict``)."""


@dataclass
class Searcher:
    """Searches one index (``index_name`` on ``index``) and the fingerprint database."""

    index: IndexClient
    index_name: str
    timeout_ms: int = 1000

    def search(
        self,
        conn: Connection,
        items: Sequence[int] | npt.NDArray[np.integer],
        duration: int,
        *,
        mode: SearchMode = "fast",
        max_duration_diff: int = DEFAULT_MAX_DURATION_DIFF,
        min_score: float = LOOKUP_MIN_SCORE,
        limit: int | None = LOOKUP_LIMIT,
        strict: bool = False,
        with_links: bool = False,
    ) -> list[Match]:
        """Stored fingerprints matching ``items`` (of a ``duration``-second recording).

        ``strict``: raise :class:`SearchUnavailableError` in fast mode too when the index cannot
        be asked, instead of answering from no candidates. The web service's lookups use it:
        a false "no match" during an outage is worse for a client than "try again later".
        ``with_links``: each match with its track's enabled MBID links (read with the
        candidates' fingerprints, no statement more).
        """
        query_items = np.asarray(items)
        terms = extract_query(query_items)
        if terms.size == 0:
            return []
        params = MODES[mode]
        # The outbox is read before the index is asked: a fingerprint flushed to the index (and
        # dropped from the outbox) by another importer in between is then found in the index.
        waiting_ids = (
            fingerprints.unindexed_ids(conn, MAX_UNINDEXED + 1) if params.scan_unindexed else []
        )
        candidate_ids = self._candidates(conn, terms, params, mode == "slow" or strict)
        stored = fingerprints.get_many(
            conn,
            candidate_ids,
            duration=duration,
            max_duration_diff=max_duration_diff,
            with_links=with_links,
        )
        if params.scan_unindexed:
            if len(waiting_ids) > MAX_UNINDEXED:
                # Scanning more would be slow, and scanning part would miss matches.
                raise SearchUnavailableError("the fingerprint index is too far behind")
            waiting = fingerprints.get_many(
                conn,
                waiting_ids,
                duration=duration,
                max_duration_diff=max_duration_diff,
                with_links=with_links,
            )
            seen = {s.id for s in stored}
            stored += [s for s in waiting if s.id not in seen and _shares_terms(s.items, terms)]
        matches = []
        for candidate in stored:
            score = compare2(candidate.items, query_items, MAX_OFFSET)
            if score > min_score:
                matches.append(
                    Match(
                        candidate.id,
                        candidate.track_id,
                        candidate.track_gid,
                        score,
                        candidate.length,
                        candidate.links,
                    )
                )
        matches.sort(key=lambda m: (-m.score, m.fingerprint_id))
        return matches if limit is None else matches[:limit]

    def _candidates(
        self, conn: Connection, terms: npt.NDArray[np.uint32], params: ModeParams, strict: bool
    ) -> list[int]:
        try:
            with child_span("index search", {"earmark.index": self.index_name}):
                hits = self.index.search(
                    self.index_name,
                    terms.tolist(),
                    limit=params.max_candidates,
                    score_pct=params.hits_pct,
                    timeout_ms=self.timeout_ms,
                )
        except IndexNotFoundError:
            # Fine while nothing was ever indexed (the outbox holds every fingerprint). A lost
            # index must not make the importer create duplicate tracks: rebuild it first.
            if strict and fingerprints.count(conn) > fingerprints.outbox_size(conn):
                raise SearchUnavailableError(
                    f"fingerprint index {self.index_name!r} not found; run `earmark index rebuild`"
                ) from None
            return []
        except EngineError as exc:  # the server's errors, and IndexConnectionError
            if strict:
                raise SearchUnavailableError(f"fingerprint index unavailable: {exc}") from exc
            log.warning("fingerprint index unavailable, lookup answered without it: %s", exc)
            return []
        if not hits:
            return []
        # The reference keeps hits strictly above the percentage of the top count.
        threshold = hits[0].score * params.hits_pct / 100
        return [hit.id for hit in hits if hit.score > threshold]


#: Query terms of fingerprints waiting in the outbox, by their items (slow mode re-reads the
#: same waiting fingerprints for every import until the next flush). Cleared when full.
_WAITING_TERMS: dict[bytes, npt.NDArray[np.uint32]] = {}
_WAITING_TERMS_MAX = 1024


def _shares_terms(items: npt.NDArray[np.integer], terms: npt.NDArray[np.uint32]) -> bool:
    key = items.tobytes()
    own = _WAITING_TERMS.get(key)
    if own is None:
        if len(_WAITING_TERMS) >= _WAITING_TERMS_MAX:
            _WAITING_TERMS.clear()
        own = _WAITING_TERMS[key] = extract_query(items)
    return bool(np.intersect1d(own, terms, assume_unique=True).size)


def best_per_track(matches: Sequence[Match]) -> list[Match]:
    """The first (best) match of each track, in match order (reference §3.2)."""
    seen: set[int] = set()
    best = []
    for match in matches:
        if match.track_id not in seen:
            seen.add(match.track_id)
            best.append(match)
    return best
