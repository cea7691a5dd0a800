"""Where daily files come from: a directory laid out like the data root, or a base URL whose
directories have ``index.json`` listings (https, or plain http to a loopback host)."""

from __future__ import annotations

import datetime as dt
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Protocol
from urllib.parse import urljoin, urlsplit

from earmark.musicbrainz.replication_source import is_loopback
from earmark.opendata.decode import MAX_FILE_BYTES
from earmark.opendata.layout import (
    DayFile,
    LayoutError,
    is_month_dir,
    is_year_dir,
    parse_file_name,
    parse_listing,
)

if TYPE_CHECKING:
    import httpx

CHUNK = 1 << 20
#: Called with a listing entry that was skipped (a bad date in a file name): where, why.
Skipped = Callable[[str, str], None]


class DaySource(Protocol):
    def describe(self) -> str: ...

    def files(
        self, since: dt.date | None, until: dt.date | None, skipped: Skipped
    ) -> list[DayFile]:
        """The daily files between ``since`` and ``until`` (inclusive), sorted."""
        ...

    def open(self, day_file: DayFile) -> IO[bytes]:
        """The file's (gzip) bytes; the caller closes it."""
        ...

    def close(self) -> None: ...


def _in_range(day: dt.date, since: dt.date | None, until: dt.date | None) -> bool:
    return (since is None or day >= since) and (until is None or day <= until)


def _year_wanted(year: str, since: dt.date | None, until: dt.date | None) -> bool:
    value = int(year)
    return (since is None or value >= since.year) and (until is None or value <= until.year)


def _month_wanted(month: str, since: dt.date | None, until: dt.date | None) -> bool:
    key = (int(month[:4]), int(month[5:7]))
    low = (since.year, since.month) if since else (0, 0)
    high = (until.year, until.month) if until else (9999, 12)
    return low <= key <= high


def _day_files(
    names: list[str], where: str, since: dt.date | None, until: dt.date | None, skipped: Skipped
) -> list[DayFile]:
    found = []
    for name in names:
        try:
            parsed = parse_file_name(name)
        except LayoutError as exc:
            skipped(where, str(exc))
            continue
        if parsed is not None and _in_range(parsed.day, since, until):
            found.append(parsed)
    return found


@dataclass
class DataDirectory:
    root: Path

    def describe(self) -> str:
        return str(self.root)

    def files(
        self, since: dt.date | None, until: dt.date | None, skipped: Skipped
    ) -> list[DayFile]:
        if not self.root.is_dir():
            raise LayoutError(f"{self.root}: not a directory")
        found: list[DayFile] = []
        for year in sorted(p for p in self.root.iterdir() if p.is_dir()):
            if not is_year_dir(year.name) or not _year_wanted(year.name, since, until):
                continue
            for month in sorted(p for p in year.iterdir() if p.is_dir()):
                if is_month_dir(month.name, year.name) and _month_wanted(month.name, since, until):
                    names = sorted(p.name for p in month.iterdir() if p.is_file())
                    found += _day_files(names, str(month), since, until, skipped)
        return sorted(found)

    def open(self, day_file: DayFile) -> IO[bytes]:
        return (self.root / day_file.relative).open("rb")

    def close(self) -> None:
        return None


def check_url(url: str) -> str:
    """``url`` when it is https, or http to a loopback host; LayoutError otherwise."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if (parts.scheme == "https" and host) or (parts.scheme == "http" and is_loopback(host)):
        return url if url.endswith("/") else url + "/"
    raise LayoutError(f"{url!r}: not a data URL (https, or plain http to a loopback host)")


@dataclass
class DataUrl:
    """The data root under a base URL, read through its ``index.json`` listings."""

    base_url: str
    timeout: float = 60.0  # connect / read / write, each
    deadline: float = 3600.0  # one whole download
    max_bytes: int = MAX_FILE_BYTES
    client: httpx.Client | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.base_url = check_url(self.base_url)

    def describe(self) -> str:
        return self.base_url

    def _client(self) -> httpx.Client:
        if self.client is None:
            import httpx

            self.client = httpx.Client(timeout=self.timeout, follow_redirects=False)
        return self.client

    def close(self) -> None:
        if self.client is not None:
            self.client.close()

    def _listing(self, relative: str) -> list[str]:
        with self._download(relative) as body:
            return parse_listing(body.read(), self.base_url + relative)

    def files(
        self, since: dt.date | None, until: dt.date | None, skipped: Skipped
    ) -> list[DayFile]:
        found: list[DayFile] = []
        for year in sorted(self._listing("index.json")):
            if not is_year_dir(year) or not _year_wanted(year, since, until):
                continue
            for month in sorted(self._listing(f"{year}/index.json")):
                if is_month_dir(month, year) and _month_wanted(month, since, until):
                    names = self._listing(f"{year}/{month}/index.json")
                    found += _day_files(
                        names, f"{self.base_url}{year}/{month}/", since, until, skipped
                    )
        return sorted(set(found))

    def open(self, day_file: DayFile) -> IO[bytes]:
        return self._download(day_file.relative)

    def _download(self, relative: str) -> IO[bytes]:
        """The body of ``base_url + relative`` spooled to a temporary file (bounded in size
        and time), so a slow network never holds a database transaction open."""
        import httpx

        url = urljoin(self.base_url, relative)
        if not url.startswith(self.base_url):
            raise LayoutError(f"{relative!r}: outside the data root")
        started = time.monotonic()
        spooled = tempfile.TemporaryFile()  # noqa: SIM115 - the caller closes it
        try:
            with self._client().stream("GET", url) as response:
                if response.status_code != 200:
                    raise LayoutError(f"{url}: HTTP {response.status_code}")
                size = 0
                for chunk in response.iter_bytes(CHUNK):
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise LayoutError(f"{url}: larger than {self.max_bytes} bytes")
                    if time.monotonic() - started > self.deadline:
                        raise LayoutError(f"{url}: took longer than {self.deadline:g}s")
                    spooled.write(chunk)
            spooled.seek(0)
            return spooled
        except httpx.HTTPError as exc:
            spooled.close()
            raise LayoutError(f"{url}: {type(exc).__name__}: {exc}") from None
        except BaseException:
            spooled.close()
            raise


def open_source(location: str) -> DaySource:
    """A URL (http/https) or a directory."""
    if "://" in location:
        return DataUrl(location)
    return DataDirectory(Path(location))


def chunks(handle: IO[bytes]) -> Iterator[bytes]:
    while chunk := handle.read(CHUNK):
        yield chunk
