"""The OpenAPI 3.1 document of the `/v2` web service, built from :mod:`earmark.api.spec.endpoints`.

Every endpoint accepts any method with the same parameters, read from the query string and the
form body merged (reference §2); the document shows the two clients use, GET with a query string
and POST with a form body (optionally gzip-compressed), as two operations of one path. Batch
parameters (``fingerprint.N``) are the base name in the query and ``patternProperties`` in the
form schema. The ``x-earmark-*`` extensions carry what OpenAPI has no field for (error codes,
``meta`` flags); the docs page (``api/spec/static/docs.js``) renders them.
"""

from __future__ import annotations

import functools
import json
from typing import Any

import earmark
from earmark.api.spec import endpoints
from earmark.api.spec.endpoints import Endpoint, Param
from earmark.settings import registry

Schema = dict[str, Any]

OPENAPI_VERSION = "3.1.0"
MEDIA_TYPES = {
    "json": "application/json",
    "jsonp": "application/javascript",
    "xml": "text/xml",
}
_TAGS = {
    "lookup": "Identify audio.",
    "submit": "Contribute fingerprints and follow their import.",
    "tracks": "Read AcoustID tracks and fingerprints; no key needed.",
    "users": "User keys.",
    "internal": "Cluster control plane; needs the cluster secret.",
}
_STATUS_TEXT = {
    400: "Bad request",
    404: "Not found",
    408: "Request timeout",
    413: "Request too large",
    429: "Too many requests",
    500: "Internal error",
    503: "Service unavailable",
}


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _obj(required: tuple[str, ...] = (), **properties: Schema) -> Schema:
    schema: Schema = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    return schema


def _array(items: Schema) -> Schema:
    return {"type": "array", "items": items}


_STR: Schema = {"type": "string"}
_INT: Schema = {"type": "integer"}
_UUID: Schema = {"type": "string", "format": "uuid"}
_OK: Schema = {"type": "string", "const": "ok"}
_STATUSES = ["pending", "imported", "skipped", "failed", "unknown"]


def _ok(required: tuple[str, ...] = (), **properties: Schema) -> Schema:
    return _obj(("status", *required), status=_OK, **properties)


