"""A small client of the AcoustID web service (``/v2/lookup``, ``/v2/submit``,
``/v2/submission_status``), for Earmark's own commands and any AcoustID-compatible server.

It speaks like pyacoustid (reference chromaprint.md §4.2): POST, a form body compressed with
gzip (``Content-Encoding: gzip``; here on https too, every AcoustID-compatible server inflates
it), ``format=json``; the error envelope becomes :class:`AcoustidError` with the code and
message. It is politer than pyacoustid: requests are paced (default 3 per second, as the
AcoustID documentation asks), HTTP 429 waits for ``Retry-After`` and retries, error 13 (HTTP
503) retries with a growing back-off; lookups go 20 fingerprints per request (``batch=1``, the
server's limit, reference §3.1), submissions 32 per request (``.N`` suffixes).

The transport is httpx's: over the network, or ``httpx.ASGITransport`` to talk to an app in
this process (``earmark identify`` without ``--server``).
"""

from __future__ import annotations

import asyncio
import email.utils
import gzip
import math
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx

from earmark import __version__
from earmark.errors import EarmarkError

LOOKUP_BATCH = 20
SUBMIT_BATCH = 32
DEFAULT_RATE = 3.0
#: Never wait longer than this for one ``Retry-After`` (a hostile or broken server could ask
#: for hours).
MAX_RETRY_AFTER = 60.0
#: Codes of errors caused by one entry of a submit batch: the batch is split to find it.
ENTRY_ERROR_CODES = frozenset({2, 3, 7, 8, 9, 10})
INVALID_API_KEY = 4
INVALID_USER_API_KEY = 6
TOO_MANY_REQUESTS = 14
SERVICE_UNAVAILABLE = 13

Sleep = Callable[[float], Awaitable[None]]


class AcoustidError(EarmarkError):
    """The server answered with the error envelope."""

    def __init__(self, code: int, message: str, http_status: int) -> None:
        super().__init__(f"server error {code}: {message}")
        self.code = code
        self.message = message
        self.http_status = http_status


class ServiceUnreachableError(EarmarkError):
    """No answer from the server (connection refused, DNS, timeout)."""


class ProtocolError(EarmarkError):
    """The server answered, but not with an AcoustID envelope (wrong URL, a proxy page)."""


@dataclass(frozen=True)
class Query:
    """One fingerprint to look up."""

    fingerprint: str
    duration: int


@dataclass(frozen=True)
class SubmitResult:
    """What the server made of one submitted fingerprint: its submission ids (one per MBID;
    none when the server dropped it for lack of metadata), or the error that refused it."""

    ids: tuple[int, ...] = ()
    error: AcoustidError | None = None


@dataclass
class Pacer:
    """Spaces request starts at least ``1 / rate`` seconds apart (0: no pacing)."""

    rate: float
    sleep: Sleep = asyncio.sleep
    _next: float = 0.0
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    async def wait(self) -> None:
        if self.rate <= 0:
            return
        async with self._lock:
            now = time.monotonic()
            if self._next > now:
                await self.sleep(self._next - now)
            self._next = max(now, self._next) + 1.0 / self.rate


