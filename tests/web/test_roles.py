"""Roles and the data functions the admin pages will use (migration 0004)."""

from __future__ import annotations

import dataclasses

from earmark.db import accounts
from earmark.db.engine import Databases
from earmark.web.access import is_admin, is_moderator, safe_return_url


def test_roles_and_search(dbs: Databases) -> None:
    with dbs.write() as conns:
        plain = accounts.create(conns.app, name="plain_100%")
        other = accounts.create(conns.app, name="plainly")
        accounts.create_anonymous(
            conns.app, application_id=None, application_version=None, created_from=None
        )
        assert accounts.set_roles(conns.app, plain.id, is_moderator=True)
        assert accounts.set_roles(conns.app, other.id, is_admin=True, is_moderator=False)
        assert not accounts.set_roles(conns.app, 999_999, is_admin=True)
        assert accounts.set_roles(conns.app, plain.id)  # nothing to change, but it exists
    with dbs.read() as conns:
        moderator = accounts.get(conns.app, plain.id)
        admin = accounts.get(conns.app, other.id)
        # % and _ are plain characters; anonymous accounts are not listed.
        assert [a.id for a in accounts.search(conns.app, "_100%")] == [plain.id]
        assert [a.id for a in accounts.search(conns.app, "PLAIN")] == [plain.id, other.id]
        assert accounts.search(conns.app, "anonymous") == []
        assert [a.id for a in accounts.search(conns.app, admin.apikey)] == [other.id]  # type: ignore[union-attr]
    assert moderator is not None
    assert admin is not None
    assert is_moderator(moderator)
    assert not is_admin(moderator)
    assert is_admin(admin)
    assert is_moderator(admin)
    assert not is_moderator(None)
    assert not is_admin(None)
    musicbrainz_user = dataclasses.replace(moderator, is_moderator=False, mbuser="someone")
    assert is_moderator(musicbrainz_user)


def test_safe_return_url() -> None:
    for good in ("/", "/api-key", "/track/x?y=1#z"):
        assert safe_return_url(good) == good
    for bad in (None, "", "http://x/", "//x/", "/\\x", "x", "/a\nb", "/a\x7fb", " /a"):
        assert safe_return_url(bad) == "/"