#: The component schemas: answers (the names :attr:`Endpoint.response` uses) and their parts.
SCHEMAS: dict[str, Schema] = {
    "ErrorEnvelope": _obj(
        ("status", "error"),
        status={"type": "string", "const": "error"},
        error=_obj(
            ("code", "message"),
            code={"type": "integer", "enum": [e.code for e in endpoints.ERRORS]},
            message=_STR,
        ),
    ),
    "Artist": _obj(("name",), id=_UUID, name=_STR, joinphrase=_STR),
    "ReleaseEvent": _obj(country=_STR, date=_obj(year=_INT, month=_INT, day=_INT)),
    "MbTrack": _obj(id=_UUID, position=_INT, title=_STR, artists=_array(_ref("Artist"))),
    "Medium": _obj(
        position=_INT,
        track_count=_INT,
        format=_STR,
        title=_STR,
        tracks=_array(_ref("MbTrack")),
    ),
    "Release": _obj(
        id=_UUID,
        title=_STR,
        country=_STR,
        date=_obj(year=_INT, month=_INT, day=_INT),
        medium_count=_INT,
        track_count=_INT,
        artists=_array(_ref("Artist")),
        releaseevents=_array(_ref("ReleaseEvent")),
        mediums=_array(_ref("Medium")),
    ),
    "ReleaseGroup": _obj(
        id=_UUID,
        title=_STR,
        type=_STR,
        secondarytypes=_array(_STR),
        artists=_array(_ref("Artist")),
        releases=_array(_ref("Release")),
    ),
    "Recording": _obj(
        id=_UUID,
        title=_STR,
        duration={"type": "number", "description": "Seconds."},
        artists=_array({"oneOf": [_ref("Artist"), _STR]}),
        sources=_INT,
        isrcs=_array(_STR),
        catalog_tracks=_array(
            {
                "type": "object",
                "description": "meta=catalog (Earmark extension): a track as the catalog API "
                "answers /lookup/isrc/{isrc} (docs/catalog.md).",
            }
        ),
        releasegroups=_array(_ref("ReleaseGroup")),
        releases=_array(_ref("Release")),
    ),
    "LookupResult": _obj(
        ("id", "score"),
        id=_UUID,
        score={"type": "number", "minimum": 0, "maximum": 1},
        recordings=_array(_ref("Recording")),
        releasegroups=_array(_ref("ReleaseGroup")),
        releases=_array(_ref("Release")),
    ),
    "LookupResponse": {
        "oneOf": [
            _ok(("results",), results=_array(_ref("LookupResult"))),
            _ok(
                ("fingerprints",),
                fingerprints=_array(
                    _obj(
                        ("index", "results"),
                        index={"type": ["integer", "null"]},
                        results=_array(_ref("LookupResult")),
                    )
                ),
            ),
        ]
    },
    "IdentifyResult": _obj(
        ("id", "score", "offset", "position", "duration"),
        id=_UUID,
        score={"type": "number", "minimum": 0, "maximum": 1},
        offset={"type": "number", "minimum": 0},
        position={"type": "number", "minimum": 0},
        duration={"type": "number", "minimum": 0},
        recordings=_array(_ref("Recording")),
        releasegroups=_array(_ref("ReleaseGroup")),
        releases=_array(_ref("Release")),
    ),
    "IdentifyResponse": _ok(("results",), results=_array(_ref("IdentifyResult"))),
    "SubmissionState": _obj(
        ("id", "status"),
        id=_INT,
        status={"type": "string", "enum": _STATUSES},
        result=_obj(("id",), id=_UUID),
        reason=_STR,
    ),
    "SubmitResponse": _ok(
        ("submissions",),
        submissions=_array(
            {
                "allOf": [
                    _ref("SubmissionState"),
                    _obj(index={"type": "string", "description": "The `.N` suffix, as text."}),
                ]
            }
        ),
    ),
    "SubmissionStatusResponse": _ok(("submissions",), submissions=_array(_ref("SubmissionState"))),
    "TrackRef": _obj(("id",), id=_UUID, disabled={"type": "boolean"}),
    "TrackListResponse": {
        "oneOf": [
            _ok(("tracks",), tracks=_array(_ref("TrackRef"))),
            _ok(
                ("mbids",),
                mbids=_array(_obj(("mbid", "tracks"), mbid=_STR, tracks=_array(_ref("TrackRef")))),
            ),
        ]
    },
    "FingerprintResponse": _ok(
        ("fingerprint",),
        fingerprint=_obj(
            ("id", "hashes", "duration"),
            id=_INT,
            hashes=_array({"type": "integer", "format": "int32"}),
            duration=_INT,
        ),
    ),
    "UserResponse": _ok(("user",), user=_obj(("apikey",), apikey=_STR)),
    "EmptyResponse": _ok(),
    "LookupStatsResponse": _ok(
        ("stats",),
        stats=_array(
            _obj(
                ("date", "count_hits", "count_nohits", "count"),
                date={"type": "string", "format": "date"},
                count_hits=_INT,
                count_nohits=_INT,
                count=_INT,
            )
        ),
    ),
    "CreatedResponse": _ok(("id", "api_key"), id=_INT, api_key=_STR),
    "ApplicationStatusResponse": _ok(("id", "active"), id=_INT, active={"type": "boolean"}),
    "ApplicationIdResponse": _ok(("id",), id=_INT),
}


def param_schema(param: Param) -> Schema:
    """The JSON Schema of one value of ``param`` (an array of them when repeatable)."""
    base: Schema
    match param.kind:
        case "integer" | "flag":
            base = dict(_INT)
        case "uuid":
            base = dict(_UUID)
        case "date":
            base = {"type": "string", "format": "date"}
        case "foreignid":
            base = {"type": "string", "pattern": "^[0-9a-z]+:.+$"}
        case "format":
            base = {"type": "string", "enum": list(endpoints.RESPONSE_FORMATS)}
        case _:
            base = dict(_STR)
    if param.minimum is not None:
        base["minimum"] = param.minimum
    if param.maximum is not None:
        base["maximum"] = param.maximum
    if param.default is not None:
        base["default"] = param.default
    return _array(base) if param.repeatable else base


def _description(param: Param) -> str:
    text = param.description
    if param.suffixed:
        text += f" Batch: also `{param.name}.N` (N = 0, 1, ...), one value per query."
    if param.repeatable:
        text += " Repeatable."
    return text


def query_parameter(param: Param) -> Schema:
    spec: Schema = {
        "name": param.name,
        "in": "query",
        "description": _description(param),
        "required": param.required and not param.suffixed,
        "schema": param_schema(param),
    }
    if param.repeatable:
        spec |= {"style": "form", "explode": True}
    if param.example is not None:
        spec["example"] = param.example
    if param.suffixed:
        spec["x-earmark-suffixed"] = True
    return spec


