"""Form bodies: bounded in size, checked for the session's CSRF token, parsed.

:func:`read_form` is the one way a page reads a POST: a body over the limit (setting
``web_form_max_bytes``, or the page's own ``max_bytes``) is the 413 page, a missing or wrong
``csrf_token`` field the 403 page; in both cases before anything is changed.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request

from earmark.web.access import services_of, session_of
from earmark.web.render import templates_of

CSRF_FIELD = "csrf_token"
_URLENCODED = "application/x-www-form-urlencoded"
_MULTIPART = "multipart/form-data"


class FormTooLarge(HTTPException):
    def __init__(self) -> None:
        super().__init__(413, "The form sent more data than this site accepts.")


class CsrfFailed(HTTPException):
    def __init__(self) -> None:
        super().__init__(
            403,
            "The form's security token is missing or out of date (the page may be old, or "
            "you signed in or out elsewhere). Reload the page and try again.",
        )


async def _body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise FormTooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise FormTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


async def read_form(request: Request, *, max_bytes: int | None = None) -> FormData:
    """The POSTed form, once its size and CSRF token are checked (see the module doc).

    URL-encoded and multipart bodies are accepted (files only under ``max_bytes``).
    """
    limit = max_bytes if max_bytes is not None else services_of(request).config.form_max_bytes
    body = await _body(request, limit)
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == _MULTIPART:
        # The body is read (and bounded) already: Starlette's parser reads it from the cache.
        request._body = body  # Request.body() caches the same way
        form = await request.form(max_files=4, max_fields=100)
    elif kind in (_URLENCODED, ""):
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise HTTPException(400, "The form is not valid UTF-8.") from None
        try:
            pairs: list[tuple[str, str | UploadFile]] = list(
                parse_qsl(text, keep_blank_values=True, max_num_fields=100)
            )
        except ValueError:
            raise HTTPException(400, "The form has too many fields.") from None
        form = FormData(pairs)
    else:
        raise HTTPException(400, "This page accepts forms only.")
    token = form.get(CSRF_FIELD)
    codec = templates_of(request).codec
    if not isinstance(token, str) or not codec.csrf_valid(session_of(request), token):
        await form.close()  # a multipart form's files are temporary files
        raise CsrfFailed
    return form


def text_field(form: FormData, name: str, *, max_length: int = 1000, strip: bool = True) -> str:
    """A text field (stripped unless ``strip=False``, for passwords); missing or a file:
    ``""``; longer than ``max_length``: the 400 page."""
    value = form.get(name)
    if not isinstance(value, str):
        return ""
    if len(value) > max_length:
        raise HTTPException(400, f"The field {name!r} is too long.")
    return value.strip() if strip else value
