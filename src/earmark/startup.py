"""Start-up waits: a production role waits for PostgreSQL, Redis and NATS to accept connections.

In a fleet the services start together, so a database that is still starting (or restarting)
is a passing state, not a configuration error: ``earmark run ROLE`` retries with backoff for up
to ``startup_wait_seconds``, logging one line per attempt that names what is unreachable, then
gives up with one line. Reachability here means the service accepts a TCP connection; a wrong
password or a missing database is still reported by the role's own first connection.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from earmark.errors import EarmarkError
from earmark.settings import Settings

log = logging.getLogger(__name__)

#: First pause between attempts, and the longest one (the pause doubles up to it).
_FIRST_PAUSE_S = 0.5
_LONGEST_PAUSE_S = 10.0
#: Seconds one connection attempt may take (a dropped SYN must not eat the whole wait).
_CONNECT_TIMEOUT_S = 3.0

_DEFAULT_PORTS = {"postgresql": 5432, "postgres": 5432, "redis": 6379, "rediss": 6379, "nats": 4222}


@dataclass(frozen=True)
class ServiceAddress:
    """One service address a role needs at start, and the setting it came from."""

    service: str
    setting: str
    host: str
    port: int

    def describe(self) -> str:
        return f"{self.service} at {self.host}:{self.port} ({self.setting})"


class StartupTimeoutError(EarmarkError):
    """A needed service stayed unreachable for the whole start-up wait (exit 3, like a
    database that is not ready)."""

    exit_code = 3


def _endpoint(service: str, name: str, url: str) -> ServiceAddress | None:
    parts = urlsplit(url)
    scheme = parts.scheme.split("+", 1)[0].lower()
    if scheme not in _DEFAULT_PORTS:
        return None  # SQLite and other local stores have nothing to wait for
    try:
        host, port = parts.hostname, parts.port
    except ValueError:
        return None  # the role's own connection reports a malformed URL
    if not host:
        return None  # a Unix socket: the libpq/redis client reports it itself
    return ServiceAddress(service, name, host, port or _DEFAULT_PORTS[scheme])


def needed_endpoints(settings: Settings) -> list[ServiceAddress]:
    """The PostgreSQL, Redis and NATS addresses ``settings`` point a production role at.

    NATS counts only with ``queue = nats``; of several NATS URLs one reachable is enough, so
    each is listed and :func:`wait_for_services` waits for the first of them.
    """
    found: list[ServiceAddress] = []
    for name in (
        "database_url",
        "fingerprint_database_url",
        "ingest_database_url",
        "musicbrainz_database_url",
    ):
        point = _endpoint("PostgreSQL", name, str(getattr(settings, name)))
        if point is not None and point not in found:
            found.append(point)
    if settings.redis_url:
        point = _endpoint("Redis", "redis_url", str(settings.redis_url))
        if point is not None:
            found.append(point)
    if settings.queue == "nats":
        found.extend(nats_endpoints(str(settings.nats_url)))
    return found


def nats_endpoints(urls: str) -> list[ServiceAddress]:
    """The addresses of a comma-separated ``nats_url``."""
    found: list[ServiceAddress] = []
    for url in urls.split(","):
        point = _endpoint("NATS", "nats_url", url.strip())
        if point is not None and point not in found:
            found.append(point)
    return found


def reach(point: ServiceAddress) -> str | None:
    """None when ``point`` accepts a TCP connection, else why not (one short phrase)."""
    try:
        with socket.create_connection((point.host, point.port), timeout=_CONNECT_TIMEOUT_S):
            return None
    except OSError as exc:
        return exc.strerror or str(exc) or type(exc).__name__


def unreachable(points: Iterable[ServiceAddress]) -> list[tuple[ServiceAddress, str]]:
    """The endpoints that do not answer, with why; of several NATS URLs, none if one answers."""
    failed: list[tuple[ServiceAddress, str]] = []
    nats_up = False
    nats_down: list[tuple[ServiceAddress, str]] = []
    for point in points:
        problem = reach(point)
        if point.service == "NATS":
            if problem is None:
                nats_up = True
            else:
                nats_down.append((point, problem))
        elif problem is not None:
            failed.append((point, problem))
    return failed if nats_up else failed + nats_down


def wait_for_services(settings: Settings, role: str) -> None:
    """Wait for every PostgreSQL, Redis and NATS server ``settings`` name (see :func:`wait_for`)."""
    wait_for(needed_endpoints(settings), role, settings.startup_wait_seconds)


def wait_for(points: list[ServiceAddress], role: str, limit: float) -> None:
    """Return once every one of ``points`` accepts connections; raise
    :class:`StartupTimeoutError` (one line) when ``limit`` seconds pass first.

    The roles call this before opening their connections, so their HTTP listeners (and health
    endpoints) are not serving yet: a container health check reports "starting" meanwhile, and
    these log lines say why.
    """
    if not points:
        return
    deadline = time.monotonic() + limit
    pause = _FIRST_PAUSE_S
    attempt = 1
    while True:
        failed = unreachable(points)
        if not failed:
            if attempt > 1:
                log.info("earmark run %s: every service answers after %d attempts", role, attempt)
            return
        why = "; ".join(f"{point.describe()}: {problem}" for point, problem in failed)
        left = deadline - time.monotonic()
        if left <= 0:
            raise StartupTimeoutError(
                f"earmark run {role}: unreachable after {limit:g} s (startup_wait_seconds): {why}"
            )
        pause = min(pause, left)
        log.warning(
            "earmark run %s: waiting for %s (attempt %d, next in %.1f s, %.1f s left of "
            "startup_wait_seconds)",
            role,
            why,
            attempt,
            pause,
            left,
        )
        time.sleep(pause)
        pause = min(pause * 2, _LONGEST_PAUSE_S)
        attempt += 1
