"""API keys (reference §6): client keys name an application, user keys an account.

Each process remembers valid keys for ``ttl`` seconds in two separate caches (the same string
may be a client key and a user key). Unlike the reference, an unknown key is never cached, so a
key created a moment ago works at once; a deactivated application is refused at most ``ttl``
seconds later. The daily demo key (:mod:`earmark.demokey`) names the configured demo
application.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

from earmark.db import accounts, applications
from earmark.db.accounts import Account
from earmark.db.applications import Application
from earmark.db.engine import Databases, read_connection
from earmark.demokey import DemoKeys

V = TypeVar("V")

#: Entries per cache, as the reference (least recently used ones leave first).
CACHE_SIZE = 1000


class TtlCache(Generic[V]):
    """A small thread-safe LRU cache whose entries expire ``ttl`` seconds after being stored."""

    def __init__(
        self, ttl: float, size: int = CACHE_SIZE, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl = ttl
        self.size = size
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, V]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> V | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if entry[0] <= self._clock():
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return entry[1]

    def put(self, key: str, value: V) -> None:
        if self.ttl <= 0:
            return
        with self._lock:
            self._entries[key] = (self._clock() + self.ttl, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        """Entries held, expired ones included until they are next asked for or pushed out."""
        return len(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


class KeyCache:
    """Finds the application of a client key and the account of a user key, with caching.

    The methods query the app database: call them from a worker thread in async code.
    """

    def __init__(
        self,
        dbs: Databases,
        ttl: float,
        *,
        size: int = CACHE_SIZE,
        clock: Callable[[], float] = time.monotonic,
        demo: DemoKeys | None = None,
    ) -> None:
        self.dbs = dbs
        self.demo = demo or DemoKeys()
        self._applications: TtlCache[Application] = TtlCache(ttl, size, clock)
        self._accounts: TtlCache[Account] = TtlCache(ttl, size, clock)

    def application(self, apikey: str) -> Application | None:
        """The *active* application of ``apikey``, or None."""
        cached = self._applications.get(apikey)
        if cached is not None:
            return cached
        with read_connection(self.dbs.app) as conn:
            if self.demo.accepts(apikey):
                found = applications.get(conn, self.demo.application_id)
            else:
                found = applications.get_by_api_key(conn, apikey)
        if found is None or not found.active:
            return None
        self._applications.put(apikey, found)
        return found

    def account(self, apikey: str, *, cached: bool = True) -> Account | None:
        """The account of the user key ``apikey``, or None (``cached=False``: always ask)."""
        if cached:
            hit = self._accounts.get(apikey)
            if hit is not None:
                return hit
        with read_connection(self.dbs.app) as conn:
            found = accounts.get_by_api_key(conn, apikey)
        if found is not None:
            self._accounts.put(apikey, found)
        return found

    def clear(self) -> None:
        self._applications.clear()
        self._accounts.clear()
