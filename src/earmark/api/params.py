"""Request parameters: the query string and the form body merged (reference §2), and their rules.

Repeated keys matter (``mbid``, ``id``, ``client``), so :class:`Params` keeps every value in
order; :meth:`Params.get` answers the first, as the reference's multi-dict does. Batches use
``.N`` suffixes (``fingerprint.0``, ``duration.0``); :meth:`Params.suffixes` finds them.
"""

from __future__ import annotations

import contextlib
import re
import uuid
from collections.abc import Iterable
from urllib.parse import parse_qsl

import numpy as np
import numpy.typing as npt
from starlette.requests import Request

from earmark.api import errors
from earmark.chromaprint.codec import InvalidFingerprint, decode_fingerprint_base64

#: The reference's limits: 1 MiB of body (after inflating) and 1000 form parts.
MAX_BODY_BYTES = 1024 * 1024
MAX_PARTS = 1000

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I | re.A)
_INT = re.compile(r"\s*[-+]?[0-9]+\s*", re.A)
_FORM = "application/x-www-form-urlencoded"
_MULTIPART = "multipart/form-data"

Suffix = int | None


class Params:
    """An ordered multi-dict of text parameters."""

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        self.items: list[tuple[str, str]] = list(items)
        self._by_key: dict[str, list[str]] = {}
        for key, value in self.items:
            self._by_key.setdefault(key, []).append(value)

    def __contains__(self, key: object) -> bool:
        return key in self._by_key

    def keys(self) -> list[str]:
        return list(self._by_key)

    def get(self, key: str) -> str | None:
        values = self._by_key.get(key)
        return values[0] if values else None

    def getlist(self, key: str) -> list[str]:
        return list(self._by_key.get(key, ()))

    def suffixes(self, *bases: str) -> list[Suffix]:
        """The suffixes of the keys named ``base`` or ``base.<digits>``: None first, then by
        number (``fingerprint``, ``fingerprint.0``, ``fingerprint.2``)."""
        found: set[Suffix] = set()
        for key in self._by_key:
            for base in bases:
                if key == base:
                    found.add(None)
                elif key.startswith(base + ".") and key[len(base) + 1 :].isdigit():
                    # isdigit() admits "²" and 5000-digit runs, which int() refuses: such a
                    # key is no suffix (the reference fails with error 5 there).
                    with contextlib.suppress(ValueError):
                        found.add(int(key[len(base) + 1 :]))
        numbered = sorted(s for s in found if s is not None)
        return ([None] if None in found else []) + list(numbered)


def suffixed(base: str, suffix: Suffix) -> str:
    """``fingerprint`` or ``fingerprint.3``."""
    return base if suffix is None else f"{base}.{suffix}"


async def read_params(request: Request) -> Params:
    """The query string and the (already inflated and size-checked) form body, merged.

    More than :data:`MAX_PARTS` parameters → error 19; an undecodable body → error 20.
    """
    # The raw query string, as Starlette's URL would give it (without building the URL).
    items = _parse_pairs(request.scope.get("query_string", b"").decode("latin-1"))
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == _FORM:
        body = await request.body()
        items += _parse_pairs(body.decode("utf-8", "replace"), MAX_PARTS - len(items))
    elif content_type == _MULTIPART:
        items += await _multipart(request, MAX_PARTS - len(items))
    if len(items) > MAX_PARTS:
        raise errors.request_too_large()
    return Params(items)


def _parse_pairs(text: str, limit: int = MAX_PARTS) -> list[tuple[str, str]]:
    if not text:
        return []
    try:
        return parse_qsl(
            text,
            keep_blank_values=True,
            encoding="utf-8",
            errors="replace",
            max_num_fields=max(limit, 0),
        )
    except ValueError:
        raise errors.request_too_large() from None


async def _multipart(request: Request, limit: int) -> list[tuple[str, str]]:
    try:
        form = await request.form(max_files=limit, max_fields=limit, max_part_size=MAX_BODY_BYTES)
    except Exception as exc:  # python-multipart and Starlette raise several kinds
        if "too many" in str(exc).lower() or "exceeded" in str(exc).lower():
            raise errors.request_too_large() from None
        raise errors.invalid_request_body("malformed multipart form") from None
    pairs: list[tuple[str, str]] = []
    for key, value in form.multi_items():
        if isinstance(value, str):
            pairs.append((key, value))
        else:  # an uploaded file: its content as text, like a field
            data = await value.read()
            pairs.append((key, data.decode("utf-8", "replace")))
    await form.close()
    return pairs


# Validators (reference §2.1).


def is_uuid(text: str) -> bool:
    return _UUID.fullmatch(text) is not None


def parse_uuid(text: str | None, name: str) -> uuid.UUID:
    """The UUID ``text`` or error 7 naming ``name``."""
    if text is None or not is_uuid(text):
        raise errors.invalid_uuid(name)
    return uuid.UUID(text)


def parse_int(text: str | None) -> int | None:
    """``text`` as an integer, or None when it is absent or not one (as ``type=int`` does)."""
    if text is None or not _INT.fullmatch(text):
        return None
    try:
        return int(text)
    except ValueError:  # more digits than Python converts (4300): not an int we could use
        return None


def truthy_int(text: str | None) -> bool:
    """The reference's ``batch``/``disabled`` flags: an integer other than 0."""
    value = parse_int(text)
    return bool(value)


# Free text (stored labels, metadata).

MAX_LABEL_LENGTH = 255
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SPACES = re.compile(r"\s+")


def clean_text(text: str | None) -> str | None:
    """Free text with control characters (NUL included) turned into spaces, runs of
    whitespace collapsed and the ends stripped; None when nothing is left."""
    if text is None:
        return None
    cleaned = _SPACES.sub(" ", CONTROL.sub(" ", text)).strip()
    return cleaned or None


def clean_label(text: str | None) -> str | None:
    """:func:`clean_text`, cut to :data:`MAX_LABEL_LENGTH` characters."""
    cleaned = clean_text(text)
    return None if cleaned is None else cleaned[:MAX_LABEL_LENGTH].rstrip()


# Fingerprints.

#: Chromaprint's default algorithm (``CHROMAPRINT_ALGORITHM_TEST2``): the only one AcoustID
#: stores, so another one could never match.
FINGERPRINT_ALGORITHM = 1


def decode_fingerprint(text: str) -> npt.NDArray[np.uint32]:
    """The items of a compressed base64 fingerprint; error 3 when it cannot be decoded, holds no
    item or is not :data:`FINGERPRINT_ALGORITHM` (a missing one is the caller's error 2)."""
    try:
        items, algorithm = decode_fingerprint_base64(text)
    except InvalidFingerprint:
        raise errors.invalid_fingerprint() from None
    if items.size == 0 or algorithm != FINGERPRINT_ALGORITHM:
        raise errors.invalid_fingerprint()
    return items
