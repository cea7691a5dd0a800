"""The catalog's errors, in the /v2 envelope ``{"status": "error", "error": {"code", "message"}}``.

Codes shared with the web service keep their numbers (docs/api.md); the catalog's statuses are
the HTTP ones a REST client expects (401 for a missing or unknown key, 404 for an unknown id).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from starlette.responses import Response


@dataclass(frozen=True)
class ErrorKind:
    code: int
    name: str
    status: int


MISSING_PARAMETER = ErrorKind(2, "missing_parameter", 400)
INVALID_APIKEY = ErrorKind(4, "invalid_apikey", 401)
INTERNAL = ErrorKind(5, "internal", 500)
SERVICE_UNAVAILABLE = ErrorKind(13, "service_unavailable", 503)
TOO_MANY_REQUESTS = ErrorKind(14, "too_many_requests", 429)
REQUEST_TOO_LARGE = ErrorKind(19, "request_too_large", 413)
INVALID_REQUEST_BODY = ErrorKind(20, "invalid_request_body", 400)
UNKNOWN_ENDPOINT = ErrorKind(21, "unknown_endpoint", 404)
INVALID_PARAMETER = ErrorKind(24, "invalid_parameter", 400)
NOT_FOUND = ErrorKind(25, "not_found", 404)
KEY_REQUIRED = ErrorKind(26, "key_required", 401)
METHOD_NOT_ALLOWED = ErrorKind(27, "method_not_allowed", 405)


class CatalogError(Exception):
    def __init__(
        self, kind: ErrorKind, message: str, *, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.headers = headers or {}


def invalid(name: str, why: str) -> CatalogError:
    return CatalogError(INVALID_PARAMETER, f'parameter "{name}" {why}')


def missing(name: str) -> CatalogError:
    return CatalogError(MISSING_PARAMETER, f'missing required parameter "{name}"')


def invalid_body(why: str) -> CatalogError:
    return CatalogError(INVALID_REQUEST_BODY, f"invalid request body: {why}")


def too_large(limit: int) -> CatalogError:
    return CatalogError(REQUEST_TOO_LARGE, f"request body larger than {limit} bytes")


def not_found(kind: str, value: str) -> CatalogError:
    return CatalogError(NOT_FOUND, f'{kind} "{value}" not found')


def invalid_key() -> CatalogError:
    return CatalogError(INVALID_APIKEY, "invalid API key")


def key_required() -> CatalogError:
    return CatalogError(
        KEY_REQUIRED, "an API key is required (header X-Api-Key or parameter client)"
    )


def too_many_requests(rate: float, retry_after: int) -> CatalogError:
    return CatalogError(
        TOO_MANY_REQUESTS,
        f"rate limit ({rate:g} requests per second) exceeded, try again later",
        headers={"Retry-After": str(max(1, retry_after))},
    )


def unavailable(why: str) -> CatalogError:
    return CatalogError(SERVICE_UNAVAILABLE, why, headers={"Retry-After": "30"})


def internal() -> CatalogError:
    return CatalogError(INTERNAL, "internal error")


def unknown_endpoint(path: str) -> CatalogError:
    return CatalogError(UNKNOWN_ENDPOINT, f'unknown endpoint "{path}"')


def method_not_allowed(method: str, path: str) -> CatalogError:
    return CatalogError(METHOD_NOT_ALLOWED, f'method {method} not allowed on "{path}"')


def error_response(exc: CatalogError) -> Response:
    body = {"status": "error", "error": {"code": exc.kind.code, "message": exc.message}}
    return Response(
        json.dumps(body, ensure_ascii=False).encode("utf-8"),
        exc.kind.status,
        headers=exc.headers,
        media_type="application/json",
    )
