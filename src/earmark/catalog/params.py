"""Validation of every untrusted input of the catalog (docs/catalog.md, "Bad input").

Each function returns the normalised value or raises a 400 that names the parameter; nothing
malformed reaches a statement.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from earmark.catalog import errors
from earmark.musicbrainz.catalog_search import terms

_ISRC = re.compile(r"[A-Z]{2}[A-Z0-9]{3}[0-9]{7}")
_MBID = re.compile(r"[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}")
_BARCODE = re.compile(r"[0-9]{1,32}")

LIMIT_DEFAULT = 20
LIMIT_MAX = 100
OFFSET_MAX = 10_000
QUERY_MIN = 2
QUERY_MAX = 200
#: Ids a batch may hold, all lists together.
BATCH_MAX = 400
#: The lists of a batch body and the kind of value each holds.
BATCH_KEYS = {
    "tracks": "mbid",
    "recordings": "mbid",
    "albums": "mbid",
    "artists": "mbid",
    "isrcs": "isrc",
}


def isrc(value: str, name: str = "isrc") -> str:
    """An ISRC as 12 upper-case characters (``CC-XXX-YY-NNNNN``; case and hyphens ignored)."""
    found = value.strip().replace("-", "").upper()
    if not _ISRC.fullmatch(found):
        raise errors.invalid(name, "is not a valid ISRC (CC-XXX-YY-NNNNN, 12 characters)")
    return found


def mbid(value: str, name: str = "id") -> str:
    """An MBID as a lowercase dashed UUID (32 hex digits, dashes optional)."""
    found = value.strip().lower()
    if not _MBID.fullmatch(found):
        raise errors.invalid(name, "is not a valid MBID (a UUID)")
    digits = found.replace("-", "")
    return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"


def barcode(value: str, name: str = "upc") -> str:
    found = value.strip()
    if not _BARCODE.fullmatch(found):
        raise errors.invalid(name, "must be a barcode of 1 to 32 digits")
    return found


def _int(params: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    text = params.get(name)
    if text is None or text == "":
        return default
    if not text.isascii() or not text.isdigit() or len(text) > 6 or not low <= int(text) <= high:
        raise errors.invalid(name, f"must be an integer from {low} to {high}")
    return int(text)


@dataclass(frozen=True)
class CatalogSearch:
    query: str
    terms: tuple[str, ...]
    limit: int
    offset: int


def search(params: Mapping[str, str]) -> CatalogSearch:
    query = params.get("q")
    if query is None or not query.strip():
        raise errors.missing("q")
    query = query.strip()
    if len(query) < QUERY_MIN:
        raise errors.invalid("q", f"must be at least {QUERY_MIN} characters")
    if len(query) > QUERY_MAX:
        raise errors.invalid("q", f"must be at most {QUERY_MAX} characters")
    words = terms(query)
    if not words:
        raise errors.invalid("q", "has no letters or digits to search for")
    limit = _int(params, "limit", LIMIT_DEFAULT, 1, LIMIT_MAX)
    offset = _int(params, "offset", 0, 0, OFFSET_MAX)
    return CatalogSearch(query, tuple(words[:16]), limit, offset)


@dataclass(frozen=True)
class BatchRequest:
    """The normalised lists of a batch body (each without repeats, in the order given)."""

    lists: dict[str, tuple[str, ...]]

    @property
    def size(self) -> int:
        return sum(len(values) for values in self.lists.values())


def batch(body: bytes) -> BatchRequest:
    """The body of ``POST /batch/lookup``: a JSON object of lists of ids (1 to 400 in all)."""
    try:
        data: Any = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise errors.invalid_body("not a JSON document") from None
    if not isinstance(data, dict):
        raise errors.invalid_body("must be a JSON object")
    unknown = sorted(set(data) - set(BATCH_KEYS))
    if unknown:
        raise errors.invalid(unknown[0][:40], f"is not one of {', '.join(BATCH_KEYS)}")
    lists: dict[str, tuple[str, ...]] = {}
    total = 0
    for key, kind in BATCH_KEYS.items():
        values = data.get(key, [])
        if not isinstance(values, list):
            raise errors.invalid(key, "must be a list of strings")
        total += len(values)
        if total > BATCH_MAX:
            raise errors.invalid("batch", f"holds more than {BATCH_MAX} ids in total")
        found: dict[str, None] = {}
        for position, value in enumerate(values):
            name = f"{key}[{position}]"
            if not isinstance(value, str):
                raise errors.invalid(name, "must be a string")
            found[isrc(value, name) if kind == "isrc" else mbid(value, name)] = None
        lists[key] = tuple(found)
    if total == 0:
        raise errors.invalid("batch", f"must hold 1 to {BATCH_MAX} ids")
    return BatchRequest(lists)
