"""Settings checked whatever their source: port ranges, ports in URLs, unknown variables."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from earmark.cli.main import cli
from earmark.errors import ConfigError
from earmark.settings import PORT_MAX, load_settings, registry, unknown_variables, url_port_problem


@pytest.mark.parametrize("value", ["99999", "65536", "-1", "100000000000000000000"])
def test_a_port_out_of_range_in_the_environment_is_refused(value: str) -> None:
    with pytest.raises(ConfigError, match=r"^EARMARK_API_PORT: .* (above the maximum 65535|below)"):
        load_settings(environ={"EARMARK_API_PORT": value})


@pytest.mark.parametrize("value", ["70000", "-5"])
def test_a_port_out_of_range_in_the_config_file_is_refused(tmp_path: Path, value: str) -> None:
    config = tmp_path / "earmark.toml"
    config.write_text(f"api_port = {value}\n")
    with pytest.raises(ConfigError, match=rf"^config key api_port in {config}: {value} is"):
        load_settings(config, environ={})


@pytest.mark.parametrize("value", ["0", "1", "8080", "65535"])
def test_ports_in_range_are_taken(value: str) -> None:
    assert load_settings(environ={"EARMARK_API_PORT": value}).settings.api_port == int(value)


def test_every_port_setting_has_the_tcp_range() -> None:
    ports = [info for info in registry() if info.name.endswith("_port")]
    assert ports, "the registry has port settings"
    for info in ports:
        assert info.maximum == PORT_MAX, info.name
        assert info.minimum in (0, 1), info.name


def test_the_command_line_names_the_environment_variable() -> None:
    result = CliRunner().invoke(
        cli, ["config", "show"], env={"EARMARK_API_PORT": "99999", "EARMARK_CONFIG": None}
    )
    assert result.exit_code == 2
    assert result.output.strip() == (
        "earmark: error: EARMARK_API_PORT: 99999 is above the maximum 65535"
    )
    option = CliRunner().invoke(cli, ["serve", "--port", "70000"], env={"EARMARK_CONFIG": None})
    assert option.exit_code == 2
    assert "70000 is not in the range 0<=x<=65535" in option.output


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"EARMARK_INDEX_URL": "http://127.0.0.1:99999"}, "port 99999 is out of range"),
        ({"EARMARK_INDEX_URL": "http://127.0.0.1:0/"}, "port 0 is out of range"),
        ({"EARMARK_INDEX_URL": "http://[::1]:65536"}, "port 65536 is out of range"),
        ({"EARMARK_INDEX_URL": "http://127.0.0.1:80x"}, "port is not a number"),
        ({"EARMARK_NATS_URL": "nats://a:4222, nats://b:70000"}, "port 70000 is out of range"),
        ({"EARMARK_REDIS_URL": "redis://:pw@127.0.0.1:123456/0"}, "port 123456 is out of range"),
        ({"EARMARK_DATABASE_URL": "postgresql://u:p@h:99999/db"}, "port 99999 is out of range"),
        ({"EARMARK_MUSICBRAINZ_USERINFO_URL": "https://mb:0/x"}, "port 0 is out of range"),
    ],
)
def test_a_port_out_of_range_in_a_url_is_refused(env: dict[str, str], message: str) -> None:
    (name,) = env
    with pytest.raises(ConfigError, match=rf"^{name}: the URL's {message}"):
        load_settings(environ=env)


def test_a_wrong_url_port_message_hides_the_password() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(environ={"EARMARK_REDIS_URL": "redis://:s3cret@h:99999/0"})
    assert "s3cret" not in str(caught.value)
    with pytest.raises(ConfigError) as caught:
        load_settings(environ={"EARMARK_DATABASE_URL": "postgresql://u:s3cret@h:p0rt/db"})
    assert "s3cret" not in str(caught.value)
    assert "p0rt" not in str(caught.value)


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg://postgres@127.0.0.1:5432/postgres",
        "postgresql://user:pa/ss:w@rd@host:5432/db",  # "/" and ":" in a password
        "redis://:p@ss/word@127.0.0.1:6379/0",
        "sqlite:////srv/earmark/db:1.sqlite",
        "sqlite:///relative.db",
        "http://127.0.0.1:6080/base/a@b:99999",  # "@" in a path
        "http://[::1]:6080",
        "http://host:/",
        "nats://127.0.0.1:4222",
    ],
)
def test_urls_with_good_or_no_ports_pass(url: str) -> None:
    assert url_port_problem(url) is None


def test_an_unknown_variable_is_named_with_the_closest_setting() -> None:
    messages = unknown_variables({"EARMARK_API_PROT": "9000", "PATH": "/bin"})
    assert messages == [
        "unknown setting EARMARK_API_PROT (did you mean EARMARK_API_PORT?): ignored"
    ]


def test_unknown_variables_without_a_close_setting_and_file_forms() -> None:
    messages = unknown_variables(
        {"EARMARK_ZZZ": "1", "EARMARK_DATABSE_URL_FILE": "/run/secret", "earmark_api_port": "1"}
    )
    assert messages == [
        "unknown setting EARMARK_DATABSE_URL_FILE (did you mean EARMARK_DATABASE_URL_FILE?): "
        "ignored",
        "unknown setting EARMARK_ZZZ: ignored",
    ]


def test_variables_earmark_reads_that_are_not_settings_are_known() -> None:
    known = {
        "EARMARK_CONFIG": "/etc/earmark.toml",
        "EARMARK_API_PORT": "8080",
        "EARMARK_DATABASE_URL_FILE": "/run/secret",
        "EARMARK_LOG_LEVEL_FILE": "/x",  # wrong (not a secret) but refused by load_settings
        "EARMARK_TEST_POSTGRES_URL": "postgresql://x",
        "EARMARK_BENCH_REDIS_URL": "redis://x",
    }
    assert unknown_variables(known) == []


def test_every_command_warns_about_an_unknown_variable(caplog: pytest.LogCaptureFixture) -> None:
    result = CliRunner().invoke(
        cli, ["config", "show"], env={"EARMARK_API_PROT": "9000", "EARMARK_CONFIG": None}
    )
    assert result.exit_code == 0
    warnings = [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "earmark"]
    expected = "unknown setting EARMARK_API_PROT (did you mean EARMARK_API_PORT?): ignored"
    assert ("WARNING", expected) in warnings


def test_a_typo_in_the_config_file_names_the_closest_setting(tmp_path: Path) -> None:
    config = tmp_path / "earmark.toml"
    config.write_text("api_prot = 9000\n")
    with pytest.raises(
        ConfigError, match=r"unknown setting\(s\): api_prot \(did you mean api_port\?\)"
    ):
        load_settings(config, environ={})
