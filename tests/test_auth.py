"""Key caches (reference §6): two TTL caches, valid keys only, inactive applications refused."""

from __future__ import annotations

import sqlalchemy as sa

from earmark.auth import KeyCache, TtlCache
from earmark.db import accounts, applications
from earmark.db.engine import Databases
from earmark.db.tables import application
from tests.ratelimit.clock import Clock


def make_app(dbs: Databases, name: str = "App") -> applications.Application:
    with dbs.write() as conns:
        owner = accounts.create(conns.app, name=f"owner of {name}")
        return applications.create(conns.app, name=name, version="1", account_id=owner.id)


def set_active(dbs: Databases, app_id: int, active: bool) -> None:
    with dbs.write() as conns:
        assert applications.set_active(conns.app, app_id, active)


def test_valid_application_key_is_cached_until_the_ttl(dbs: Databases) -> None:
    clock = Clock(0.0)
    keys = KeyCache(dbs, ttl=10, clock=clock)
    app = make_app(dbs)
    found = keys.application(app.apikey)
    assert found is not None
    assert found.id == app.id
    set_active(dbs, app.id, False)
    clock.advance(9.9)
    cached = keys.application(app.apikey)
    assert cached is not None
    assert cached.id == app.id
    clock.advance(0.1)
    assert keys.application(app.apikey) is None  # ... and not later


def test_inactive_application_is_refused_and_not_cached(dbs: Databases) -> None:
    keys = KeyCache(dbs, ttl=60, clock=Clock())
    app = make_app(dbs)
    set_active(dbs, app.id, False)
    assert keys.application(app.apikey) is None
    set_active(dbs, app.id, True)
    found = keys.application(app.apikey)  # reactivation works at once: nothing negative cached
    assert found is not None
    assert found.active


def test_unknown_keys_are_not_cached(dbs: Databases) -> None:
    keys = KeyCache(dbs, ttl=60, clock=Clock())
    app = make_app(dbs)
    assert keys.application("NewKey1234") is None
    with dbs.write() as conns:
        conns.app.execute(
            sa.update(application).where(application.c.id == app.id).values(apikey="NewKey1234")
        )
    found = keys.application("NewKey1234")
    assert found is not None
    assert found.id == app.id


def test_user_key_cache_and_uncached_lookup(dbs: Databases) -> None:
    clock = Clock()
    keys = KeyCache(dbs, ttl=10, clock=clock)
    with dbs.write() as conns:
        user = accounts.create(conns.app, name="u")
    old_key = user.apikey
    found = keys.account(old_key)
    assert found is not None
    assert found.id == user.id
    with dbs.write() as conns:
        new_key = accounts.regenerate_api_key(conns.app, user.id)
    still = keys.account(old_key)
    assert still is not None
    assert still.id == user.id
    assert keys.account(old_key, cached=False) is None  # the database says otherwise
    clock.advance(10)
    assert keys.account(old_key) is None
    fresh = keys.account(new_key)
    assert fresh is not None
    assert fresh.id == user.id


def test_the_two_caches_are_separate(dbs: Databases) -> None:
    """The same string may be a client key and a user key of different things."""
    keys = KeyCache(dbs, ttl=60, clock=Clock())
    app = make_app(dbs)
    with dbs.write() as conns:
        user = accounts.create(conns.app, name="same key")
        conns.app.execute(
            sa.update(application).where(application.c.id == app.id).values(apikey=user.apikey)
        )
    as_user = keys.account(user.apikey)
    as_app = keys.application(user.apikey)
    assert as_user is not None
    assert as_user.id == user.id
    assert as_app is not None
    assert as_app.id == app.id
    # Both cached; each side still answers with its own kind.
    again_user = keys.account(user.apikey)
    again_app = keys.application(user.apikey)
    assert isinstance(again_user, accounts.Account)
    assert again_user.id == user.id
    assert isinstance(again_app, applications.Application)
    assert again_app.id == app.id
    # A user key is not a client key.
    with dbs.write() as conns:
        other = accounts.create(conns.app, name="only a user")
    assert keys.account(other.apikey) is not None
    assert keys.application(other.apikey) is None


def test_cache_is_bounded_least_recently_used_first(dbs: Databases) -> None:
    keys = KeyCache(dbs, ttl=60, size=2, clock=Clock())
    first, second, third = (make_app(dbs, n) for n in ("A", "B", "C"))
    for app in (first, second):
        assert keys.application(app.apikey) is not None
    assert keys.application(first.apikey) is not None  # first is now the most recently used
    assert keys.application(third.apikey) is not None  # pushes out second
    for app in (first, second, third):
        set_active(dbs, app.id, False)
    # Cached ones still answer from memory, the evicted one is read again and refused.
    assert keys.application(first.apikey) is not None
    assert keys.application(third.apikey) is not None
    assert keys.application(second.apikey) is None


def test_ttl_zero_disables_the_cache(dbs: Databases) -> None:
    keys = KeyCache(dbs, ttl=0, clock=Clock())
    app = make_app(dbs)
    assert keys.application(app.apikey) is not None
    set_active(dbs, app.id, False)
    assert keys.application(app.apikey) is None


def test_ttl_cache_unit() -> None:
    clock = Clock(100.0)
    cache: TtlCache[int] = TtlCache(5, size=3, clock=clock)
    for i, key in enumerate("abcd"):
        cache.put(key, i)
        clock.advance(1)
    assert len(cache) == 3
    assert cache.get("a") is None  # least recently used, pushed out
    assert cache.get("b") == 1  # stored at 101, expires at 106; now 104
    clock.advance(2)
    assert cache.get("b") is None
    assert cache.get("d") == 3
    cache.clear()
    assert cache.get("d") is None
