"""The public data root's layout: ``YYYY/YYYY-MM/YYYY-MM-DD-<stream>.jsonl.gz`` and index.json."""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass

from earmark.errors import EarmarkError

#: Every stream, in the order a day is applied: tracks before their links, fingerprints and
#: meta before track_fingerprint and track_meta (acoustid-data.md "Semantics").
STREAMS = (
    "track",
    "fingerprint",
    "meta",
    "track_fingerprint",
    "track_mbid",
    "track_puid",
    "track_meta",
)

_FILE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})-([a-z_]+)-update\.jsonl\.gz$")
_YEAR = re.compile(r"^\d{4}$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
#: An index.json larger than this is refused (a year directory lists 12 names).
MAX_LISTING_BYTES = 1 << 20


class LayoutError(EarmarkError):
    """A path or listing that does not follow the public data layout."""


@dataclass(frozen=True, slots=True, order=True)
class DayFile:
    day: dt.date
    stream: str

    @property
    def name(self) -> str:
        return f"{self.day.isoformat()}-{self.stream}-update.jsonl.gz"

    @property
    def relative(self) -> str:
        """The path below the data root."""
        return f"{self.day:%Y}/{self.day:%Y-%m}/{self.name}"


def parse_file_name(name: str) -> DayFile | None:
    """The day and stream of a daily file's name; None for any other name (index.html, …).

    Raises LayoutError for a daily file name with an impossible date or an unknown stream.
    """
    found = _FILE.match(name)
    if found is None:
        return None
    year, month, day, stream = found.groups()
    if stream not in STREAMS:
        return None
    try:
        return DayFile(dt.date(int(year), int(month), int(day)), stream)
    except ValueError:
        raise LayoutError(f"{name}: not a date") from None


def is_year_dir(name: str) -> bool:
    return _YEAR.match(name) is not None and 2000 <= int(name) <= 2999


def is_month_dir(name: str, year: str) -> bool:
    found = _MONTH.match(name)
    return found is not None and found.group(1) == year and 1 <= int(found.group(2)) <= 12


def parse_listing(text: bytes, where: str) -> list[str]:
    """The names of an ``index.json``: a JSON array of ``{"name": ..., "size": N}``.

    Names are single path segments: anything with a slash, a backslash or a dot-only segment
    (which could point outside the root) is refused.
    """
    if len(text) > MAX_LISTING_BYTES:
        raise LayoutError(f"{where}: index.json larger than {MAX_LISTING_BYTES} bytes")
    try:
        entries = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise LayoutError(f"{where}: index.json is not JSON ({exc})") from None
    if not isinstance(entries, list):
        raise LayoutError(f"{where}: index.json is not a list")
    names = []
    for entry in entries:
        name = entry.get("name") if isinstance(entry, dict) else None
        if not isinstance(name, str) or not name:
            raise LayoutError(f"{where}: index.json entry without a name: {entry!r:.100}")
        name = name.rstrip("/")
        if "/" in name or "\\" in name or name in (".", "..") or "\x00" in name:
            raise LayoutError(f"{where}: index.json names a path outside its directory: {name!r}")
        names.append(name)
    return names
