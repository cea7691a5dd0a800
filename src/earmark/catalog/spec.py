"""The catalog's OpenAPI 3.1 document (``/openapi.json``) and its docs page (``/docs``).

The page is rendered here from the same document, as plain HTML with one stylesheet served by
this app (``/docs/catalog.css``): no script, no CDN, nothing loaded from elsewhere (the
Content-Security-Policy keeps it so). Its links are relative, so it works under ``/catalog`` in
``earmark serve`` as well as at the root of ``earmark run catalog``.
"""

from __future__ import annotations

import functools
import html
import json
import re
from dataclasses import dataclass
from importlib import resources
from typing import Any

import earmark
from earmark.catalog import errors
from earmark.catalog.params import BATCH_MAX, LIMIT_DEFAULT, LIMIT_MAX, QUERY_MIN

CSP = (
    "default-src 'none'; style-src 'self'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'"
)


@dataclass(frozen=True)
class Op:
    method: str
    path: str
    summary: str
    tag: str
    params: tuple[tuple[str, str, str], ...] = ()  # (name, in, description)
    keyed: bool = True


_MBID = "an MBID (merged MBIDs answer with the current entity)"
_SEARCH = (
    ("q", "query", f"search words (at least {QUERY_MIN} characters; case and accents ignored)"),
    ("limit", "query", f"results per page, 1 to {LIMIT_MAX} (default {LIMIT_DEFAULT})"),
    ("offset", "query", "results to skip (default 0)"),
)

OPERATIONS: tuple[Op, ...] = (
    Op(
        "get",
        "/lookup/isrc/{isrc}",
        "Tracks with this ISRC, with album and artists ([] when none).",
        "lookup",
        (("isrc", "path", "an ISRC, CC-XXX-YY-NNNNN (case and hyphens ignored)"),),
    ),
    Op(
        "get",
        "/lookup/track/{id}",
        "A track (a recording on a medium of a release).",
        "lookup",
        (("id", "path", _MBID),),
    ),
    Op(
        "get",
        "/lookup/recording/{id}",
        "A recording with its ISRCs, albums and tracks.",
        "lookup",
        (("id", "path", _MBID),),
    ),
    Op(
        "get",
        "/lookup/album/{id}",
        "An album (a MusicBrainz release).",
        "lookup",
        (("id", "path", _MBID),),
    ),
    Op(
        "get",
        "/lookup/album/{id}/tracks",
        "The album's tracks in disc, position order.",
        "lookup",
        (("id", "path", _MBID),),
    ),
    Op(
        "get",
        "/lookup/release-group/{id}",
        "A release group with its albums.",
        "lookup",
        (("id", "path", _MBID),),
    ),
    Op(
        "get",
        "/lookup/artist/{id}",
        "An artist: name, sort name, type, country, life span.",
        "lookup",
        (("id", "path", _MBID),),
    ),
    Op(
        "get",
        "/lookup/barcode/{upc}",
        "Albums with this barcode ([] when none).",
        "lookup",
        (("upc", "path", "a barcode (UPC/EAN), digits only"),),
    ),
    Op("get", "/search/track", "Tracks matching the words, best first.", "search", _SEARCH),
    Op("get", "/search/album", "Albums matching the words, best first.", "search", _SEARCH),
    Op("get", "/search/artist", "Artists matching the words, best first.", "search", _SEARCH),
    Op(
        "post",
        "/batch/lookup",
        f"Up to {BATCH_MAX} ids at once (tracks, recordings, albums, artists, isrcs) in a fixed "
        "number of statements; unknown ids under not_found.",
        "batch",
    ),
    Op(
        "get",
        "/health",
        "The mirror answers; its replication sequence and age.",
        "operations",
        keyed=False,
    ),
    Op("get", "/metrics", "Prometheus metrics.", "operations", keyed=False),
    Op("get", "/openapi.json", "This document.", "operations", keyed=False),
)

_ERRORS = (
    errors.INVALID_PARAMETER,
    errors.MISSING_PARAMETER,
    errors.INVALID_REQUEST_BODY,
    errors.INVALID_APIKEY,
    errors.KEY_REQUIRED,
    errors.NOT_FOUND,
    errors.REQUEST_TOO_LARGE,
    errors.TOO_MANY_REQUESTS,
    errors.SERVICE_UNAVAILABLE,
    errors.INTERNAL,
)