def form_schema(endpoint: Endpoint) -> Schema:
    """The form body: every parameter by name, the suffixed ones also as ``name.N``."""
    properties: dict[str, Schema] = {}
    patterns: dict[str, Schema] = {}
    required: list[str] = []
    for param in (*endpoint.params, *endpoints.COMMON_PARAMS):
        schema = param_schema(param) | {"description": _description(param)}
        properties[param.name] = schema
        if param.suffixed:
            patterns[f"^{param.name}\\.[0-9]+$"] = schema
        elif param.required:
            required.append(param.name)
    form: Schema = {"type": "object", "properties": properties}
    if patterns:
        form["patternProperties"] = patterns
    if required:
        form["required"] = required
    return form


def form_name(endpoint: Endpoint) -> str:
    """The component name of ``endpoint``'s form body schema."""
    return "Form_" + endpoint.name


def _statuses(endpoint: Endpoint) -> dict[int, list[int]]:
    """HTTP status → the error codes of ``endpoint`` answered with it."""
    by_status: dict[int, list[int]] = {}
    codes = sorted({*endpoint.errors, *endpoints.COMMON_ERRORS})
    for info in endpoints.ERRORS:
        if info.code in codes:
            by_status.setdefault(info.status, []).append(info.code)
    return by_status


def _responses(endpoint: Endpoint) -> Schema:
    examples = {
        f"example{i}": {
            "summary": ex.summary,
            "value": json.loads(ex.response),
            "x-earmark-query": ex.query,
        }
        for i, ex in enumerate(endpoint.examples, 1)
    }
    json_content: Schema = {"schema": _ref(endpoint.response)}
    if examples:
        json_content["examples"] = examples
    responses: Schema = {
        "200": {
            "description": "Success: the `ok` envelope in the requested format.",
            "content": {
                MEDIA_TYPES["json"]: json_content,
                MEDIA_TYPES["jsonp"]: {"schema": _STR},
                MEDIA_TYPES["xml"]: {"schema": _STR},
            },
        }
    }
    for status, codes in sorted(_statuses(endpoint).items()):
        listed = ", ".join(str(c) for c in codes)
        responses[str(status)] = {
            "$ref": f"#/components/responses/Error{status}",
            "description": f"{_STATUS_TEXT[status]}: error code {listed}.",
        }
    return responses


def _operation(endpoint: Endpoint, method: str) -> Schema:
    operation: Schema = {
        "operationId": f"{endpoint.name}_{method}",
        "tags": [endpoint.tag],
        "summary": endpoint.summary,
        "description": endpoint.description,
        "responses": _responses(endpoint),
        "x-earmark-auth": endpoint.auth,
        "x-earmark-error-codes": sorted({*endpoint.errors, *endpoints.COMMON_ERRORS}),
    }
    if method == "get":
        operation["parameters"] = [query_parameter(p) for p in endpoint.params]
    else:
        form = {"schema": _ref(form_name(endpoint))}
        operation["parameters"] = [
            {
                "name": "Content-Encoding",
                "in": "header",
                "description": "`gzip` or `deflate` to send a compressed body (inflated size "
                "at most 1 MiB).",
                "required": False,
                "schema": {"type": "string", "enum": ["gzip", "deflate", "identity"]},
            }
        ]
        operation["requestBody"] = {
            "description": "The parameters as a form (merged with the query string).",
            "required": False,
            "content": {
                "application/x-www-form-urlencoded": form,
                "multipart/form-data": form,
            },
        }
    return operation


def _path_item(endpoint: Endpoint) -> Schema:
    return {
        "summary": endpoint.summary,
        "parameters": [query_parameter(p) for p in endpoints.COMMON_PARAMS],
        "get": _operation(endpoint, "get"),
        "post": _operation(endpoint, "post"),
    }


def _error_responses() -> Schema:
    retry_after = {"$ref": "#/components/headers/Retry-After"}
    responses: Schema = {}
    for status in sorted({e.status for e in endpoints.ERRORS}):
        codes = [e.code for e in endpoints.ERRORS if e.status == status]
        response: Schema = {
            "description": f"{_STATUS_TEXT[status]} (error codes "
            f"{', '.join(map(str, codes))}): the error envelope in the requested format.",
            "content": {
                MEDIA_TYPES["json"]: {"schema": _ref("ErrorEnvelope")},
                MEDIA_TYPES["jsonp"]: {"schema": _STR},
                MEDIA_TYPES["xml"]: {"schema": _STR},
            },
        }
        if status in (429, 503):
            response["headers"] = {"Retry-After": retry_after}
        responses[f"Error{status}"] = response
    return responses


