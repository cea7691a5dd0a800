"""`earmark --version`, `earmark config ...`, and the top-level error mapper."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from earmark import __version__
from earmark.chromaprint import codec
from earmark.cli import context
from earmark.cli.main import cli


def test_version() -> None:
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert __version__ in result.stdout
    # It tells whether the C extension is built (the numpy fallback costs CPU per lookup).
    built = "C extension: built" in result.stdout
    assert built == codec.NATIVE
    assert built or "numpy fallback" in result.stdout


def test_services_warn_without_the_c_extension(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(codec, "NATIVE", False)
    context.warn_if_numpy_fallback()
    assert "C extension is not built" in caplog.text
    caplog.clear()
    monkeypatch.setattr(codec, "NATIVE", True)
    context.warn_if_numpy_fallback()
    assert caplog.text == ""


def test_config_show_reports_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "earmark.toml"
    config.write_text("fingerprint_jobs = 2\n")
    monkeypatch.setenv("EARMARK_LOG_LEVEL", "warning")
    result = CliRunner().invoke(cli, ["--config", str(config), "config", "show", "--json"])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.stdout)
    assert shown["fingerprint_jobs"] == {"value": "2", "source": "config"}
    assert shown["log_level"] == {"value": "WARNING", "source": "env"}
    assert shown["fingerprint_length"] == {"value": "120", "source": "default"}


def test_config_errors_are_one_line_with_exit_2(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("no_such_setting = 1\n")
    result = CliRunner().invoke(cli, ["--config", str(config), "config", "show"])
    assert result.exit_code == 2
    assert result.stderr.startswith("earmark: error: config file")
    assert "Traceback" not in result.output


def test_sample_and_docs_commands() -> None:
    sample = CliRunner().invoke(cli, ["config", "sample"])
    assert sample.exit_code == 0
    assert "# fingerprint_length = 120" in sample.stdout
    docs = CliRunner().invoke(cli, ["config", "docs"])
    assert docs.exit_code == 0
    docs_file = (Path(__file__).parents[2] / "docs" / "settings.md").read_text()
    assert docs.stdout.strip() in docs_file, "docs/settings.md is stale: earmark config docs"


def test_console_script_runs() -> None:
    earmark = Path(sys.executable).with_name("earmark")
    if not earmark.exists():
        pytest.skip("the earmark script is not installed next to this Python")
    out = subprocess.run([earmark, "--help"], capture_output=True, text=True, check=True).stdout
    assert "fingerprint" in out
