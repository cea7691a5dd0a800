"""The `/v2` web service described as data: every endpoint and its parameters.

This table (with the vocabulary, common parameters, errors and ``meta`` flags of
:mod:`earmark.api.spec.terms`, re-exported here) is the single source of the OpenAPI document
(:mod:`earmark.api.spec.openapi`), hence of the docs page that renders it, and of the docs
tests that compare it with the routes the app serves and the parameters the handlers read.
Facts come from the reference (acoustid-server.md §2-§6, §17) and Earmark's own choices
(docs/compatibility.md).
"""

from __future__ import annotations

from earmark.api.spec.internal import INTERNAL
from earmark.api.spec.terms import (
    BATCH,
    CLIENT,
    CLIENTVERSION,
    COMMON_ERRORS,
    COMMON_PARAMS,
    ERRORS,
    META_FLAGS,
    META_SHORTCUTS,
    RESPONSE_FORMATS,
    USER,
    Endpoint,
    ErrorInfo,
    Example,
    MetaFlag,
    Param,
    suffixed_param,
)

__all__ = [
    "COMMON_ERRORS",
    "COMMON_PARAMS",
    "ENDPOINTS",
    "ERRORS",
    "META_FLAGS",
    "META_SHORTCUTS",
    "RESPONSE_FORMATS",
    "Endpoint",
    "ErrorInfo",
    "Example",
    "MetaFlag",
    "Param",
]

MBID_EXAMPLE = "b81f83ee-4da4-11e0-a4ec-7f4d1a3e8a2b"
TRACK_EXAMPLE = "9ff43b6a-4f16-427c-93c2-92307ca505e0"

LOOKUP = Endpoint(
    path="/v2/lookup",
    name="lookup",
    summary="Identify audio by its fingerprint (or fetch a known AcoustID track)",
    description=(
        "Searches the fingerprint index for tracks matching a Chromaprint fingerprint of about "
        "the given duration (score > 0.4, at most 10 results, best first, one per track). "
        "Queries may be batched with `.N` suffixes (`fingerprint.0`, `duration.0`, "
        "`fingerprint.1`, ...): without `batch=1` only the first query that parses is "
        "answered; with it, every one is, under `fingerprints[]` with its `index`. A query "
        "that does not parse is skipped unless it is the last and none before it parsed; then "
        "its error is the answer. At most 20 fingerprint and 100 trackid queries per request "
        "(error 19). `meta` adds MusicBrainz metadata (see the meta flags)."
    ),
    tag="lookup",
    auth="client",
    params=(
        CLIENT,
        Param(
            "clientversion",
            "string",
            "Version of your application; accepted and ignored by lookups.",
            used=False,
        ),
        Param(
            "meta",
            "string",
            "Space-separated `meta` flags (a `+` in a URL is a space): which MusicBrainz "
            "metadata to add. `0` or empty: none; `1`: `recordingids`; `2`: legacy `m2`. "
            "Unknown words are ignored.",
            example="recordings releasegroups compress",
        ),
        Param(
            "maxdurationdiff",
            "integer",
            "Largest difference in seconds between the query's duration and a match's. Not "
            "1-30 → 11; not an integer → ignored.",
            default=7,
            minimum=1,
            maximum=30,
            example="7",
        ),
        BATCH,
        suffixed_param(
            "fingerprint",
            "fingerprint",
            "Compressed Chromaprint fingerprint, URL-safe base64 as `fpcalc` prints it. "
            "Required for each query without `trackid`. Undecodable or empty → 3.",
            example="AQADtMmybfGO8NCNEESLnzHyXNOHeHnG...",
        ),
        suffixed_param(
            "duration",
            "integer",
            "Duration of the audio in whole seconds. Required with `fingerprint`; missing, 0 "
            "or not an integer (e.g. `641.5`) → 2.",
            example="641",
        ),
        suffixed_param(
            "trackid",
            "uuid",
            "Look up this AcoustID track instead of a fingerprint (score 1.0); wins over "
            "`fingerprint` at the same suffix. Not a UUID → 7.",
            example=TRACK_EXAMPLE,
        ),
    ),
    response="LookupResponse",
    errors=(2, 3, 4, 7, 11, 13, 14, 19),
    examples=(
        Example(
            "One fingerprint, with recordings and release groups",
            "client=Xb4Tk9qLw2&duration=641&fingerprint=AQADtMmybfGO8NCNEESLnzHyXNOHeHnG..."
            "&meta=recordings+releasegroups+compress",
            '{"results": [{"id": "9ff43b6a-4f16-427c-93c2-92307ca505e0", "recordings": '
            '[{"artists": [{"id": "6d7b7cd4-254b-4c25-83f6-dd20f98ceacd", "name": "M83"}], '
            '"duration": 639.0, "id": "cd2e7c47-16f5-46c6-a37c-a1eb7bf599ff", '
            '"releasegroups": [{"id": "ddaa2d4d-314e-3e7c-b1d0-f6d207f5aa2f", "title": '
            '"Before the Dawn Heals Us", "type": "Album"}], "title": "Lower Your Eyelids to '
            'Die With the Sun"}], "score": 0.942181}], "status": "ok"}',
        ),
        Example(
            "Two fingerprints in one request",
            "client=Xb4Tk9qLw2&batch=1&duration.0=641&fingerprint.0=AQAD...&duration.1=212"
            "&fingerprint.1=AQAD...",
            '{"fingerprints": [{"index": 0, "results": [{"id": '
            '"9ff43b6a-4f16-427c-93c2-92307ca505e0", "score": 1.0}]}, {"index": 1, '
            '"results": []}], "status": "ok"}',
        ),
    ),
)

