"""API keys (reference §6): client keys name an application, user keys an account.

Each process remembers valid keys for ``ttl`` seconds in two separate caches (the same string
may be a client key and a user key). Unlike the reference, an unknown key is never cached, so a
key created a moment ago works at once; a deactivated application or account is refused at most
``ttl`` seconds later. The daily demo key (:mod:`earmark.demokey`) names the configured demo
application.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from earmark.db import accounts, applications
from earmark.db.accounts import Account
from earmark.db.applications import Application
from earmark.db.engine import Databases, read_connection
from earmark.demokey import DemoKeys
from earmark.ttlcache import TtlCache

__all__ = ["CACHE_SIZE", "KeyCache", "TtlCache"]

#: Entries per cache, as the reference (least recently used ones leave first).
CACHE_SIZE = 1000


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

    def cached_application(self, apikey: str) -> Application | None:
        """The application of ``apikey`` if it is in the cache (no query: safe in async code)."""
        return self._applications.get(apikey)

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
        """The *active* account of the user key ``apikey``, or None (``cached=False``: always
        ask)."""
        if cached:
            hit = self._accounts.get(apikey)
            if hit is not None:
                return hit
        with read_connection(self.dbs.app) as conn:
            found = accounts.get_by_api_key(conn, apikey)
        if found is None or not found.active:
            return None
        self._accounts.put(apikey, found)
        return found

    def clear(self) -> None:
        self._applications.clear()
        self._accounts.clear()
