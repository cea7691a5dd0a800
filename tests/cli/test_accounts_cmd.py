"""``earmark accounts`` and ``earmark apps`` on the configured database (a fresh migrated
SQLite file and a fresh PostgreSQL database, through EARMARK_DATABASE_URL) and on the data
directory of ``earmark serve``; the keys they print are checked by the real key lookup of the
web service (:class:`earmark.auth.KeyCache`)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from earmark.auth import KeyCache
from earmark.cli.main import cli
from earmark.db.engine import Databases
from earmark.embedded import initialise, read_keys
from earmark.settings import Settings
from tests.services import SqliteDatabases


def _invoke(*args: str, url: str | None = None) -> tuple[int, str, str]:
    env = {"EARMARK_DATABASE_URL": url} if url else {}
    result = CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def keys(database_url: str) -> Iterator[KeyCache]:
    dbs = Databases.single(database_url)
    yield KeyCache(dbs, ttl=0)
    dbs.dispose()


def test_accounts_and_apps_on_the_configured_database(database_url: str, keys: KeyCache) -> None:
    url = database_url
    code, out, err = _invoke("accounts", "create", "alice", "--json", url=url)
    assert code == 0, err
    alice = json.loads(out)
    assert alice["name"] == "alice"
    assert alice["active"] is True
    found = keys.account(alice["apikey"])
    assert found is not None
    assert found.id == alice["id"]

    code, out, err = _invoke(
        "apps", "create", "Alice's tagger", "--account", "alice", "--version", "2.1", url=url
    )
    assert code == 0, err
    assert f"created for account {alice['id']} 'alice'" in out
    client_key = out.rsplit("client key: ", 1)[1].strip()
    app = keys.application(client_key)
    assert app is not None
    assert (app.name, app.version, app.account_id) == ("Alice's tagger", "2.1", alice["id"])

    code, out, _ = _invoke("apps", "show-key", str(app.id), url=url)
    assert (code, out) == (0, client_key + "\n")
    code, out, _ = _invoke("accounts", "show-key", "alice", url=url)
    assert (code, out) == (0, alice["apikey"] + "\n")
    code, out, _ = _invoke("accounts", "show-key", str(alice["id"]), "--json", url=url)
    assert json.loads(out)["apikey"] == alice["apikey"]

    code, out, _ = _invoke("accounts", "list", url=url)
    assert code == 0
    assert f"{alice['id']:>6}  alice\n" in out
    code, out, _ = _invoke("apps", "list", "--account", str(alice["id"]), "--json", url=url)
    listed = [json.loads(line) for line in out.splitlines()]
    assert [(a["id"], a["name"], a["active"]) for a in listed] == [(app.id, app.name, True)]
    assert all("apikey" not in a for a in listed)

    # Deactivated keys are refused by the web service's key lookup; activation undoes it.
    code, out, _ = _invoke("apps", "deactivate", str(app.id), url=url)
    assert code == 0
    assert "deactivated" in out
    assert keys.application(client_key) is None
    code, _, _ = _invoke("accounts", "deactivate", "alice", url=url)
    assert code == 0
    assert keys.account(alice["apikey"]) is None
    code, out, _ = _invoke("accounts", "list", url=url)
    assert f"{alice['id']:>6}  alice  (inactive)\n" in out
    assert _invoke("accounts", "activate", "alice", url=url)[0] == 0
    assert _invoke("apps", "activate", str(app.id), url=url)[0] == 0
    assert keys.account(alice["apikey"]) is not None
    assert keys.application(client_key) is not None


def test_names_are_resolved_or_refused(database_url: str) -> None:
    url = database_url
    for _ in range(2):
        assert _invoke("accounts", "create", "twin", url=url)[0] == 0
    code, _, err = _invoke("accounts", "show-key", "twin", url=url)
    assert code == 1
    assert "2 accounts are called 'twin': give an id" in err
    code, _, err = _invoke("apps", "create", "x", "--account", "twin", url=url)
    assert code == 1
    assert "2 accounts are called 'twin'" in err
    # Hostile or wrong references: one line, exit 1, never a database error.
    for wrong in ("nobody", "0", "-1", "99999999999999999999", "1 OR 1=1", "é" * 5000):
        code, _, err = _invoke("accounts", "show-key", "--", wrong, url=url)
        assert code == 1, (wrong, err)
        assert err.startswith("earmark: error: no account ")
        assert len(err) < 300
        code, _, err = _invoke("apps", "deactivate", "--", wrong, url=url)
        assert code == 1, (wrong, err)
        assert err.startswith("earmark: error: no application ")


@pytest.mark.parametrize("name", ["", "   ", "a\tb", "line\nbreak", "\x1b[31mred", "x" * 101])
def test_bad_names_are_usage_errors(database_url: str, name: str) -> None:
    code, _, err = _invoke("accounts", "create", name, url=database_url)
    assert code == 2
    assert "Invalid value: the account name" in err
    code, _, err = _invoke("apps", "create", name, "--account", "1", url=database_url)
    assert code == 2
    assert "Invalid value: the application name" in err


def test_the_data_directory_of_serve(tmp_path: Path) -> None:
    data = tmp_path / "data"
    initialise(Settings(data_dir=data))
    admin = read_keys(Settings(data_dir=data))
    code, out, _ = _invoke("accounts", "list", "--data-dir", str(data))
    assert (code, out) == (0, "     1  admin  (admin)\n")
    code, out, _ = _invoke("accounts", "show-key", "admin", "--data-dir", str(data))
    assert out == admin.user + "\n"
    code, out, _ = _invoke("apps", "show-key", "1", "--data-dir", str(data))
    assert out == admin.client + "\n"
    # `earmark keys` still prints the same keys.
    code, out, _ = _invoke("keys", "--data-dir", str(data), "--json")
    assert json.loads(out) == admin.as_dict()


def test_no_database_is_created_by_mistake(tmp_path: Path) -> None:
    code, _, err = _invoke("accounts", "list", "--data-dir", str(tmp_path / "none"))
    assert code == 3
    assert "no database at" in err
    assert not (tmp_path / "none").exists()
    empty = SqliteDatabases(tmp_path).create(migrated=False)
    Path(empty.removeprefix("sqlite:///")).touch()
    code, _, err = _invoke("apps", "list", url=empty)
    assert code == 3
    assert "is not at the newest revision: run `earmark db upgrade`" in err


def test_an_unreachable_database(tmp_path: Path) -> None:
    code, _, err = _invoke("accounts", "list", url="postgresql://nobody@127.0.0.1:9/x")
    assert code == 3
    assert err.startswith("earmark: error: cannot reach the database: ")
    assert "earmark db upgrade" in err