SUBMIT = Endpoint(
    path="/v2/submit",
    name="submit",
    summary="Submit fingerprints with what you know about them",
    description=(
        "Stores one submission per fingerprint and MBID (one without MBID) and answers their "
        "ids with status `pending` at once; the importer links them to a track later (poll "
        "`/v2/submission_status`). Several fingerprints go in one request with `.N` suffixes "
        "on every per-fingerprint parameter; suffixes are found from the `fingerprint` keys. "
        "A fingerprint that does not parse is skipped unless it is the last and none before "
        "it parsed. A fingerprint with no MBID, PUID, foreign id or metadata is dropped "
        "silently (not stored, not in the answer). `index` in the answer is the suffix, as a "
        'string (`"0"`), and only present for suffixed input. With `wait=N` the server '
        "waits up to N seconds (at most 10) for the imports and answers the statuses reached "
        "by then, as `/v2/submission_status` does."
    ),
    tag="submit",
    auth="client+user",
    params=(
        CLIENT,
        CLIENTVERSION,
        USER,
        Param(
            "wait",
            "integer",
            "Seconds (at most 10) to wait for the submissions to be imported before "
            "answering; their status may then be `imported`, `skipped` or `failed`. 0 or not "
            "an integer: answer at once.",
            example="1",
        ),
        suffixed_param(
            "fingerprint",
            "fingerprint",
            "Compressed Chromaprint fingerprint (as `fpcalc` prints it). Missing → 2; "
            "undecodable, empty or not algorithm version 1 → 3.",
            required=True,
            example="AQADtMmybfGO8NCNEESLnzHyXNOHeHnG...",
        ),
        suffixed_param(
            "duration",
            "integer",
            "Duration in whole seconds. Missing or not an integer → 2; ≤ 0 or > 32767 → 8.",
            required=True,
            minimum=1,
            maximum=32767,
            example="641",
        ),
        suffixed_param(
            "bitrate",
            "integer",
            "Bitrate in kbit/s. 0 or not an integer: ignored; negative → 9.",
            example="192",
        ),
        suffixed_param("fileformat", "string", "File format (`MP3`, `FLAC`, ...).", example="FLAC"),
        suffixed_param(
            "mbid",
            "uuid",
            "MusicBrainz recording id(s); repeat the parameter for several. Any invalid → 7.",
            repeatable=True,
            example=MBID_EXAMPLE,
        ),
        suffixed_param("puid", "uuid", "MusicIP PUID (retired data). Not a UUID → 7."),
        suffixed_param(
            "foreignid",
            "foreignid",
            "An id in another catalogue, `vendor:id` (vendor: lowercase letters and digits). "
            "Otherwise → 10.",
            example="discogs:12345",
        ),
        suffixed_param("track", "string", "Track title.", example="Lower Your Eyelids to Die"),
        suffixed_param("artist", "string", "Track artist.", example="M83"),
        suffixed_param("album", "string", "Album title.", example="Before the Dawn Heals Us"),
        suffixed_param("albumartist", "string", "Album artist.", example="M83"),
        suffixed_param(
            "trackno", "integer", "Track number (not an integer: dropped).", example="1"
        ),
        suffixed_param("discno", "integer", "Disc number (not an integer: dropped).", example="1"),
        suffixed_param(
            "year", "integer", "Release year (not an integer: dropped).", example="2005"
        ),
    ),
    response="SubmitResponse",
    errors=(2, 3, 4, 6, 7, 8, 9, 10, 14),
    examples=(
        Example(
            "Two fingerprints, the first with an MBID",
            "client=Xb4Tk9qLw2&user=Ua7rG2pQx8&duration.0=641&fingerprint.0=AQAD..."
            f"&mbid.0={MBID_EXAMPLE}&duration.1=212&fingerprint.1=AQAD...&track.1=Intro",
            '{"status": "ok", "submissions": [{"id": 1021, "index": "0", "status": '
            '"pending"}, {"id": 1022, "index": "1", "status": "pending"}]}',
        ),
    ),
)

