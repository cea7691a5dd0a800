"""The web service's errors: AcoustID's numeric codes are the public contract (reference §2.1).

Handlers raise :class:`ApiError`; exactly one place (:mod:`earmark.api.endpoint`) renders it in
the requested format. Codes 1-19 are AcoustID's, with its messages and HTTP statuses; 20-23
are Earmark's own, for what the reference answered with an HTML page or plain text
(docs/compatibility.md).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ErrorCode:
    code: int
    name: str
    status: int


UNKNOWN_FORMAT = ErrorCode(1, "unknown_format", 400)
MISSING_PARAMETER = ErrorCode(2, "missing_parameter", 400)
INVALID_FINGERPRINT = ErrorCode(3, "invalid_fingerprint", 400)
INVALID_APIKEY = ErrorCode(4, "invalid_apikey", 400)
INTERNAL = ErrorCode(5, "internal", 500)
INVALID_USER_APIKEY = ErrorCode(6, "invalid_user_apikey", 400)
INVALID_UUID = ErrorCode(7, "invalid_uuid", 400)
INVALID_DURATION = ErrorCode(8, "invalid_duration", 400)
INVALID_BITRATE = ErrorCode(9, "invalid_bitrate", 400)
INVALID_FOREIGNID = ErrorCode(10, "invalid_foreignid", 400)
INVALID_MAX_DURATION_DIFF = ErrorCode(11, "invalid_max_duration_diff", 400)
NOT_ALLOWED = ErrorCode(12, "not_allowed", 400)
SERVICE_UNAVAILABLE = ErrorCode(13, "service_unavailable", 503)
TOO_MANY_REQUESTS = ErrorCode(14, "too_many_requests", 429)
INVALID_MUSICBRAINZ_ACCESS_TOKEN = ErrorCode(15, "invalid_musicbrainz_access_token", 400)
INSECURE_REQUEST = ErrorCode(16, "insecure_request", 400)
UNKNOWN_APPLICATION = ErrorCode(17, "unknown_application", 400)
FINGERPRINT_NOT_FOUND = ErrorCode(18, "fingerprint_not_found", 404)
REQUEST_TOO_LARGE = ErrorCode(19, "request_too_large", 413)
INVALID_REQUEST_BODY = ErrorCode(20, "invalid_request_body", 400)
UNKNOWN_ENDPOINT = ErrorCode(21, "unknown_endpoint", 404)
INVALID_REQUEST = ErrorCode(22, "invalid_request", 400)
REQUEST_TIMEOUT = ErrorCode(23, "request_timeout", 408)

ALL_CODES: tuple[ErrorCode, ...] = (
    UNKNOWN_FORMAT,
    MISSING_PARAMETER,
    INVALID_FINGERPRINT,
    INVALID_APIKEY,
    INTERNAL,
    INVALID_USER_APIKEY,
    INVALID_UUID,
    INVALID_DURATION,
    INVALID_BITRATE,
    INVALID_FOREIGNID,
    INVALID_MAX_DURATION_DIFF,
    NOT_ALLOWED,
    SERVICE_UNAVAILABLE,
    TOO_MANY_REQUESTS,
    INVALID_MUSICBRAINZ_ACCESS_TOKEN,
    INSECURE_REQUEST,
    UNKNOWN_APPLICATION,
    FINGERPRINT_NOT_FOUND,
    REQUEST_TOO_LARGE,
    INVALID_REQUEST_BODY,
    UNKNOWN_ENDPOINT,
    INVALID_REQUEST,
    REQUEST_TIMEOUT,
)


class ApiError(Exception):
    """An error answered with the AcoustID envelope ``{"status": "error", "error": {...}}``."""

    def __init__(
        self, kind: ErrorCode, message: str, *, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.headers = headers or {}

    @property
    def code(self) -> int:
        return self.kind.code

    @property
    def status(self) -> int:
        return self.kind.status


# One constructor per error, with the reference's exact message.


def unknown_format(fmt: str) -> ApiError:
    # The reference always says "json" here (§17 quirk 2); echoing the value is the fix.
    return ApiError(UNKNOWN_FORMAT, f'unknown format "{fmt}"')


def missing_parameter(name: str) -> ApiError:
    return ApiError(MISSING_PARAMETER, f'missing required parameter "{name}"')


def invalid_fingerprint() -> ApiError:
    return ApiError(INVALID_FINGERPRINT, "invalid fingerprint")


def invalid_apikey() -> ApiError:
    return ApiError(INVALID_APIKEY, "invalid API key")


def internal() -> ApiError:
    return ApiError(INTERNAL, "internal error")


def invalid_user_apikey() -> ApiError:
    return ApiError(
        INVALID_USER_APIKEY, 'invalid user API key ("User with the API key does not exist")'
    )


def invalid_uuid(name: str) -> ApiError:
    return ApiError(INVALID_UUID, f'parameter "{name}" is not a valid UUID')


def invalid_duration(name: str) -> ApiError:
    return ApiError(INVALID_DURATION, f'parameter "{name}" must be a positive integer')


def invalid_bitrate(name: str) -> ApiError:
    return ApiError(INVALID_BITRATE, f'parameter "{name}" must be a positive integer')


def invalid_foreignid(name: str) -> ApiError:
    return ApiError(
        INVALID_FOREIGNID,
        f'parameter "{name}" is not a valid foreign ID, it must be in the format vendor:id',
    )


def invalid_max_duration_diff(name: str) -> ApiError:
    return ApiError(INVALID_MAX_DURATION_DIFF, f'parameter "{name}" must be between 1 and 30')


def not_allowed() -> ApiError:
    return ApiError(NOT_ALLOWED, "not allowed")


def service_unavailable(retry_after: int = 5) -> ApiError:
    return ApiError(
        SERVICE_UNAVAILABLE,
        "service currently unavailable, try again later",
        headers={"Retry-After": str(retry_after)},
    )


def too_many_requests(rate: float, retry_after: int) -> ApiError:
    return ApiError(
        TOO_MANY_REQUESTS,
        f"rate limit ({rate:f} requests per second) exceeded, try again later",
        headers={"Retry-After": str(max(1, retry_after))},
    )


def invalid_musicbrainz_access_token() -> ApiError:
    return ApiError(INVALID_MUSICBRAINZ_ACCESS_TOKEN, "invalid MusicBrainz access token")


def insecure_request() -> ApiError:
    return ApiError(INSECURE_REQUEST, "only requests over HTTPS are allowed here")


def unknown_application() -> ApiError:
    return ApiError(UNKNOWN_APPLICATION, "unknown application")


def fingerprint_not_found() -> ApiError:
    return ApiError(FINGERPRINT_NOT_FOUND, "fingerprint not found")


def request_too_large() -> ApiError:
    return ApiError(REQUEST_TOO_LARGE, "request too large")


def invalid_request_body(detail: str) -> ApiError:
    return ApiError(INVALID_REQUEST_BODY, f"invalid request body: {detail}")


def unknown_endpoint(path: str) -> ApiError:
    return ApiError(UNKNOWN_ENDPOINT, f'unknown endpoint "{path}"')


def invalid_request() -> ApiError:
    return ApiError(INVALID_REQUEST, "malformed HTTP request")


def request_timeout() -> ApiError:
    return ApiError(REQUEST_TIMEOUT, "the request was not received in time")


def unsearchable_clip(reason: str) -> ApiError:
    """A clip ``/v2/identify`` will not search (too short, silence), saying why."""
    return ApiError(INVALID_FINGERPRINT, f"invalid fingerprint: {reason}")


def not_audio(detail: str) -> ApiError:
    return ApiError(INVALID_REQUEST_BODY, f"invalid request body: not audio ({detail})")


def audio_too_long(limit_seconds: int) -> ApiError:
    return ApiError(REQUEST_TOO_LARGE, f"request too large: audio longer than {limit_seconds} s")


def clip_too_long(max_items: int) -> ApiError:
    return ApiError(
        REQUEST_TOO_LARGE,
        f"request too large: a clip has at most {max_items} fingerprint items (30 minutes); "
        "send a longer recording in parts",
    )
