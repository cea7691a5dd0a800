"""``/v2/lookup`` and the legacy ``/lookup``: fingerprints or track ids → AcoustID tracks with
the MusicBrainz metadata ``meta`` asks for (reference §3, §5.8, quirks §17).

This module validates the request in the reference's order (format → client → meta →
maxdurationdiff → queries), admits it, hands the work to :mod:`earmark.api.lookup_work` in one
thread hop, counts it and shapes the response. Validation errors are never rate-limited.
"""

from __future__ import annotations

from dataclasses import dataclass

from earmark.api import errors
from earmark.api.call import Call, Handler, Payload
from earmark.api.errors import ApiError
from earmark.api.lookup_work import Json, LookupQuery, LookupWork, run_lookup
from earmark.api.params import (
    Params,
    Suffix,
    decode_fingerprint,
    parse_int,
    parse_uuid,
    suffixed,
    truthy_int,
)
from earmark.musicbrainz.flags import Flag, MetaFlags, parse_meta
from earmark.search import DEFAULT_MAX_DURATION_DIFF

MAX_DURATION_DIFF_RANGE = (1, 30)
#: Per request, on the queries actually used (reference §3.1).
MAX_FINGERPRINT_QUERIES = 20
MAX_TRACKID_QUERIES = 100


@dataclass(frozen=True)
class LookupRequest:
    application_id: int
    flags: MetaFlags
    max_duration_diff: int
    queries: list[LookupQuery]
    batch: bool
    legacy: bool


async def parse_request(call: Call, *, legacy: bool) -> LookupRequest:
    """Validate everything, in the reference's order; raises the first error it meets."""
    app = await call.application()
    params = call.params
    flags = _legacy_flags(params.get("meta")) if legacy else parse_meta(params.get("meta"))
    max_duration_diff = _max_duration_diff(params)
    batch = truthy_int(params.get("batch"))
    queries = parse_queries(params, batch=batch, duration_name="length" if legacy else "duration")
    return LookupRequest(app.id, flags, max_duration_diff, queries, batch, legacy)


def _legacy_flags(meta: str | None) -> MetaFlags:
    """v1: any non-empty ``meta`` other than ``0`` asks for the MBIDs only (§5.8)."""
    if (meta or "").strip() in ("", "0"):
        return MetaFlags()
    return MetaFlags(frozenset({Flag.RECORDINGIDS}))


def _max_duration_diff(params: Params) -> int:
    value = parse_int(params.get("maxdurationdiff"))  # not an integer: as if absent
    if value is None:
        return DEFAULT_MAX_DURATION_DIFF
    low, high = MAX_DURATION_DIFF_RANGE
    if not low <= value <= high:
        raise errors.invalid_max_duration_diff("maxdurationdiff")
    return value


def parse_queries(
    params: Params, *, batch: bool, duration_name: str = "duration"
) -> list[LookupQuery]:
    """The queries of the request, in suffix order (no suffix first).

    A query that does not parse is dropped, unless it is the last one and none before it
    parsed: then its error is the answer (§17 quirk 3). Without ``batch`` only the first
    parsed query is used. More than 20 fingerprint or 100 trackid queries → error 19.
    """
    suffixes = params.suffixes("fingerprint", "trackid")
    if not suffixes:
        raise errors.missing_parameter("fingerprint")
    queries: list[LookupQuery] = []
    fingerprints = trackids = 0
    last = len(suffixes) - 1
    for position, suffix in enumerate(suffixes):
        try:
            query = parse_query(params, suffix, duration_name)
        except ApiError:
            if position == last and not queries:
                raise
            continue
        queries.append(query)
        if not batch:
            break
        if query.trackid is None:
            fingerprints += 1
        else:
            trackids += 1
        # Once over a limit the answer is error 19 whatever follows: stop decoding.
        if fingerprints > MAX_FINGERPRINT_QUERIES or trackids > MAX_TRACKID_QUERIES:
            raise errors.request_too_large()
    return queries


def parse_query(params: Params, suffix: Suffix, duration_name: str = "duration") -> LookupQuery:
    """One query: ``trackid[.N]`` when given (a bad UUID → 7), else ``duration[.N]`` (missing,
    zero or not an integer → 2) and ``fingerprint[.N]`` (absent → 2; empty, undecodable or not
    algorithm 1 → 3)."""
    trackid_name = suffixed("trackid", suffix)
    trackid = params.get(trackid_name)
    if trackid:  # an empty value counts as absent
        return LookupQuery(suffix, trackid=parse_uuid(trackid, trackid_name), requested=trackid)
    duration_key = suffixed(duration_name, suffix)
    duration = parse_int(params.get(duration_key))
    if not duration:
        raise errors.missing_parameter(duration_key)
    fingerprint_name = suffixed("fingerprint", suffix)
    text = params.get(fingerprint_name)
    if text is None:
        raise errors.missing_parameter(fingerprint_name)
    return LookupQuery(suffix, duration=duration, items=decode_fingerprint(text))


async def _handle(call: Call, *, legacy: bool) -> Payload:
    request = await parse_request(call, legacy=legacy)
    await call.admit(application_id=request.application_id)
    work = LookupWork(request.queries, request.flags, request.max_duration_diff)
    per_query = await call.thread(_run_and_count, call, work)
    if legacy:
        for results in per_query:
            _rename_recordings(results)
    if not request.batch:
        return {"results": per_query[0]}
    return {
        "fingerprints": [
            {"index": query.index, "results": results}
            for query, results in zip(request.queries, per_query, strict=True)
        ]
    }


def _run_and_count(call: Call, work: LookupWork) -> list[list[Json]]:
    """The lookup, then its count (a hit or miss per query), in one worker thread."""
    per_query = run_lookup(call.services, work)
    hits = sum(1 for results in per_query if results)
    call.count(hits=hits, misses=len(per_query) - hits)
    return per_query


def _rename_recordings(results: list[Json]) -> None:
    """v1 names the recordings list ``tracks`` (§5.8)."""
    for result in results:
        if "recordings" in result:
            result["tracks"] = result.pop("recordings")


async def lookup(call: Call) -> Payload:
    """``/v2/lookup``."""
    return await _handle(call, legacy=False)


async def v1_lookup(call: Call) -> Payload:
    """The legacy ``/lookup``: always XML, ``length`` for the duration, MBIDs only."""
    return await _handle(call, legacy=True)


ROUTES: list[tuple[str, str, Handler]] = [("/v2/lookup", "lookup", lookup)]
LEGACY_ROUTES: list[tuple[str, str, Handler]] = [("/lookup", "v1_lookup", v1_lookup)]