SUBMISSION_STATUS = Endpoint(
    path="/v2/submission_status",
    name="submission_status",
    summary="What became of submissions",
    description=(
        "One entry per requested id, in request order: `pending` (not imported yet), "
        "`imported` with `result.id` the AcoustID track the fingerprint now belongs to, "
        "`skipped` with a `reason` (nothing to link it to, too few distinct items, ...) or "
        "`failed` with a `reason` (the import kept failing), or `unknown` for an id that "
        "names no submission. Ids that are not integers are ignored."
    ),
    tag="submit",
    auth="client",
    params=(
        CLIENT,
        Param(
            "id",
            "integer",
            "A submission id from `/v2/submit`; repeat for several.",
            repeatable=True,
            example="1021",
        ),
    ),
    response="SubmissionStatusResponse",
    errors=(2, 4, 14),
    examples=(
        Example(
            "Two submissions",
            "client=Xb4Tk9qLw2&id=1021&id=1022",
            '{"status": "ok", "submissions": [{"id": 1021, "result": {"id": '
            '"9ff43b6a-4f16-427c-93c2-92307ca505e0"}, "status": "imported"}, {"id": 1022, '
            '"reason": "no MBID, PUID, foreign id or metadata", "status": "skipped"}]}',
        ),
    ),
)

