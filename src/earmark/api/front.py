"""The web service's answers to requests the HTTP front refuses before they reach the app
(:mod:`earmark.http_protocol`): in the API's error envelope when the request was for the API.

"For the API" is told from the request target, as far as it arrived: a path under ``/v2``
(JSON, or the ``format`` of the query string when it is there and valid) or one of the v1
paths ``/lookup`` and ``/submit`` (XML), after the same slash clean-up as the app's. Anything
else (the health checks, ``/metrics``, the docs, a target that never arrived or cannot be
split off the request line) gets the message as plain text.

=====================================  ======  ====================================
refusal                                HTTP    envelope
=====================================  ======  ====================================
request line over the cap              414     code 19, ``request line too long``
head over the cap                      431     code 19, ``request head too large``
head or body not in time               408     code 23
request the parser refuses             400     code 22
connection beyond the cap              503     code 13, ``Retry-After: 1``
=====================================  ======  ====================================
"""

from __future__ import annotations

from earmark.api import errors
from earmark.api.errors import ErrorCode
from earmark.api.formats import JSON, Format
from earmark.api.transport import LEGACY_PATHS, error_format, normalize_path
from earmark.http_limits import (
    BAD_REQUEST,
    HEAD_TOO_LARGE,
    MESSAGES,
    OVERLOADED,
    REQUEST_TIMEOUT,
    RETRY_AFTER_S,
    URI_TOO_LONG,
    ErrorAnswer,
    path_and_query,
    plain_text,
)

_CODES: dict[int, ErrorCode] = {
    BAD_REQUEST: errors.INVALID_REQUEST,
    REQUEST_TIMEOUT: errors.REQUEST_TIMEOUT,
    URI_TOO_LONG: errors.REQUEST_TOO_LARGE,
    HEAD_TOO_LARGE: errors.REQUEST_TOO_LARGE,
    OVERLOADED: errors.SERVICE_UNAVAILABLE,
}
_MESSAGES: dict[int, str] = {
    **MESSAGES,
    BAD_REQUEST: errors.invalid_request().message,
    REQUEST_TIMEOUT: errors.request_timeout().message,
    OVERLOADED: errors.service_unavailable().message,
}


def is_api_path(path: str) -> bool:
    """Whether a request for ``path`` is answered in the API envelope (the catalog's paths
    inside ``earmark serve`` too: it answers in the same JSON envelope)."""
    path = normalize_path(path)
    return any(path == p or path.startswith(p + "/") for p in ("/v2", "/catalog")) or (
        path in LEGACY_PATHS
    )


def render_front_error(status: int, target: bytes | None) -> ErrorAnswer:
    """The :class:`~earmark.http_limits.ErrorRenderer` of ``earmark serve`` and ``run api``."""
    if target is None:
        return plain_text(status, target)
    path, query = path_and_query(target)
    if not is_api_path(path):
        return plain_text(status, target)
    return _envelope(status, error_format({"path": normalize_path(path), "query_string": query}))


def render_catalog_error(status: int, target: bytes | None) -> ErrorAnswer:
    """The renderer of ``earmark run catalog``: every path is the catalog's, answered in the
    JSON envelope (even when the request target could not be read)."""
    del target
    return _envelope(status, JSON)


def _envelope(status: int, fmt: Format) -> ErrorAnswer:
    kind = _CODES[status]
    error = {"code": kind.code, "message": _MESSAGES[status]}
    body = fmt.render({"status": "error", "error": error})
    headers = [("access-control-allow-origin", "*")]
    if status == OVERLOADED:
        headers.append(("retry-after", str(RETRY_AFTER_S)))
    return ErrorAnswer(status, fmt.content_type, body, tuple(headers))
