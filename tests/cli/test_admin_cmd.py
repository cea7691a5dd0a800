"""``earmark admin`` on the configured database (a fresh migrated SQLite file and a fresh
PostgreSQL database, through EARMARK_DATABASE_URL): the roles it grants are the ones the website
reads (:func:`earmark.web.access.is_admin`)."""

from __future__ import annotations

import json

from click.testing import CliRunner

from earmark.cli.main import cli
from earmark.db import accounts
from earmark.db.engine import Databases
from earmark.web.access import is_admin, is_moderator


def _invoke(url: str, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(
        cli, list(args), env={"EARMARK_DATABASE_URL": url}, catch_exceptions=False
    )
    return result.exit_code, result.stdout, result.stderr


def _account(url: str, account_id: int) -> accounts.Account:
    dbs = Databases.single(url)
    try:
        with dbs.read() as conns:
            found = accounts.get(conns.app, account_id)
    finally:
        dbs.dispose()
    assert found is not None
    return found


def test_grant_revoke_and_list(database_url: str) -> None:
    url = database_url
    code, out, err = _invoke(url, "accounts", "create", "alice", "--json")
    assert code == 0, err
    alice = json.loads(out)["id"]
    assert _invoke(url, "accounts", "create", "bob")[0] == 0

    code, out, _ = _invoke(url, "admin", "list")
    assert (code, out.startswith("no account holds a role")) == (0, True)
    code, out, _ = _invoke(url, "admin", "list", "--json")
    assert (code, out) == (0, "")

    code, out, err = _invoke(url, "admin", "grant", "alice", "--role", "admin")
    assert code == 0, err
    assert out == f"admin granted to account {alice} 'alice' (now: admin)\n"
    assert is_admin(_account(url, alice))
    assert not _account(url, alice).is_moderator

    code, out, err = _invoke(url, "admin", "grant", str(alice), "--role", "moderator")
    assert code == 0, err
    assert "(now: admin, moderator)" in out
    # Granting again changes nothing and says so.
    code, out, _ = _invoke(url, "admin", "grant", "alice", "--role", "moderator")
    assert (code, "(now: admin, moderator)" in out) == (0, True)

    code, out, _ = _invoke(url, "admin", "list")
    assert out == f"{alice:>6}  alice  (admin, moderator)\n"
    code, out, _ = _invoke(url, "admin", "list", "--json")
    listed = json.loads(out)
    assert (listed["id"], listed["roles"], listed["admin"]) == (alice, ["admin", "moderator"], True)

    code, out, err = _invoke(url, "admin", "revoke", "alice", "--role", "admin")
    assert code == 0, err
    assert out == f"admin revoked from account {alice} 'alice' (now: moderator)\n"
    found = _account(url, alice)
    assert not is_admin(found)
    assert is_moderator(found)
    assert _invoke(url, "admin", "revoke", "alice", "--role", "moderator")[0] == 0
    assert not is_moderator(_account(url, alice))
    code, out, _ = _invoke(url, "admin", "list")
    assert out.startswith("no account holds a role")


def test_bad_input_changes_nothing(database_url: str) -> None:
    url = database_url
    code, out, err = _invoke(url, "accounts", "create", "carol", "--json")
    carol = json.loads(out)["id"]
    for args, expected_code, message in (
        (("grant", "nobody", "--role", "admin"), 1, "no account 'nobody'"),
        (("grant", "99999999999999999999", "--role", "admin"), 1, "no account"),
        (("grant", "carol", "--role", "root"), 2, "'root' is not one of"),
        (("grant", "carol"), 2, "Missing option '--role'"),
        (("revoke", "carol\x00", "--role", "admin"), 1, "no account"),
        (("list", "extra"), 2, "unexpected extra argument"),
    ):
        code, out, err = _invoke(url, "admin", *args)
        assert code == expected_code, (args, out, err)
        assert message in err, (args, err)
        assert "Traceback" not in err
    found = _account(url, carol)
    assert not found.is_admin
    assert not found.is_moderator


def test_a_database_that_is_not_there(tmp_path: object) -> None:
    code, _, err = _invoke("sqlite:////nonexistent/dir/e.db", "admin", "list")
    assert code == 3
    assert "no database at" in err
