"""The vocabulary of the `/v2` API description (:mod:`earmark.api.spec.endpoints`): parameter and
endpoint records, the parameters every endpoint shares, the error table and the ``meta`` flags.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from earmark.api import errors
from earmark.api.formats import FORMATS

#: What a parameter holds; :mod:`earmark.api.spec.openapi` maps each kind to a JSON Schema.
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
    #: The component schema of the ``ok`` answer (see :data:`earmark.api.spec.openapi.SCHEMAS`).
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


def suffixed_param(
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
    22: "the request line or a header cannot be parsed (raw non-ASCII bytes, bad syntax)",
    23: "a request head or body did not arrive within `http_head_timeout`/`http_body_timeout`",
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
        errors.invalid_request(),
        errors.request_timeout(),
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
        "catalog",
        "Earmark extension; implies `recordings`. On each recording MusicBrainz knows: "
        "`isrcs[]` (sorted, always present) and `catalog_tracks[]`, the catalog API's track "
        "objects with their `album` (docs/catalog.md), earliest release first.",
    ),
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