def normalize_base_url(url: str) -> str:
    """``http://host:port``, ``…/v2`` and ``…/v2/`` all mean the ``/v2`` API of that server."""
    url = url.strip().rstrip("/")
    if "://" not in url:
        url = "http://" + url
    return url if url.endswith("/v2") else url + "/v2"


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (seconds or an HTTP date), capped."""
    if not value:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        seconds = when.timestamp() - time.time()
    if math.isnan(seconds):
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


class WebServiceClient:
    """Calls of one client key against one server; use as an async context manager."""

    def __init__(
        self,
        base_url: str,
        client_key: str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        rate: float = DEFAULT_RATE,
        retries: int = 5,
        timeout: float = 60.0,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.base_url = normalize_base_url(base_url)
        self.client_key = client_key
        self.retries = retries
        self.sleep = sleep
        self.pacer = Pacer(rate, sleep)
        self.retried = 0
        """Requests sent again after a 429 or 503 (for the summary and tests)."""
        self._http = httpx.AsyncClient(
            transport=transport,
            timeout=timeout,
            headers={"User-Agent": f"earmark/{__version__}"},
            follow_redirects=False,
        )

    async def __aenter__(self) -> WebServiceClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self._http.aclose()

    # The three calls.

    async def lookup(self, queries: Sequence[Query], meta: str) -> list[list[dict[str, Any]]]:
        """The results of each query (same order), ``LOOKUP_BATCH`` queries per request."""
        found: list[list[dict[str, Any]]] = []
        for start in range(0, len(queries), LOOKUP_BATCH):
            found += await self._lookup_batch(queries[start : start + LOOKUP_BATCH], meta)
        return found

    async def _lookup_batch(
        self, queries: Sequence[Query], meta: str
    ) -> list[list[dict[str, Any]]]:
        fields: list[tuple[str, str]] = [("client", self.client_key), ("batch", "1")]
        if meta:
            fields.append(("meta", meta))
        for i, query in enumerate(queries):
            fields += [
                (f"duration.{i}", str(query.duration)),
                (f"fingerprint.{i}", query.fingerprint),
            ]
        payload = await self.call("lookup", fields)
        results: list[list[dict[str, Any]]] = [[] for _ in queries]
        for entry in _list(payload, "fingerprints"):
            index = _index(entry.get("index"), len(queries))
            if index is not None:
                results[index] = list(_list(entry, "results"))
        return results

    async def submit(
        self, user_key: str, entries: Sequence[Mapping[str, str | Sequence[str]]]
    ) -> list[SubmitResult]:
        """Submit fingerprints with their fields (``fingerprint``, ``duration``, ``mbid`` (a list),
        ``track`` …, unsuffixed), ``SUBMIT_BATCH`` per request. An entry the server refuses
        (error 2, 3, 7-10) fails alone: the batch is split to find it."""
        results: list[SubmitResult] = []
        for start in range(0, len(entries), SUBMIT_BATCH):
            results += await self._submit_batch(user_key, entries[start : start + SUBMIT_BATCH])
        return results

    async def _submit_batch(
        self, user_key: str, entries: Sequence[Mapping[str, str | Sequence[str]]]
    ) -> list[SubmitResult]:
        fields: list[tuple[str, str]] = [("client", self.client_key), ("user", user_key)]
        fields.append(("clientversion", __version__))
        for i, entry in enumerate(entries):
            for name, value in entry.items():
                values = [value] if isinstance(value, str) else list(value)
                fields += [(f"{name}.{i}", v) for v in values]
        try:
            payload = await self.call("submit", fields)
        except AcoustidError as exc:
            if exc.code not in ENTRY_ERROR_CODES:
                raise
            if len(entries) == 1:
                return [SubmitResult(error=exc)]
            results: list[SubmitResult] = []
            for entry in entries:
                results += await self._submit_batch(user_key, [entry])
            return results
        ids: list[list[int]] = [[] for _ in entries]
        for item in _list(payload, "submissions"):
            index = _index(item.get("index"), len(entries))
            submission_id = item.get("id")
            if index is not None and isinstance(submission_id, int):
                ids[index].append(submission_id)
        return [SubmitResult(ids=tuple(found)) for found in ids]

    async def submission_status(self, ids: Sequence[int]) -> dict[int, dict[str, Any]]:
        """The status of each submission id (``{"status": "imported", "result": {"id": …}}``)."""
        statuses: dict[int, dict[str, Any]] = {}
        for start in range(0, len(ids), 500):
            fields = [("client", self.client_key)]
            fields += [("id", str(i)) for i in ids[start : start + 500]]
            payload = await self.call("submission_status", fields)
            for item in _list(payload, "submissions"):
                if isinstance(item.get("id"), int):
                    statuses[item["id"]] = item
        return statuses

    # The wire.

    async def call(self, endpoint: str, fields: Sequence[tuple[str, str]]) -> dict[str, Any]:
        """POST ``fields`` to ``/v2/<endpoint>``; the payload of an ``ok`` envelope."""
        body = gzip.compress(urlencode([*fields, ("format", "json")]).encode("utf-8"))
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "Content-Encoding": "gzip",
            "Accept": "application/json",
        }
        url = f"{self.base_url}/{endpoint}"
        attempt = 0
        while True:
            await self.pacer.wait()
            try:
                response = await self._http.post(url, content=body, headers=headers)
            except httpx.TransportError as exc:
                if attempt < min(self.retries, 2) and isinstance(exc, httpx.TimeoutException):
                    attempt += 1
                    await self.sleep(2.0**attempt)
                    continue
                raise ServiceUnreachableError(
                    f"cannot reach {self.base_url}: {_describe(exc)}"
                ) from None
            payload = _envelope(response, url)
            error = payload.get("error") if payload.get("status") == "error" else None
            if error is None:
                return payload
            exc_ = _error(error, response.status_code)
            wait = self._retry_wait(exc_, response, attempt)
            if wait is None:
                raise exc_
            attempt += 1
            self.retried += 1
            await self.sleep(wait)

    def _retry_wait(
        self, exc: AcoustidError, response: httpx.Response, attempt: int
    ) -> float | None:
        if attempt >= self.retries:
            return None
        if exc.code == TOO_MANY_REQUESTS or response.status_code == 429:
            after = parse_retry_after(response.headers.get("Retry-After"))
            return after if after is not None else min(2.0**attempt, MAX_RETRY_AFTER)
        if exc.code == SERVICE_UNAVAILABLE or response.status_code == 503:
            after = parse_retry_after(response.headers.get("Retry-After"))
            return after if after is not None else min(2.0**attempt, MAX_RETRY_AFTER)
        return None


def _envelope(response: httpx.Response, url: str) -> dict[str, Any]:
    try:
        payload = response.json()
    except ValueError:
        payload = None
    if not isinstance(payload, dict) or payload.get("status") not in ("ok", "error"):
        raise ProtocolError(
            f"{url} did not answer like an AcoustID server (HTTP {response.status_code}, "
            f"{response.headers.get('content-type', 'no content type')})"
        )
    return payload


def _error(error: object, http_status: int) -> AcoustidError:
    if not isinstance(error, dict):
        return AcoustidError(0, "malformed error envelope", http_status)
    code = error.get("code")
    message = error.get("message")
    return AcoustidError(
        code if isinstance(code, int) and not isinstance(code, bool) else 0,
        str(message)[:500] if message is not None else "",
        http_status,
    )


def _list(payload: Mapping[str, Any], key: str) -> list[dict[str, Any]]:
    """The dict items of ``payload[key]`` (anything else in a hostile answer is ignored)."""
    value = payload.get(key)
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _index(value: object, count: int) -> int | None:
    """A batch index (int in lookups, string in submits, reference §4.2) within range."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, int) and 0 <= value < count:
        return value
    return None


def _describe(exc: httpx.TransportError) -> str:
    text = str(exc).strip()
    return text or type(exc).__name__
