"""Where replication packets come from: a directory of packet files, or an HTTP(S) base URL.

Packet N is ``replication-<N>-v2.tar.bz2`` (dbmirror2), or ``replication-<N>.tar.bz2`` for the
older format. A source hands the packet's bytes over as a binary file, or None when packet N
does not exist yet (the mirror is current).

The URL source asks ``<base>/replication-<N>-v2.tar.bz2?token=<token>`` (MetaBrainz's endpoint;
404 means "not published yet"), then the v1 name. It requires https, except on a loopback host;
the download is bounded in size (the packet limit) and time, is spooled to a temporary file, and
redirects are followed (at most 5) only to https or loopback URLs. The token never appears in a
message.
"""

from __future__ import annotations

import ipaddress
import re
import tempfile
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Protocol
from urllib.parse import urljoin, urlsplit

from earmark.musicbrainz.errors import PacketError, ReplicationError
from earmark.settings import Settings

if TYPE_CHECKING:
    import httpx

MAX_REDIRECTS = 5
_PACKET_NAME = re.compile(r"replication-(\d{1,18})(?:-v2)?\.tar\.bz2")


def packet_names(sequence: int) -> tuple[str, str]:
    """The file names of packet ``sequence``: the current (v2) name first, then v1's."""
    return f"replication-{sequence}-v2.tar.bz2", f"replication-{sequence}.tar.bz2"


class PacketSource(Protocol):
    """Packets by sequence number: a file object, or None when it is not published yet."""

    def describe(self) -> str: ...

    def open(self, sequence: int) -> AbstractContextManager[IO[bytes] | None]: ...


@dataclass(frozen=True)
class DirectorySource:
    """Packet files in one directory (for instance mirrored with rsync or wget)."""

    path: Path
    max_bytes: int = 1 << 30

    def describe(self) -> str:
        return str(self.path)

    @contextmanager
    def open(self, sequence: int) -> Iterator[IO[bytes] | None]:
        if not self.path.is_dir():
            raise ReplicationError(f"{self.path}: not a directory of replication packets")
        for name in packet_names(sequence):
            candidate = self.path / name
            if candidate.is_file():
                if candidate.stat().st_size > self.max_bytes:
                    raise PacketError(f"{name}: larger than the limit ({self.max_bytes} bytes)")
                with candidate.open("rb") as stream:
                    yield stream
                return
        later = sorted(n for n in self._sequences() if n > sequence)
        if later:
            raise ReplicationError(
                f"{self.path}: packet {sequence} is missing but packet {later[0]} is there "
                "(a gap); the mirror cannot skip packets"
            )
        yield None

    def _sequences(self) -> Iterator[int]:
        for entry in self.path.iterdir():
            match = _PACKET_NAME.fullmatch(entry.name)
            if match:
                yield int(match.group(1))


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_url(url: str) -> str:
    """``url`` when it is https, or http to a loopback host; ReplicationError otherwise."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme == "https" and host:
        return url
    if parts.scheme == "http" and is_loopback(host):
        return url
    raise ReplicationError(
        f"replication URL {_public(url)!r}: https is required (plain http only to a loopback host)"
    )


def _public(url: str) -> str:
    """A URL without its query (where the token is) and without user info."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


@dataclass
class UrlSource:
    """Packets under a base URL, fetched with httpx (one client; close it when done)."""

    base_url: str
    token: str = ""
    max_bytes: int = 1 << 30
    timeout: float = 60.0  # connect / read / write, each
    deadline: float = 1800.0  # a whole download
    client: httpx.Client | None = None

    def __post_init__(self) -> None:
        check_url(self.base_url)
        if not self.base_url.endswith("/"):
            self.base_url += "/"

    def describe(self) -> str:
        return _public(self.base_url)

    def _client(self) -> httpx.Client:
        if self.client is None:
            import httpx

            self.client = httpx.Client(timeout=self.timeout, follow_redirects=False)
        return self.client

    def close(self) -> None:
        if self.client is not None:
            self.client.close()

    @contextmanager
    def open(self, sequence: int) -> Iterator[IO[bytes] | None]:
        for name in packet_names(sequence):
            spooled = self._download(urljoin(self.base_url, name))
            if spooled is not None:
                with spooled:
                    yield spooled
                return
        yield None

    def _download(self, url: str) -> IO[bytes] | None:
        import httpx

        params = {"token": self.token} if self.token else None
        started = time.monotonic()
        try:
            for _ in range(MAX_REDIRECTS + 1):
                with self._client().stream("GET", url, params=params) as response:
                    if response.status_code == 404:
                        return None
                    if response.is_redirect:
                        target = urljoin(url, response.headers.get("location", ""))
                        url, params = check_url(target), None
                        continue
                    if response.status_code != 200:
                        raise ReplicationError(
                            f"{_public(url)}: HTTP {response.status_code} (a wrong token is "
                            "refused with 401 or 403)"
                        )
                    return self._spool(response, url, started)
        except httpx.HTTPError as exc:
            raise ReplicationError(f"{_public(url)}: {type(exc).__name__}") from None
        raise ReplicationError(f"{_public(url)}: more than {MAX_REDIRECTS} redirects")

    def _spool(self, response: httpx.Response, url: str, started: float) -> IO[bytes]:
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            raise PacketError(f"{_public(url)}: larger than the limit ({self.max_bytes} bytes)")
        spooled = tempfile.TemporaryFile()  # noqa: SIM115 - handed to the caller, who closes it
        try:
            size = 0
            for chunk in response.iter_bytes(1 << 20):
                size += len(chunk)
                if size > self.max_bytes:
                    raise PacketError(
                        f"{_public(url)}: larger than the limit ({self.max_bytes} bytes)"
                    )
                if time.monotonic() - started > self.deadline:
                    raise ReplicationError(
                        f"{_public(url)}: the download took longer than {self.deadline:g}s"
                    )
                spooled.write(chunk)
            spooled.seek(0)
            return spooled
        except BaseException:
            spooled.close()
            raise


def configured_source(
    settings: Settings, *, url: str | None = None, directory: Path | None = None
) -> DirectorySource | UrlSource | None:
    """The source named by ``url`` or ``directory``, else by the settings (the URL first);
    None when nothing is configured."""
    if directory is not None:
        return DirectorySource(directory)
    chosen = url if url is not None else str(settings.musicbrainz_replication_url)
    if chosen:
        return UrlSource(chosen, str(settings.musicbrainz_replication_token))
    if settings.musicbrainz_replication_dir:
        return DirectorySource(Path(settings.musicbrainz_replication_dir))
    return None
