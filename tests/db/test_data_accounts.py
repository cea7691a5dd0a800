"""Accounts, applications, formats and sources (app database) on both engines."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from earmark.db import accounts, applications, formats, sources
from earmark.db.engine import Databases
from tests.db import queries


def test_api_keys_have_the_reference_shape() -> None:
    keys = {accounts.generate_api_key() for _ in range(200)}
    assert len(keys) == 200
    assert all(re.fullmatch(r"[A-Za-z0-9]{10}", key) for key in keys)


def test_account_create_and_get(dbs: Databases) -> None:
    with dbs.write() as conns:
        created = accounts.create(conns.app, name="alice", created_from="127.0.0.1")
    with dbs.read() as conns:
        by_key = accounts.get_by_api_key(conns.app, created.apikey)
        by_id = accounts.get(conns.app, created.id)
        assert accounts.get_by_api_key(conns.app, created.apikey.lower() + "x") is None
        assert accounts.get(conns.app, created.id + 1000) is None
    assert by_key == by_id == created
    assert (created.name, created.anonymous, created.is_admin, created.mbuser) == (
        "alice",
        False,
        False,
        None,
    )
    assert created.created is not None


def test_anonymous_account(dbs: Databases) -> None:
    with dbs.write() as conns:
        owner = accounts.create(conns.app, name="owner")
        app = applications.create(conns.app, name="App", version="1", account_id=owner.id)
        anon = accounts.create_anonymous(
            conns.app, application_id=app.id, application_version="2.0", created_from="10.0.0.1"
        )
    assert (anon.name, anon.anonymous) == (accounts.ANONYMOUS_NAME, True)
    assert (anon.application_id, anon.application_version) == (app.id, "2.0")


def test_musicbrainz_accounts_are_case_insensitive(dbs: Databases) -> None:
    with dbs.write() as conns:
        user = accounts.find_or_create_by_mbuser(conns.app, "Alice")
        same = accounts.find_or_create_by_mbuser(conns.app, "alice")
        found = accounts.get_by_mbuser(conns.app, "ALICE")
    assert same.id == user.id
    assert found is not None
    assert found.id == user.id
    assert (user.name, user.mbuser) == ("Alice", "Alice")


def test_regenerate_api_key_and_login(dbs: Databases) -> None:
    with dbs.write() as conns:
        user = accounts.create(conns.app, name="bob")
        new_key = accounts.regenerate_api_key(conns.app, user.id)
        accounts.touch_login(conns.app, user.id)
    with dbs.read() as conns:
        assert accounts.get_by_api_key(conns.app, user.apikey) is None
        renewed = accounts.get_by_api_key(conns.app, new_key)
    assert renewed is not None
    assert renewed.id == user.id
    assert renewed.lastlogin is not None


def test_applications(dbs: Databases) -> None:
    with dbs.write() as conns:
        owner = accounts.create(conns.app, name="owner")
        app = applications.create(
            conns.app,
            name="Tagger",
            version="0.1",
            account_id=owner.id,
            email="dev@example.org",
            website="https://example.org",
        )
    assert app.active
    assert re.fullmatch(r"[A-Za-z0-9]{10}", app.apikey)
    with dbs.write() as conns:
        assert applications.set_active(conns.app, app.id, False)
        assert not applications.set_active(conns.app, app.id + 1000, False)
        assert applications.update(
            conns.app, app.id, name="Tagger 2", version="0.2", email=None, website=None
        )
    with dbs.read() as conns:
        found = applications.get_by_api_key(conns.app, app.apikey)
        assert applications.get_by_api_key(conns.app, "nope") is None
        listed = applications.list_by_account(conns.app, owner.id)
    assert found is not None
    assert (found.id, found.active, found.name, found.version, found.email) == (
        app.id,
        False,
        "Tagger 2",
        "0.2",
        None,
    )
    assert [a.id for a in listed] == [app.id]


def test_application_of_unknown_account_is_an_error(dbs: Databases) -> None:
    with pytest.raises(sa.exc.IntegrityError), dbs.write() as conns:
        applications.create(conns.app, name="x", version="1", account_id=424242)


def test_formats_and_sources(dbs: Databases) -> None:
    with dbs.write() as conns:
        owner = accounts.create(conns.app, name="owner")
        app = applications.create(conns.app, name="App", version="1", account_id=owner.id)
        flac = formats.find_or_insert(conns.app, "FLAC")
        assert formats.find_or_insert(conns.app, "FLAC") == flac
        assert formats.find_or_insert(conns.app, "flac") != flac
        plain = sources.find_or_insert(
            conns.app, application_id=app.id, account_id=owner.id, version=None
        )
        assert (
            sources.find_or_insert(
                conns.app, application_id=app.id, account_id=owner.id, version=""
            )
            == plain
        )
        versioned = sources.find_or_insert(
            conns.app, application_id=app.id, account_id=owner.id, version="1.2"
        )
    assert versioned != plain
    with dbs.read() as conns:
        assert queries.format_name(conns.app, flac) == "FLAC"
        found = sources.get(conns.app, plain)
    assert found == sources.Source(plain, app.id, owner.id, "")


def test_a_colliding_key_is_drawn_again(dbs: Databases, monkeypatch: pytest.MonkeyPatch) -> None:
    with dbs.write() as conns:
        first = accounts.create(conns.app, name="first")
        first_app = applications.create(conns.app, name="A", version="1", account_id=first.id)
    # Account and application keys live in separate tables: only same-table keys collide.
    keys = iter([first.apikey, "Zz9Zz9Zz9Z", first_app.apikey, "Yy8Yy8Yy8Y"])
    monkeypatch.setattr(accounts, "generate_api_key", lambda: next(keys))
    monkeypatch.setattr(applications, "generate_api_key", lambda: next(keys))
    with dbs.write() as conns:
        second = accounts.create(conns.app, name="second")
        app = applications.create(conns.app, name="B", version="1", account_id=second.id)
    assert second.apikey == "Zz9Zz9Zz9Z"
    assert app.apikey == "Yy8Yy8Yy8Y"
    with dbs.read() as conns:
        assert accounts.get_by_api_key(conns.app, first.apikey) == first
        assert applications.get_by_api_key(conns.app, first_app.apikey) == first_app
