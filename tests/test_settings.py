"""The settings registry: precedence, types, secrets, and the config file."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from earmark.errors import ConfigError
from earmark.settings import (
    MASK,
    Secret,
    Settings,
    display_value,
    load_settings,
    registry,
    sample_config,
    setting,
)


@dataclass(frozen=True, kw_only=True)
class DemoSettings:
    """A registry with every supported type, including a secret."""

    name: str = setting("earmark", "A name.")
    port: int = setting(8080, "A port.")
    ratio: float = setting(0.5, "A ratio.")
    enabled: bool = setting(False, "A switch.")
    home: Path = setting(Path("data"), "A directory.")
    token: str = setting("", "A secret token.", secret=True)


def test_defaults_when_nothing_is_set() -> None:
    loaded = load_settings(environ={})
    assert loaded.settings == Settings()
    assert set(loaded.sources.values()) == {"default"}
    assert loaded.config_file is None


def test_environment_beats_config_file_beats_default(tmp_path: Path) -> None:
    config = tmp_path / "earmark.toml"
    config.write_text('port = 9000\nname = "from-file"\n')
    loaded = load_settings(config, environ={"EARMARK_PORT": "9100"}, cls=DemoSettings)
    assert loaded.settings.port == 9100
    assert loaded.sources["port"] == "env"
    assert loaded.settings.name == "from-file"
    assert loaded.sources["name"] == "config"
    assert loaded.settings.ratio == 0.5
    assert loaded.sources["ratio"] == "default"


def test_config_file_from_environment(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("fingerprint_length = 30\n")
    loaded = load_settings(environ={"EARMARK_CONFIG": str(config)})
    assert loaded.settings.fingerprint_length == 30
    assert loaded.config_file == config


@pytest.mark.parametrize(
    ("env", "field", "expected"),
    [
        ({"EARMARK_ENABLED": "yes"}, "enabled", True),
        ({"EARMARK_ENABLED": "0"}, "enabled", False),
        ({"EARMARK_RATIO": "0.25"}, "ratio", 0.25),
        ({"EARMARK_HOME": "/srv/earmark"}, "home", Path("/srv/earmark")),
    ],
)
def test_environment_values_are_converted(
    env: dict[str, str], field: str, expected: object
) -> None:
    assert getattr(load_settings(environ=env, cls=DemoSettings).settings, field) == expected


@pytest.mark.parametrize(
    "env",
    [
        {"EARMARK_PORT": "eighty"},
        {"EARMARK_ENABLED": "maybe"},
        {"EARMARK_RATIO": "a lot"},
        {"EARMARK_HOME": ""},
        {"EARMARK_TOKEN": "a", "EARMARK_TOKEN_FILE": "/nonexistent"},
        {"EARMARK_PORT_FILE": "/etc/hostname"},
        {"EARMARK_TOKEN_FILE": "/nonexistent/token"},
        {"EARMARK_PORT": "1e3"},
    ],
)
def test_bad_environment_values_are_config_errors(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError):
        load_settings(environ=env, cls=DemoSettings)


def test_minimum_is_enforced() -> None:
    with pytest.raises(ConfigError, match="below the minimum"):
        load_settings(environ={"EARMARK_FINGERPRINT_LENGTH": "-5"})
    assert load_settings(environ={"EARMARK_FINGERPRINT_JOBS": " 0 "}).settings.fingerprint_jobs == 0


def test_literal_setting_is_checked() -> None:
    assert load_settings(environ={"EARMARK_LOG_LEVEL": "debug"}).settings.log_level == "DEBUG"
    with pytest.raises(ConfigError, match="EARMARK_LOG_LEVEL"):
        load_settings(environ={"EARMARK_LOG_LEVEL": "chatty"})


def test_secret_from_file_is_masked(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("s3cr3t\n")
    loaded = load_settings(environ={"EARMARK_TOKEN_FILE": str(token_file)}, cls=DemoSettings)
    token = loaded.settings.token
    assert token == "s3cr3t"
    assert isinstance(token, Secret)
    assert "s3cr3t" not in repr(loaded.settings)
    assert loaded.sources["token"] == "env-file"
    info = next(i for i in registry(DemoSettings) if i.name == "token")
    assert display_value(info, token) == MASK


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("port = \n", "not valid TOML"),
        ("colour = 'blue'\n", "unknown setting"),
        ("port = 'eighty'\n", "config key port"),
        ("port = true\n", "config key port"),
        ("home = 3\n", "config key home"),
        ("enabled = 'true'\n", "config key enabled"),
    ],
)
def test_bad_config_files(tmp_path: Path, content: str, message: str) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(content)
    with pytest.raises(ConfigError, match=message):
        load_settings(config, environ={}, cls=DemoSettings)


def test_missing_and_binary_config_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file"):
        load_settings(tmp_path / "absent.toml", environ={})
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ConfigError, match="config file"):
        load_settings(binary, environ={})


def test_sample_config_is_valid_toml_listing_every_setting(tmp_path: Path) -> None:
    text = sample_config()
    for info in registry():
        assert f"# {info.name} = " in text
    names = tuple(f"# {info.name} = " for info in registry())
    uncommented = "\n".join(line[2:] for line in text.splitlines() if line.startswith(names))
    config = tmp_path / "sample.toml"
    config.write_text(uncommented)
    assert load_settings(config, environ={}).settings == Settings()
