"""What the website's pages use, built by the composition root (:mod:`earmark.app`)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from starlette.concurrency import run_in_threadpool

from earmark.clipsync import ClipService
from earmark.counters import CounterBackends
from earmark.db.engine import Connections, Databases
from earmark.demokey import DemoKeys
from earmark.musicbrainz.schema import MusicBrainzDatabase
from earmark.ratelimit import Window
from earmark.search import Searcher
from earmark.ttlcache import TtlCache
from earmark.web.signin_providers import SignInProviders

T = TypeVar("T")

#: Uploads one website process decodes for ``/identify`` at the same time.
IDENTIFY_AT_ONCE = 2


@dataclass(frozen=True)
class WebConfig:
    """The settings the pages read."""

    #: Signs the session cookie and the form tokens (setting web_secret).
    secret: str
    #: The session cookie is sent over HTTPS only (setting web_https).
    https: bool = False
    #: Bytes a form body may have (setting web_form_max_bytes).
    form_max_bytes: int = 65536
    #: Sign-in attempts per second per IP and per login (setting web_login_rate; 0: off).
    login_rate: float = 0.25
    #: The demo client key, shown in the API examples to visitors who are not signed in.
    demo: DemoKeys = field(default_factory=DemoKeys)
    #: Base URL of the API in the examples; empty: the site's own address (`earmark serve`).
    api_url: str = ""
    #: Bytes of an audio file /identify accepts (setting web_identify_max_bytes).
    identify_max_bytes: int = 50 * 1024 * 1024
    #: Seconds /identify may spend decoding one file (setting web_identify_timeout).
    identify_timeout: float = 30.0
    #: Sign-in with MusicBrainz and OpenID Connect (none unless configured).
    oauth: SignInProviders = field(default_factory=SignInProviders)


@dataclass
class WebServices:
    """Handles of one website process. Whoever builds them closes them; the app's lifespan
    closes only ``login_window`` (its Redis client, when it has one)."""

    dbs: Databases
    config: WebConfig
    #: Counts sign-in attempts (in memory for `serve`, Redis for `run web`).
    login_window: Window
    mirror: MusicBrainzDatabase | None = None
    #: The lookup pipeline (the identify page), when the process has an index.
    searcher: Searcher | None = None
    counters: CounterBackends | None = None
    #: The clip index (the identify page's "clip" option), when the process has one: the same
    #: one ``/v2/identify`` answers from (``serve``); None in ``run web``.
    clips: ClipService | None = None
    #: Small values pages recompute at most every few seconds (the home page's totals).
    cache: TtlCache[object] = field(default_factory=lambda: TtlCache(60.0, 64))
    #: Uploads ``/identify`` decodes at once; one more is answered 503 (decoding is CPU-bound:
    #: more at once would only slow every page of the process).
    identify_slots: threading.BoundedSemaphore = field(
        default_factory=lambda: threading.BoundedSemaphore(IDENTIFY_AT_ONCE)
    )

    async def read(self, work: Callable[[Connections], T]) -> T:
        """Run ``work`` on read connections, in a worker thread."""
        return await run_in_threadpool(self._read, work)

    async def write(self, work: Callable[[Connections], T]) -> T:
        """Run ``work`` in one write transaction (committed when it returns), in a worker
        thread."""
        return await run_in_threadpool(self._write, work)

    def _read(self, work: Callable[[Connections], T]) -> T:
        with self.dbs.read() as conns:
            return work(conns)

    def _write(self, work: Callable[[Connections], T]) -> T:
        with self.dbs.write() as conns:
            return work(conns)