LIST_BY_MBID = Endpoint(
    path="/v2/track/list_by_mbid",
    name="list_by_mbid",
    summary="AcoustID tracks linked to MusicBrainz recordings",
    description=(
        "No key needed. Without `batch`: the tracks of the first `mbid`; with `batch=1`: one "
        "entry per `mbid`, the MBID echoed as sent. MBIDs are matched in any letter case. "
        "Disabled links (unlinked by a moderator) only with `disabled=1`, marked "
        '`"disabled": true`. Tracks come oldest first.'
    ),
    tag="tracks",
    auth="none",
    params=(
        Param(
            "mbid",
            "uuid",
            "MusicBrainz recording id; repeat for several. Missing → 2, any invalid → 7.",
            required=True,
            repeatable=True,
            example=MBID_EXAMPLE,
        ),
        BATCH,
        Param("disabled", "flag", "An integer other than 0: include disabled links.", example="1"),
    ),
    response="TrackListResponse",
    errors=(2, 7, 14),
    examples=(
        Example(
            "One recording",
            f"mbid={MBID_EXAMPLE}",
            '{"status": "ok", "tracks": [{"id": "9ff43b6a-4f16-427c-93c2-92307ca505e0"}]}',
        ),
        Example(
            "Batch",
            f"batch=1&mbid={MBID_EXAMPLE}&mbid=cd2e7c47-16f5-46c6-a37c-a1eb7bf599ff",
            '{"mbids": [{"mbid": "b81f83ee-4da4-11e0-a4ec-7f4d1a3e8a2b", "tracks": [{"id": '
            '"9ff43b6a-4f16-427c-93c2-92307ca505e0"}]}, {"mbid": '
            '"cd2e7c47-16f5-46c6-a37c-a1eb7bf599ff", "tracks": []}], "status": "ok"}',
        ),
    ),
)

LIST_BY_PUID = Endpoint(
    path="/v2/track/list_by_puid",
    name="list_by_puid",
    summary="AcoustID tracks linked to a MusicIP PUID",
    description=(
        "No key needed. Answers the tracks submissions linked to the PUID (the reference "
        "server always answers an empty list: its PUID data is retired)."
    ),
    tag="tracks",
    auth="none",
    params=(
        Param(
            "puid",
            "uuid",
            "MusicIP PUID. Missing → 2, not a UUID → 7.",
            required=True,
            example="f6e3ab52-4cdd-4f5c-8c2a-2f0a6a0c1b2d",
        ),
    ),
    response="TrackListResponse",
    errors=(2, 7, 14),
    examples=(
        Example(
            "Any PUID",
            "puid=f6e3ab52-4cdd-4f5c-8c2a-2f0a6a0c1b2d",
            '{"status": "ok", "tracks": []}',
        ),
    ),
)

FINGERPRINT = Endpoint(
    path="/v2/fingerprint",
    name="fingerprint",
    summary="A stored fingerprint, by its numeric id",
    description=(
        "No key needed. Answers the fingerprint's hashes (signed 32-bit integers) and "
        "duration in seconds; unknown id → 18 (HTTP 404)."
    ),
    tag="tracks",
    auth="none",
    params=(
        Param(
            "id",
            "integer",
            "Fingerprint id. Missing or not an integer → 2; no such fingerprint → 18.",
            required=True,
            example="42",
        ),
    ),
    response="FingerprintResponse",
    errors=(2, 14, 18),
    examples=(
        Example(
            "A fingerprint",
            "id=42",
            '{"fingerprint": {"duration": 641, "hashes": [-772063964, -772066012, '
            '-1007079116], "id": 42}, "status": "ok"}',
        ),
    ),
)

USER_LOOKUP = Endpoint(
    path="/v2/user/lookup",
    name="user_lookup",
    summary="Check a user key",
    description="Answers the key itself when it belongs to an account; otherwise error 6.",
    tag="users",
    auth="user",
    params=(USER,),
    response="UserResponse",
    errors=(2, 6, 14),
    examples=(
        Example(
            "A valid key", "user=Ua7rG2pQx8", '{"status": "ok", "user": {"apikey": "Ua7rG2pQx8"}}'
        ),
    ),
)

USER_CREATE_ANONYMOUS = Endpoint(
    path="/v2/user/create_anonymous",
    name="user_create_anonymous",
    summary="Create an anonymous account and answer its user key",
    description=(
        "For applications that submit on behalf of people without an account: creates an "
        'account named "Anonymous" (recording the IP and the application) and answers its '
        "user key. Keep the key and reuse it."
    ),
    tag="users",
    auth="client",
    params=(CLIENT, CLIENTVERSION),
    response="UserResponse",
    errors=(2, 4, 14),
    examples=(
        Example(
            "A new key",
            "client=Xb4Tk9qLw2&clientversion=1.2.0",
            '{"status": "ok", "user": {"apikey": "Pq3sV8mZt1"}}',
        ),
    ),
)

