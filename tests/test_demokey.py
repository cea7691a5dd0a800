"""The daily demo client key: its shape, its week of validity, and the key cache accepting it."""

from __future__ import annotations

import datetime as dt

import pytest
from click.testing import CliRunner

from earmark.auth import KeyCache
from earmark.cli.main import cli
from earmark.db import accounts, applications
from earmark.db.engine import Databases
from earmark.demokey import DemoKeys, demo_key, is_demo_key, looks_like_demo_key

DAY = dt.date(2026, 11, 21)
SECRET = "website-secret"


def test_key_shape() -> None:
    key = demo_key(SECRET, DAY)
    assert len(key) == 11
    assert key[-2] == "A"
    assert looks_like_demo_key(key)
    assert set(key) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def test_keys_differ_by_day_and_secret() -> None:
    keys = {demo_key(SECRET, DAY + dt.timedelta(days=n)) for n in range(30)}
    assert len(keys) == 30
    assert demo_key("other", DAY) != demo_key(SECRET, DAY)


@pytest.mark.parametrize(
    ("age", "valid"), [(0, True), (3, True), (6, True), (7, False), (-1, False)]
)
def test_a_key_is_valid_for_seven_days_from_its_issue(age: int, valid: bool) -> None:
    # The reference walked forward from today, so its keys lasted one day (§17 quirk 7).
    issued = demo_key(SECRET, DAY - dt.timedelta(days=age))
    assert is_demo_key(SECRET, issued, DAY) is valid


@pytest.mark.parametrize(
    "key", ["", "short", "a" * 11, "abcdefghiAj", demo_key(SECRET, DAY)[:-1], "x" * 10_000]
)
def test_other_strings_are_not_demo_keys(key: str) -> None:
    assert not is_demo_key(SECRET, key, DAY)


def test_no_secret_means_no_demo_key() -> None:
    assert not is_demo_key("", demo_key("", DAY), DAY)
    assert DemoKeys("", 5).today() is None
    assert DemoKeys(SECRET, 0).today() is None


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_the_key_cache_maps_the_demo_key_to_the_demo_application(dbs: Databases) -> None:
    with dbs.write() as conns:
        owner = accounts.create(conns.app, name="owner")
        demo_app = applications.create(conns.app, name="Demo", version="1", account_id=owner.id)
    demo = DemoKeys(SECRET, demo_app.id)
    keys = KeyCache(dbs, 0, demo=demo)
    today_key = demo.today()
    assert today_key is not None
    found = keys.application(today_key)
    assert found is not None
    assert found.id == demo_app.id
    assert (
        keys.application(demo_key(SECRET, dt.datetime.now(dt.UTC).date() + dt.timedelta(1))) is None
    )
    with dbs.write() as conns:
        applications.set_active(conns.app, demo_app.id, False)
    assert keys.application(today_key) is None


def test_keys_demo_command(monkeypatch: pytest.MonkeyPatch) -> None:
    runner = CliRunner()
    monkeypatch.setenv("EARMARK_DEMO_KEY_SECRET", SECRET)
    monkeypatch.setenv("EARMARK_DEMO_APPLICATION_ID", "2")
    result = runner.invoke(cli, ["keys", "--demo"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == demo_key(SECRET, dt.datetime.now(dt.UTC).date())
    monkeypatch.delenv("EARMARK_DEMO_KEY_SECRET")
    result = runner.invoke(cli, ["keys", "--demo"])
    assert result.exit_code == 2
    assert "no demo key" in result.output
