"""What the HTTP front lets a client do before a request reaches an app, and how it says no.

Every server Earmark runs (the web service, the index server) reads request heads through
:mod:`earmark.http_protocol`, which applies :class:`HttpLimits`: a request line and a head of
bounded size (counted by :class:`HeadScanner` *before* the bytes reach the parser, so a
connection never holds more than the caps), a time for a started head to complete, an idle
keep-alive time, a time for a body to arrive, and a number of open connections per process.

A refusal is answered by an :class:`ErrorRenderer` the server passes in, so the web service
answers in its API envelope and the index server in its own error format; :func:`plain_text`
is the fallback when nothing tells what the client was talking to.
"""

from __future__ import annotations

import enum
import http
import logging
import resource
from dataclasses import dataclass
from typing import Protocol

from earmark.errors import ConfigError
from earmark.settings import Settings

log = logging.getLogger(__name__)

#: Statuses of the answers the front gives on its own.
BAD_REQUEST = 400
REQUEST_TIMEOUT = 408
URI_TOO_LONG = 414
HEAD_TOO_LARGE = 431
OVERLOADED = 503

#: File descriptors kept for what is not a client connection (database pools, the index
#: client, Redis, NATS, log files, index segments).
FD_RESERVE = 128
#: Bytes of a head kept to tell, when refusing it, which path it was for.
PREFIX_BYTES = 2048


@dataclass(frozen=True)
class HttpLimits:
    """The caps and timeouts of :mod:`earmark.http_protocol` (settings ``http_*``)."""

    max_request_line: int = 64 * 1024
    max_head: int = 96 * 1024
    head_timeout: float = 30.0
    keep_alive_timeout: float = 5.0
    body_timeout: float = 60.0
    max_connections: int = 1000

    def __post_init__(self) -> None:
        if self.max_head < self.max_request_line + 2:
            raise ValueError(
                f"http_max_head ({self.max_head}) must be at least http_max_request_line "
                f"({self.max_request_line}) + 2: the request line is part of the head"
            )
        for name in ("head_timeout", "keep_alive_timeout", "body_timeout"):
            if getattr(self, name) <= 0:
                raise ValueError(f"http_{name} must be above 0")
        if self.max_connections < 1:
            raise ValueError("http_max_connections must be at least 1")


def limits_from_settings(settings: Settings) -> HttpLimits:
    """The ``http_*`` settings as limits (a contradiction among them is a ConfigError)."""
    try:
        return HttpLimits(
            max_request_line=settings.http_max_request_line,
            max_head=settings.http_max_head,
            head_timeout=settings.http_head_timeout,
            keep_alive_timeout=settings.http_keep_alive_timeout,
            body_timeout=settings.http_body_timeout,
            max_connections=settings.http_max_connections,
        )
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


@dataclass(frozen=True)
class ErrorAnswer:
    """A complete answer of the front: status, content type, body and extra headers."""

    status: int
    content_type: str
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()

    def encode(self, default_headers: list[tuple[bytes, bytes]] = []) -> bytes:  # noqa: B006
        phrase = http.HTTPStatus(self.status).phrase
        lines = [f"HTTP/1.1 {self.status} {phrase}".encode()]
        lines += [name + b": " + value for name, value in default_headers]
        lines += [
            f"content-type: {self.content_type}".encode(),
            f"content-length: {len(self.body)}".encode(),
            b"connection: close",
        ]
        lines += [f"{name}: {value}".encode("latin-1") for name, value in self.headers]
        return b"\r\n".join(lines) + b"\r\n\r\n" + self.body


class ErrorRenderer(Protocol):
    """Builds the answer to a refused request: ``status`` is one of 400, 408, 414, 431, 503;
    ``target`` the request target as far as it was received (None: not even that)."""

    def __call__(self, status: int, target: bytes | None) -> ErrorAnswer: ...


MESSAGES = {
    BAD_REQUEST: "malformed HTTP request",
    REQUEST_TIMEOUT: "the request was not received in time",
    URI_TOO_LONG: "request line too long",
    HEAD_TOO_LARGE: "request head too large",
    OVERLOADED: "too many connections, try again later",
}
#: Seconds a client refused for too many connections is told to wait.
RETRY_AFTER_S = 1


def plain_text(status: int, target: bytes | None) -> ErrorAnswer:
    """The answer of a server with no format of its own: the message as text."""
    headers = (("retry-after", str(RETRY_AFTER_S)),) if status == OVERLOADED else ()
    return ErrorAnswer(status, "text/plain; charset=utf-8", MESSAGES[status].encode(), headers)


