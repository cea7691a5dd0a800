"""The `/v2` web service described as data: endpoints, parameters, errors and ``meta`` flags.

This table is the single source of the OpenAPI document (:mod:`earmark.api.openapi`), hence of
the docs page that renders it, and of the docs tests that compare it with the routes the app
serves and the parameters the handlers read. Facts come from the reference
(acoustid-server.md §2-§6, §17) and Earmark's own choices (docs/compatibility.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from earmark.api import errors
from earmark.api.formats import FORMATS

#: What a parameter holds; :mod:`earmark.api.openapi` maps each kind to a JSON Schema.
Kind = Literal["string", "integer", "uuid", "flag", "fingerprint", "foreignid", "date", "format"]
#: Which key an endpoint needs: a client (application) key, a user key, the cluster secret.
Auth = Literal["client", "user", "client+user", "secret", "none"]


@dataclass(frozen=True)
class Param:
    name: str
    kind: Kind
    description: str
    required: bool = False
    #: Also accepted as ``name.N`` (``fingerprint.0``, ``fingerprint.1``, ...) for batches.
    suffixed: bool = False
    #: May be given several times (``mbid=...&mbid=...``); every value counts.
    repeatable: bool = False
    example: str | None = None
    default: str | int | None = None
    minimum: int | None = None
    maximum: int | None = None
    #: False for a parameter accepted for compatibility but without effect.
    used: bool = True


@dataclass(frozen=True)
class Example:
    """A request (query string, as a client would send it) and the JSON it gets back."""

    summary: str
    query: str
    response: str


@dataclass(frozen=True)
class Endpoint:
    path: str
    name: str
    summary: str
    description: str
    tag: Literal["lookup", "submit", "tracks", "users", "internal"]
    auth: Auth
    params: tuple[Param, ...]
    #: The component schema of the ``ok`` answer (see :data:`earmark.api.openapi.SCHEMAS`).
    response: str
    #: The error codes this endpoint can answer, besides the ones every endpoint can
    #: (:data:`COMMON_ERRORS`).
    errors: tuple[int, ...] = ()
    examples: tuple[Example, ...] = ()


@dataclass(frozen=True)
class ErrorInfo:
    code: int
    name: str
    status: int
    message: str
    when: str


@dataclass(frozen=True)
class MetaFlag:
    name: str
    adds: str


# Parameters every endpoint reads (in the call wrapper) before anything else.
FORMAT = Param(
    "format",
    "format",
    "Response format: `json` (default, keys sorted), `jsonp` or `xml`. Unknown → error 1.",
    example="json",
    default="json",
)
JSONCALLBACK = Param(
    "jsoncallback",
    "string",
    "With `format=jsonp`: the callback, a dotted JavaScript identifier path; anything else "
    "silently becomes the default `jsonAcoustidApi`.",
    example="handleResult",
    default="jsonAcoustidApi",
)
COMMON_PARAMS = (FORMAT, JSONCALLBACK)

CLIENT = Param(
    "client",
    "string",
    "Client key: the API key of your *application* (not your user key). Missing → 2, unknown "
    "or inactive application → 4.",
    required=True,
    example="Xb4Tk9qLw2",
)
CLIENTVERSION = Param(
    "clientversion",
    "string",
    "Version of your application, kept with submissions.",
    example="1.2.0",
)
USER = Param(
    "user",
    "string",
    "User key: the API key of the *person* submitting (from the account page or "
    "`/v2/user/create_*`). Missing → 2, unknown → 6.",
    required=True,
    example="Ua7rG2pQx8",
)
SECRET = Param(
    "secret",
    "string",
    "The cluster secret (setting `cluster_secret`); wrong or absent → 12. On any endpoint it "
    "also bypasses the rate limits.",
    required=True,
)
BATCH = Param(
    "batch",
    "flag",
    "An integer other than 0 turns batch mode on: one answer per query instead of the first only.",
    example="1",
)


def _suffixed(
    name: str,
    kind: Kind,
    description: str,
    *,
    required: bool = False,
    repeatable: bool = False,
    example: str | None = None,
    minimum: int | None = None,
    maximum: int | None = None,
) -> Param:
    return Param(
        name,
        kind,
        description,
        required=required,
        suffixed=True,
        repeatable=repeatable,
        example=example,
        minimum=minimum,
        maximum=maximum,
    )


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
        _suffixed(
            "fingerprint",
            "fingerprint",
            "Compressed Chromaprint fingerprint, URL-safe base64 as `fpcalc` prints it. "
            "Required for each query without `trackid`. Undecodable or empty → 3.",
            example="AQADtMmybfGO8NCNEESLnzHyXNOHeHnG...",
        ),
        _suffixed(
            "duration",
            "integer",
            "Duration of the audio in whole seconds. Required with `fingerprint`; missing, 0 "
            "or not an integer (e.g. `641.5`) → 2.",
            example="641",
        ),
        _suffixed(
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
        _suffixed(
            "fingerprint",
            "fingerprint",
            "Compressed Chromaprint fingerprint (as `fpcalc` prints it). Missing → 2; "
            "undecodable, empty or not algorithm version 1 → 3.",
            required=True,
            example="AQADtMmybfGO8NCNEESLnzHyXNOHeHnG...",
        ),
        _suffixed(
            "duration",
            "integer",
            "Duration in whole seconds. Missing or not an integer → 2; ≤ 0 or > 32767 → 8.",
            required=True,
            minimum=1,
            maximum=32767,
            example="641",
        ),
        _suffixed(
            "bitrate",
            "integer",
            "Bitrate in kbit/s. 0 or not an integer: ignored; negative → 9.",
            example="192",
        ),
        _suffixed("fileformat", "string", "File format (`MP3`, `FLAC`, ...).", example="FLAC"),
        _suffixed(
            "mbid",
            "uuid",
            "MusicBrainz recording id(s); repeat the parameter for several. Any invalid → 7.",
            repeatable=True,
            example=MBID_EXAMPLE,
        ),
        _suffixed("puid", "uuid", "MusicIP PUID (retired data). Not a UUID → 7."),
        _suffixed(
            "foreignid",
            "foreignid",
            "An id in another catalogue, `vendor:id` (vendor: lowercase letters and digits). "
            "Otherwise → 10.",
            example="discogs:12345",
        ),
        _suffixed("track", "string", "Track title.", example="Lower Your Eyelids to Die"),
        _suffixed("artist", "string", "Track artist.", example="M83"),
        _suffixed("album", "string", "Album title.", example="Before the Dawn Heals Us"),
        _suffixed("albumartist", "string", "Album artist.", example="M83"),
        _suffixed("trackno", "integer", "Track number (not an integer: dropped).", example="1"),
        _suffixed("discno", "integer", "Disc number (not an integer: dropped).", example="1"),
        _suffixed("year", "integer", "Release year (not an integer: dropped).", example="2005"),
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


def _internal(
    name: str,
    summary: str,
    params: tuple[Param, ...],
    response: str,
    more_errors: tuple[int, ...] = (),
    description: str = "",
) -> Endpoint:
    return Endpoint(
        path=f"/v2/internal/{name}",
        name=f"internal_{name}",
        summary=summary,
        description=(
            "Cluster control plane: requires `secret` (else 12, checked after the other "
            "parameters: a missing or bad one is 2). " + description
        ).strip(),
        tag="internal",
        auth="secret",
        params=(SECRET, *params),
        response=response,
        errors=(2, 12, 14, *more_errors),
    )


def _int(name: str, description: str, required: bool = True) -> Param:
    return Param(name, "integer", description, required=required)


INTERNAL = (
    _internal(
        "update_lookup_stats",
        "Add lookup counts of one application and hour",
        (
            _int("application_id", "Application id."),
            Param("date", "date", "Day, `YYYY-MM-DD`.", required=True, example="2026-11-21"),
            _int("hour", "Hour of the day, 0-23."),
            Param("type", "string", "`hit` counts hits; anything else misses.", required=True),
            _int("count", "Number of lookups to add."),
        ),
        "EmptyResponse",
        (17,),
        "Unknown application → 17.",
    ),
    _internal(
        "update_user_agent_stats",
        "Add request counts of one application, user agent and IP",
        (
            _int("application_id", "Application id."),
            Param("date", "date", "Day, `YYYY-MM-DD`.", required=True, example="2026-11-21"),
            Param("user_agent", "string", "User-Agent header.", required=True),
            Param("ip", "string", "Client IP address.", required=True),
            _int("count", "Number of requests to add."),
        ),
        "EmptyResponse",
        (17,),
        "Unknown application → 17.",
    ),
    _internal(
        "lookup_stats",
        "Lookups per day of applications",
        (
            Param(
                "client",
                "string",
                "Client key; repeat for several. None given or none valid → 4.",
                repeatable=True,
            ),
            Param("from", "date", "First day, `YYYY-MM-DD`."),
            Param("to", "date", "Last day, `YYYY-MM-DD` (default: yesterday)."),
            _int("days", "Number of days when `from` is absent (default 30).", required=False),
        ),
        "LookupStatsResponse",
        (4,),
        "Sums per date; today is left out unless `to` is given.",
    ),
    _internal("create_account", "Create an account", (), "CreatedResponse"),
    _internal(
        "create_application",
        "Create an application of an account",
        (
            _int("account_id", "Owner account id (unknown → 2)."),
            Param("name", "string", "Application name.", required=True),
            Param("version", "string", "Application version.", required=True),
        ),
        "CreatedResponse",
    ),
    _internal(
        "update_application_status",
        "Activate or deactivate an application",
        (
            _int("account_id", "Owner account id."),
            _int("application_id", "Application id."),
            Param(
                "active",
                "string",
                "`1`/`true`/`yes` activates, `0`/`false`/`no` deactivates; anything else → 2.",
                required=True,
            ),
        ),
        "ApplicationStatusResponse",
        (17,),
        "Unknown application of that account → 17.",
    ),
    _internal(
        "check_application",
        "Resolve a client key to its application id",
        (
            Param(
                "api_key", "string", "Client key (of an active application, else 4).", required=True
            ),
        ),
        "ApplicationIdResponse",
        (4,),
    ),
)

ENDPOINTS: tuple[Endpoint, ...] = (
    LOOKUP,
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

#: Codes any endpoint may answer: bad format, internal error, too large or unreadable body.
COMMON_ERRORS = (1, 5, 19, 20)

_WHEN = {
    1: "`format` is not json, jsonp or xml (the message echoes the value)",
    2: "a required parameter is missing or empty (or not an integer where one is required)",
    3: "the fingerprint cannot be decoded, is empty or is not algorithm 1",
    4: "the client key is unknown or its application inactive",
    5: "an unexpected failure (logged; no details leak)",
    6: "the user key is unknown",
    7: "a parameter that must be a UUID is not one",
    8: "a submitted duration is ≤ 0 or > 32767",
    9: "a submitted bitrate is negative",
    10: "a foreign id is not `vendor:id`",
    11: "`maxdurationdiff` is not between 1 and 30",
    12: "an internal endpoint without the right `secret`",
    13: "the fingerprint index or a database is unavailable; retry after `Retry-After` seconds",
    14: "a rate limit is exceeded; retry after `Retry-After` seconds",
    15: "MusicBrainz refused the access token",
    16: "`/v2/user/create_musicbrainz` over plain HTTP",
    17: "`update_application_status` names no application of that account",
    18: "`/v2/fingerprint`: no fingerprint with that id",
    19: "body over 1 MiB (after inflating), over 1000 parameters, or too many batch queries",
    20: "corrupt gzip/deflate body, unsupported Content-Encoding, bad Content-Length",
    21: "no endpoint at this path",
}

#: Each message as clients see it (from the constructors), placeholders in angle brackets.
_MESSAGES: dict[int, str] = {
    e.code: e.message
    for e in (
        errors.unknown_format("<format>"),
        errors.missing_parameter("<name>"),
        errors.invalid_fingerprint(),
        errors.invalid_apikey(),
        errors.internal(),
        errors.invalid_user_apikey(),
        errors.invalid_uuid("<name>"),
        errors.invalid_duration("<name>"),
        errors.invalid_bitrate("<name>"),
        errors.invalid_foreignid("<name>"),
        errors.invalid_max_duration_diff("<name>"),
        errors.not_allowed(),
        errors.service_unavailable(),
        errors.too_many_requests(10.0, 1),
        errors.invalid_musicbrainz_access_token(),
        errors.insecure_request(),
        errors.unknown_application(),
        errors.fingerprint_not_found(),
        errors.request_too_large(),
        errors.invalid_request_body("<detail>"),
        errors.unknown_endpoint("<path>"),
    )
}

ERRORS: tuple[ErrorInfo, ...] = tuple(
    ErrorInfo(c.code, c.name, c.status, _MESSAGES[c.code], _WHEN[c.code]) for c in errors.ALL_CODES
)

META_FLAGS: tuple[MetaFlag, ...] = (
    MetaFlag(
        "recordings",
        "`recordings[]` on each result: `id` (MBID), `title`, `duration` (seconds), "
        "`artists[]` (`id`, `name`, `joinphrase`).",
    ),
    MetaFlag("recordingids", "`recordings[]` with `id` only (wins over `recordings`)."),
    MetaFlag(
        "releasegroups",
        "`releasegroups[]` (`id`, `title`, `type`, `secondarytypes`, `artists`) inside each "
        "recording, or on the result when no recording flag is given.",
    ),
    MetaFlag("releasegroupids", "Release groups with `id` only."),
    MetaFlag(
        "releases",
        "`releases[]` (`id`, `title`, `country`, `date`, `medium_count`, `track_count`, "
        "`artists`, `releaseevents[]`) inside each release group when both are asked, else "
        "inside each recording, else on the result.",
    ),
    MetaFlag("releaseids", "Releases with `id` only."),
    MetaFlag(
        "tracks",
        "`mediums[]` on each release: `position`, `format`, `title`, `track_count` and "
        "`tracks[]` (`id` of the MusicBrainz track, `position`, `title`, `artists`).",
    ),
    MetaFlag(
        "compress",
        "Leaves out titles and artists equal to their parent's (release vs release group, "
        "track vs release or recording).",
    ),
    MetaFlag(
        "usermeta",
        "When MusicBrainz knows nothing for the whole response: up to 10 user-submitted "
        "metadata entries per result, as recordings without `id` (artists as plain strings).",
    ),
    MetaFlag("sources", "`sources` on each recording: how many submissions link it."),
    MetaFlag("isrcs", "`isrcs[]` (sorted) on each recording; alone, it implies `recordings`."),
    MetaFlag(
        "m2",
        "Legacy format (`meta=2`): `recordings[]` with `tracks[]` each carrying its medium "
        "and release. Exclusive: other flags are ignored.",
    ),
)

#: Shortcuts that are accepted only as the whole ``meta`` value.
META_SHORTCUTS = {"0": "no metadata", "1": "`recordingids`", "2": "`m2`"}

#: The response formats; each is one media type of every answer.
RESPONSE_FORMATS = FORMATS
