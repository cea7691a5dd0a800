"""The data directory of `earmark serve` and `earmark keys` (in-process, real SQLite files)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from earmark import embedded
from earmark.cli.main import cli
from earmark.cli.serve_cmd import base_url
from earmark.db import applications
from earmark.db.engine import Databases
from earmark.settings import Secret, Settings, load_settings


def settings_for(data_dir: Path) -> Settings:
    return embedded.embedded_settings(load_settings(environ={}).settings, data_dir)


def run_keys(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["keys", *args], env={"EARMARK_CONFIG": None})
    return result.exit_code, result.stdout, result.stderr


def test_first_run_creates_an_administrator_and_later_runs_find_it(tmp_path: Path) -> None:
    data_dir = tmp_path / "a" / "data"
    first = embedded.initialise(settings_for(data_dir))
    assert first.created
    assert len(first.keys.client) == len(first.keys.user) == 10
    assert first.keys.client != first.keys.user
    assert (data_dir / "earmark.db").is_file()
    assert (data_dir / "musicbrainz.db").is_file()
    assert data_dir.stat().st_mode & 0o777 == 0o700

    again = embedded.initialise(settings_for(data_dir))
    assert not again.created
    assert again.keys == first.keys
    assert embedded.read_keys(settings_for(data_dir)) == first.keys

    code, out, _ = run_keys("--data-dir", str(data_dir), "--json")
    assert code == 0
    assert json.loads(out) == {"client": first.keys.client, "user": first.keys.user}
    code, out, _ = run_keys("--data-dir", str(data_dir))
    assert code == 0
    assert out.split() == ["client", "key:", first.keys.client, "user", "key:", first.keys.user]


def test_a_deactivated_application_is_replaced_on_the_next_start(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    first = embedded.initialise(settings)
    dbs = Databases.from_settings(settings)
    try:
        with dbs.write() as conns:
            app = applications.get_by_api_key(conns.app, first.keys.client)
            assert app is not None
            applications.set_active(conns.app, app.id, False)
    finally:
        dbs.dispose()
    with pytest.raises(embedded.NotInitialisedError, match="no administrator with an active"):
        embedded.read_keys(settings)
    again = embedded.initialise(settings)
    assert not again.created
    assert again.keys.user == first.keys.user
    assert again.keys.client != first.keys.client
    assert embedded.read_keys(settings) == again.keys


def test_keys_refuses_what_serve_did_not_initialise(tmp_path: Path) -> None:
    missing = tmp_path / "missing"
    code, out, err = run_keys("--data-dir", str(missing), "--json")
    assert (code, out) == (1, "")
    assert "not an initialised Earmark data directory" in err
    assert not missing.exists(), "keys must not create anything"

    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "earmark.db").touch()
    code, _, err = run_keys("--data-dir", str(tmp_path / "empty"))
    assert code == 1
    assert "holds no Earmark tables" in err

    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "earmark.db").write_bytes(b"\x00garbage" * 300)
    code, _, err = run_keys("--data-dir", str(tmp_path / "junk"))
    assert code == 1
    assert err.startswith("earmark: error: cannot use ")
    assert "Traceback" not in err

    (tmp_path / "file").write_text("not a directory")
    code, _, err = run_keys("--data-dir", str(tmp_path / "file"))
    assert code != 0


def test_serve_refuses_a_damaged_or_impossible_data_directory(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(embedded.DataDirError, match="not a directory"):
        embedded.initialise(settings_for(tmp_path / "file"))
    with pytest.raises(embedded.DataDirError, match="cannot create"):
        embedded.initialise(settings_for(tmp_path / "file" / "below"))
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "earmark.db").write_bytes(b"SQLite format 3\x00" + b"\xff" * 4096)
    with pytest.raises(embedded.DataDirError, match="cannot use"):
        embedded.initialise(settings_for(tmp_path / "junk"))


def test_serve_keeps_everything_in_the_data_directory() -> None:
    configured = Settings(
        database_url=Secret("postgresql://db/earmark"),
        index_url="http://index:6080",
        queue="nats",
        redis_url=Secret("redis://cache"),
        api_port=9000,
    )
    assert embedded.overridden(configured) == [
        "database_url",
        "index_url",
        "queue",
        "redis_url",
    ]
    settings = embedded.embedded_settings(configured, Path("/srv/earmark"))
    assert embedded.overridden(settings) == []
    assert settings.data_dir == Path("/srv/earmark")
    assert settings.api_port == 9000  # listening settings are kept
    assert isinstance(settings.database_url, Secret)


@pytest.mark.parametrize(
    ("host", "url"),
    [
        ("127.0.0.1", "http://127.0.0.1:8080"),
        ("0.0.0.0", "http://127.0.0.1:8080"),
        ("::", "http://[::1]:8080"),
        ("::1", "http://[::1]:8080"),
        ("example.org", "http://example.org:8080"),
    ],
)
def test_the_banner_url_is_one_a_browser_can_open(host: str, url: str) -> None:
    assert base_url(host, 8080) == url


def test_serve_rejects_bad_options(tmp_path: Path) -> None:
    runner = CliRunner()
    for args in (["--port", "70000"], ["--port", "-1"], ["--port", "http"]):
        result = runner.invoke(cli, ["serve", "--data-dir", str(tmp_path / "d"), *args])
        assert result.exit_code == 2, result.output
    assert not (tmp_path / "d").exists()