def _setting(name: str) -> object:
    for info in registry():
        if info.name == name:
            return info.default
    raise KeyError(name)


def overview() -> str:
    """The document's introduction (Markdown): base URL, methods, keys, formats, limits."""
    return "\n\n".join(
        [
            "An open, self-hostable audio identification service that answers the AcoustID web "
            "service API: clients such as pyacoustid, beets, Picard and `fpcalc` + curl work "
            "unchanged.",
            "### Requests",
            "- Base URL: the server's root, e.g. `http://127.0.0.1:8080` for `earmark serve`; "
            "every endpoint is under `/v2/`.\n"
            "- Any method: parameters are read from the query string and from a form body "
            "(`application/x-www-form-urlencoded` or `multipart/form-data`), merged; "
            "repeated keys keep every value.\n"
            "- Bodies may be compressed with `Content-Encoding: gzip` (or `deflate`); at most "
            "1 MiB after inflating and 1000 parameters (error 19).\n"
            "- Batches: parameters marked *batch* are also accepted as `name.N` (`fingerprint.0`, "
            "`duration.0`, `fingerprint.1`, ...); the values with the same N form one query.\n"
            "- `//` in a path is read as `/` and a trailing slash is ignored; every answer "
            "carries `Access-Control-Allow-Origin: *`.",
            "### Keys",
            "- `client`: the key of an **application** (a program), from the application page "
            "(or printed by `earmark serve` on its first run). Lookups need it.\n"
            "- `user`: the key of a **person** (an account), needed only to submit. Mixing the "
            "two up is the usual cause of error 4 (`invalid API key`): a user key sent as "
            "`client` is not an application's key.",
            "### Answers",
            "`format` chooses `json` (default; keys sorted), `jsonp` (with `jsoncallback`) or "
            '`xml`. Success: `{"status": "ok", ...}`. Failure: `{"status": "error", "error": '
            '{"code": N, "message": "..."}}` with an HTTP status of 400, 404, 413, 429, 500 or '
            "503; codes are listed below. 429 and 503 carry `Retry-After` (seconds).",
            "### Rate limits",
            f"Sliding 20-second windows, by default {_setting('rate_limit_application')} "
            f"requests/s per application, {_setting('rate_limit_global')}/s for the whole "
            f"service and {_setting('rate_limit_ip')}/s per client IP; an optional per-user "
            "limit (setting `rate_limit_user`) charges requests carrying a user key to the user "
            "instead of the application. Rejected requests get error 14 and do not use budget.",
        ]
    )


def build_document() -> Schema:
    """The OpenAPI 3.1 document (a fresh dict; :func:`document_bytes` caches the JSON)."""
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "Earmark web service (AcoustID-compatible)",
            "version": earmark.__version__,
            "summary": "Audio identification: fingerprint lookup and submission.",
            "description": overview(),
            "license": {"name": "MIT", "identifier": "MIT"},
        },
        "servers": [{"url": "/", "description": "This server."}],
        "tags": [{"name": name, "description": text} for name, text in _TAGS.items()],
        "paths": {e.path: _path_item(e) for e in endpoints.ENDPOINTS},
        "components": {
            "schemas": SCHEMAS | {form_name(e): form_schema(e) for e in endpoints.ENDPOINTS},
            "responses": _error_responses(),
            "headers": {
                "Retry-After": {
                    "description": "Seconds to wait before trying again.",
                    "schema": {"type": "integer", "minimum": 1},
                }
            },
        },
        "x-earmark-errors": [
            {
                "code": e.code,
                "name": e.name,
                "status": e.status,
                "message": e.message,
                "when": e.when,
            }
            for e in endpoints.ERRORS
        ],
        "x-earmark-meta-flags": [{"name": f.name, "adds": f.adds} for f in endpoints.META_FLAGS],
        "x-earmark-meta-shortcuts": dict(endpoints.META_SHORTCUTS),
    }


@functools.cache
def document_bytes() -> bytes:
    """The document as UTF-8 JSON, built once per process on first use."""
    return json.dumps(build_document(), ensure_ascii=False).encode("utf-8")