def _operation_id(op: Op) -> str:
    words = re.sub(r"[^a-z0-9]+", "_", op.path.lower()).strip("_")
    return f"{op.method}_{words}"


def _operation(op: Op) -> dict[str, Any]:
    found: dict[str, Any] = {
        "summary": op.summary,
        "tags": [op.tag],
        "operationId": _operation_id(op),
        "parameters": [
            {
                "name": name,
                "in": where,
                "required": where == "path",
                "description": text,
                "schema": {"type": "integer" if name in ("limit", "offset") else "string"},
            }
            for name, where, text in op.params
        ],
        "responses": {
            "200": {"description": "OK", "content": {"application/json": {}}},
            **{
                str(kind.status): {
                    "description": kind.name,
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                    },
                }
                for kind in _ERRORS
                if op.keyed or kind.status >= 500
            },
        },
    }
    if op.method == "get" and op.keyed:
        found["responses"]["304"] = {"description": "Not modified (If-None-Match)"}
    if op.keyed:
        found["security"] = [{"apiKey": []}, {"client": []}, {}]
    if op.method == "post":
        found["requestBody"] = {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/BatchRequest"}}
            },
        }
    return found


@functools.cache
def document() -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for op in OPERATIONS:
        paths.setdefault(op.path, {})[op.method] = _operation(op)
    ids = {"type": "array", "items": {"type": "string"}}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Earmark catalog API",
            "version": earmark.__version__,
            "description": "ISRC-first music metadata from the MusicBrainz mirror; ids are "
            "MBIDs. See docs/catalog.md.",
        },
        "paths": paths,
        "components": {
            "securitySchemes": {
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-Api-Key"},
                "client": {"type": "apiKey", "in": "query", "name": "client"},
            },
            "schemas": {
                "Error": {
                    "type": "object",
                    "properties": {
                        "status": {"const": "error"},
                        "error": {
                            "type": "object",
                            "properties": {
                                "code": {"type": "integer"},
                                "message": {"type": "string"},
                            },
                        },
                    },
                },
                "BatchRequest": {
                    "type": "object",
                    "additionalProperties": False,
                    "properties": dict.fromkeys(
                        ("tracks", "recordings", "albums", "artists", "isrcs"), ids
                    ),
                },
            },
        },
    }


@functools.cache
def document_bytes() -> bytes:
    return json.dumps(document(), indent=1).encode("utf-8")


@functools.cache
def stylesheet() -> bytes:
    return (resources.files("earmark.catalog") / "static" / "catalog.css").read_bytes()


@functools.cache
def page() -> bytes:
    """The docs page (relative links: see the module docstring)."""
    rows = []
    for op in OPERATIONS:
        params = "".join(
            f"<li><code>{html.escape(n)}</code> ({html.escape(w)}): {html.escape(t)}</li>"
            for n, w, t in op.params
        )
        key = "key or anonymous tier" if op.keyed else "no key"
        rows.append(
            f'<section><h2><span class="method">{op.method.upper()}</span> '
            f"<code>{html.escape(op.path)}</code></h2><p>{html.escape(op.summary)} "
            f'<span class="key">({key})</span></p>'
            + (f"<ul>{params}</ul>" if params else "")
            + "</section>"
        )
    codes = "".join(
        f"<tr><td>{k.code}</td><td>{k.status}</td><td><code>{k.name}</code></td></tr>"
        for k in _ERRORS
    )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>Earmark catalog API</title>"
        '<link rel="stylesheet" href="docs/catalog.css"></head><body>'
        "<header><h1>Earmark catalog API</h1><p>Machine-readable: "
        '<a href="openapi.json">openapi.json</a> (OpenAPI 3.1). Keys: header '
        "<code>X-Api-Key</code> or parameter <code>client</code>.</p></header><main>"
        + "".join(rows)
        + '<section><h2>Errors</h2><p><code>{"status": "error", "error": {"code": N, '
        '"message": "…"}}</code></p><table><tr><th>code</th><th>HTTP</th><th>name</th></tr>'
        + codes
        + "</table></section></main></body></html>"
    ).encode("utf-8")
