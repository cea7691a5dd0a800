"""Logging set-up: text or JSON lines, and the id of the HTTP request a line was logged in.

The request id lives in a context variable set by :mod:`earmark.requestid` for each request;
worker threads see it because :mod:`earmark.threadpool` (and anyio) run calls in a copy of the
caller's context. Every log line logged while the request is handled carries it, and the index
client sends it on to the index server in ``X-Request-Id``.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging
import re
import secrets
import sys

#: The id of the HTTP request being handled in this context (None outside requests).
REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "earmark_request_id", default=None
)

#: The header that carries it, in and out (and on to the index server).
REQUEST_ID_HEADER = "X-Request-Id"

#: What an incoming id may look like to be kept: letters, digits and ``-_.:``, 1 to 64 of them
#: (a UUID, a load balancer's trace id). Anything else is replaced, so a client cannot put
#: newlines, quotes or kilobytes into the logs.
_SANE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")

_TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def sane_request_id(value: str | None) -> str | None:
    """``value`` when it is a usable request id, else None."""
    if value is not None and _SANE_ID.fullmatch(value):
        return value
    return None


def new_request_id() -> str:
    """A fresh request id: 16 random hex digits."""
    return secrets.token_hex(8)


class RequestIdFilter(logging.Filter):
    """Puts the context's request id on every record (``record.request_id``, None outside)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get()
        return True


class TextFormatter(logging.Formatter):
    """The human-readable line, with ``[request id]`` after the level inside a request."""

    def __init__(self) -> None:
        super().__init__(_TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        request_id = getattr(record, "request_id", None)
        if request_id is None:
            return line
        head, sep, rest = line.partition(f" {record.levelname} ")
        return f"{head}{sep}[{request_id}] {rest}" if sep else line


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id, exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None)
        if request_id is not None:
            entry["request_id"] = request_id
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(level: str, log_format: str) -> None:
    """The root logger's one handler, on stderr, in ``log_format`` (``text`` or ``json``).

    Like :func:`logging.basicConfig`, nothing changes when the root logger has handlers
    already (a test's log capture, a worker that inherited them).
    """
    root = logging.getLogger()
    if root.handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    root.addHandler(handler)
    root.setLevel(level)