def request_target(prefix: bytes) -> bytes | None:
    """The target of the request line starting ``prefix`` (possibly cut short), or None when
    the line does not have a method and a target."""
    line = prefix.lstrip(b"\r\n").split(b"\n", 1)[0]
    parts = line.split(b" ", 2)
    if len(parts) < 2 or not parts[0] or not parts[1]:
        return None
    return parts[1].rstrip(b"\r")


def path_and_query(target: bytes) -> tuple[str, bytes]:
    """The path (decoded as Latin-1, never failing) and the query string of a target, the
    absolute form (``http://host/path``) included."""
    for scheme in (b"http://", b"https://"):
        if target[: len(scheme)].lower() == scheme:
            slash = target.find(b"/", len(scheme))
            target = b"/" if slash == -1 else target[slash:]
            break
    path, _, query = target.partition(b"?")
    return path.partition(b"#")[0].decode("latin-1"), query


class HeadVerdict(enum.Enum):
    INCOMPLETE = "incomplete"
    COMPLETE = "complete"
    LINE_TOO_LONG = "line too long"
    HEAD_TOO_LARGE = "head too large"


_TERMINATORS = (b"\n\r\n", b"\n\n")


class HeadScanner:
    """Counts the bytes of one request head as they arrive, and finds where it ends (the
    first empty line), without keeping more than a short prefix and two bytes of it."""

    def __init__(self, max_line: int, max_head: int) -> None:
        self.max_line = max_line
        self.max_head = max_head
        self.reset()

    def reset(self) -> None:
        self.line_bytes = 0
        self.head_bytes = 0
        self.line_done = False
        self.prefix = b""
        self._tail = b""

    @property
    def started(self) -> bool:
        return self.head_bytes > 0

    def scan(self, data: bytes, start: int, stop: int | None = None) -> tuple[int, HeadVerdict]:
        """Account for ``data[start:stop]``: the offset up to which it belongs to the head (to
        give the parser), and the verdict. Over a cap nothing is counted: refuse the request."""
        stop = len(data) if stop is None else stop
        if len(self.prefix) < PREFIX_BYTES:  # kept whatever the verdict: it names the target
            self.prefix += data[start : min(stop, start + PREFIX_BYTES - len(self.prefix))]
        if not self.line_done:
            newline = data.find(b"\n", start, stop)
            line_end = stop if newline == -1 else newline
            if self.line_bytes + line_end - start > self.max_line:
                return start, HeadVerdict.LINE_TOO_LONG
        end = self._find_end(data, start, stop)
        taken = stop if end == -1 else end
        if self.head_bytes + taken - start > self.max_head:
            return start, HeadVerdict.HEAD_TOO_LARGE
        if not self.line_done:
            newline = data.find(b"\n", start, taken)
            if newline == -1:
                self.line_bytes += taken - start
            else:
                self.line_done = True
        self.head_bytes += taken - start
        self._tail = (self._tail + data[max(start, taken - 2) : taken])[-2:]
        return taken, HeadVerdict.INCOMPLETE if end == -1 else HeadVerdict.COMPLETE

    def _find_end(self, data: bytes, start: int, stop: int) -> int:
        """The offset just past the first head terminator, or -1."""
        tail = self._tail
        joined = tail + data[start : min(stop, start + 2)]
        for i in range(len(tail)):
            for terminator in _TERMINATORS:
                if joined.startswith(terminator, i) and i + len(terminator) > len(tail):
                    return start + i + len(terminator) - len(tail)
        found = [
            at + len(terminator)
            for terminator in _TERMINATORS
            if (at := data.find(terminator, start, stop)) != -1
        ]
        return min(found, default=-1)


def last_head_end(data: bytes, start: int, stop: int) -> int:
    """The offset just past the last head terminator in ``data[start:stop]``, else ``start``."""
    ends = [
        at + len(terminator)
        for terminator in _TERMINATORS
        if (at := data.rfind(terminator, start, stop)) != -1
    ]
    return max(ends, default=start)


def connection_cap(wanted: int, reserve: int = FD_RESERVE) -> int:
    """The connections this process can hold open: ``wanted``, with the soft limit on open
    files raised toward the hard limit when it is too low for them; when even the hard limit
    is, a lower cap (logged as a warning)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = wanted + reserve
    if soft == resource.RLIM_INFINITY or needed <= soft:
        return wanted
    target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    if target > soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError) as exc:
            log.warning("cannot raise the open-file limit from %d to %d (%s)", soft, target, exc)
    if needed <= soft:
        return wanted
    cap = max(1, soft - reserve)
    log.warning(
        "the open-file limit (%d, hard %d) leaves room for %d connections, not the %d of "
        "http_max_connections: serving at most %d (raise `ulimit -n` to allow more)",
        soft,
        hard,
        cap,
        wanted,
        cap,
    )
    return cap