USER_CREATE_MUSICBRAINZ = Endpoint(
    path="/v2/user/create_musicbrainz",
    name="user_create_musicbrainz",
    summary="The user key of a MusicBrainz account (found or created)",
    description=(
        "HTTPS only (else 16). The MusicBrainz OAuth access token is checked against the "
        "userinfo URL (setting `musicbrainz_userinfo_url`); refused → 15. The account of that "
        "MusicBrainz user (name compared without case) is found or created."
    ),
    tag="users",
    auth="none",
    params=(
        Param(
            "access_token",
            "string",
            "A MusicBrainz OAuth2 access token (scope `profile`). Missing → 2.",
            required=True,
        ),
    ),
    response="UserResponse",
    errors=(2, 14, 15, 16),
    examples=(
        Example(
            "A valid token",
            "access_token=8mQxTQr6uk3B0Zl1",
            '{"status": "ok", "user": {"apikey": "Hn5cW2eLr7"}}',
        ),
    ),
)


IDENTIFY = Endpoint(
    path="/v2/identify",
    name="identify",
    summary="Identify a clip: an excerpt of any length from anywhere in a track",
    description=(
        "Finds where a clip (5 s or more from anywhere in a track: a radio recording, a DJ "
        "set, the middle of a file) comes from, in the clip index of full-length fingerprints "
        "(docs/clip-identification.md). Send `fingerprint` (compressed base64, any length, "
        "no `duration`), or the audio itself as the request body with `Content-Type: "
        "audio/...` or `application/octet-stream` (at most 1 MiB and 600 s of audio; the other "
        "parameters in the query string). Each result is one part of the clip, in clip order: "
        "the track `id`, `score` (bit agreement at the offset, 0.5 is chance), `offset` "
        "(seconds into the track), `position` (seconds into the clip) and `duration` (seconds "
        "matched); a clip spanning two tracks has two results. Too short (under ~4.6 s) or "
        "silence → 3 with the reason; not audio → 20; longer than 600 s → 19."
    ),
    tag="lookup",
    auth="client",
    params=(
        CLIENT,
        Param(
            "meta",
            "string",
            "As in `/v2/lookup`: which MusicBrainz metadata to add to each result.",
            example="recordings",
        ),
        Param(
            "fingerprint",
            "fingerprint",
            "Compressed Chromaprint fingerprint of the clip, URL-safe base64 as `fpcalc "
            "-length 0` prints it. Required unless the body is audio. Undecodable → 3.",
            example="AQADtMmybfGO8NCNEESLnzHyXNOHeHnG...",
        ),
    ),
    response="IdentifyResponse",
    errors=(2, 3, 4, 13, 14, 19, 20),
    examples=(
        Example(
            "A 10 s clip from the middle of a track",
            "client=Xb4Tk9qLw2&fingerprint=AQADtMmybfGO8NCNEESLnzHyXNOHeHnG...",
            '{"results": [{"duration": 10.1, "id": "9ff43b6a-4f16-427c-93c2-92307ca505e0", '
            '"offset": 83.42, "position": 0.0, "score": 0.9512}], "status": "ok"}',
        ),
    ),
)


ENDPOINTS: tuple[Endpoint, ...] = (
    LOOKUP,
    IDENTIFY,
    SUBMIT,
    SUBMISSION_STATUS,
    LIST_BY_MBID,
    LIST_BY_PUID,
    FINGERPRINT,
    USER_LOOKUP,
    USER_CREATE_ANONYMOUS,
    USER_CREATE_MUSICBRAINZ,
    *INTERNAL,
)
