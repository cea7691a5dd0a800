"""Fixtures of the catalog tests: the session mirrors (tests/mirrors.py) with their search
index built, an app database holding one application, and the catalog app over them."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from starlette.testclient import TestClient

from earmark.app_catalog import catalog_services, key_cache
from earmark.catalog.app import create_catalog_app
from earmark.catalog.services import CatalogServices
from earmark.db import accounts, applications
from earmark.db.engine import Databases
from earmark.musicbrainz.catalog_search import build_index
from earmark.settings import Settings
from tests.musicbrainz.support import Mirror
from tests.services import SqliteDatabases

#: The mirrors whose search index was built in this session (by database URL).
_INDEXED: set[str] = set()


@dataclass(frozen=True)
class Keys:
    dbs: Databases
    client: str
    inactive: str


@pytest.fixture(scope="session")
def app_keys(sqlite_databases: SqliteDatabases) -> Iterator[Keys]:
    """An app database with an active and an inactive application."""
    dbs = Databases.single(sqlite_databases.create())
    with dbs.write() as conns:
        owner = accounts.create(conns.app, name="catalog-owner")
        active = applications.create(conns.app, name="Tagger", version="1", account_id=owner.id)
        gone = applications.create(conns.app, name="Gone", version="1", account_id=owner.id)
        applications.set_active(conns.app, gone.id, False)
    yield Keys(dbs, active.apikey, gone.apikey)
    dbs.dispose()


@pytest.fixture
def indexed(mirror: Mirror) -> Mirror:
    """The session mirror (SQLite, then PostgreSQL) with its search index built once."""
    return ensure_indexed(mirror)


def ensure_indexed(mirror: Mirror) -> Mirror:
    """``mirror`` with its search index built (once per session)."""
    url = mirror.database.engine.url.render_as_string(hide_password=False)
    if url not in _INDEXED:
        build_index(mirror.database)
        _INDEXED.add(url)
    return mirror


#: Settings of the tests: no anonymous limit worth hitting, unless a test sets one.
BASE = Settings(catalog_anonymous_rate=1000.0, rate_limit_ip=0.0, rate_limit_global=0.0)

Factory = Callable[..., TestClient]


@pytest.fixture
def catalog_client(indexed: Mirror, app_keys: Keys) -> Iterator[Factory]:
    """``make(**settings)``: a TestClient of the catalog over the indexed mirror."""
    opened: list[TestClient] = []

    def make(**overrides: object) -> TestClient:
        settings = dataclasses.replace(BASE, **overrides)  # type: ignore[arg-type]
        services = catalog_services(
            settings, mirror=indexed.database, keys=key_cache(settings, app_keys.dbs)
        )
        client = TestClient(create_catalog_app(services))
        client.__enter__()
        opened.append(client)
        return client

    yield make
    for client in opened:
        client.__exit__(None, None, None)


@pytest.fixture
def client(catalog_client: Factory) -> TestClient:
    return catalog_client()


def services_of(client: TestClient) -> CatalogServices:
    found: CatalogServices = client.app.state.catalog  # type: ignore[attr-defined]
    return found
