"""The exit codes of the ``earmark`` command are the ones docs/cli.md documents in its one table."""

from __future__ import annotations

import importlib
import pkgutil
import re

from click.testing import CliRunner

import earmark
from earmark.cli.main import cli
from earmark.errors import ConfigError, EarmarkError, UsageError
from earmark.library.connect import KeyRefusedError
from tests.support import ROOT


def documented_codes() -> dict[int, str]:
    text = (ROOT / "docs" / "cli.md").read_text()
    table = text.split("## Exit codes", 1)[1].split("\n## ", 1)[0]
    return {
        int(code): meaning for code, meaning in re.findall(r"^\| `(\d+)` \| (.+) \|$", table, re.M)
    }


def all_error_classes() -> set[type[EarmarkError]]:
    for module in pkgutil.walk_packages(earmark.__path__, "earmark."):
        if ".migrations" not in module.name:
            importlib.import_module(module.name)
    found: set[type[EarmarkError]] = set()
    todo: list[type[EarmarkError]] = [EarmarkError]
    while todo:
        cls = todo.pop()
        found.add(cls)
        todo.extend(cls.__subclasses__())
    return found


def test_the_table_lists_every_code_an_error_exits_with() -> None:
    codes = documented_codes()
    assert sorted(codes) == [0, 1, 2, 3, 130]
    undocumented = {cls.__qualname__: cls.exit_code for cls in all_error_classes()}
    undocumented = {name: code for name, code in undocumented.items() if code not in codes}
    assert undocumented == {}


def test_the_meanings() -> None:
    codes = documented_codes()
    assert KeyRefusedError.exit_code == 1
    assert "refused a key" in codes[1]
    assert UsageError.exit_code == ConfigError.exit_code == 2
    assert "click's own usage errors exit 2" in codes[2]
    assert "a file could not be fingerprinted" in codes[2]


def test_click_usage_errors_exit_2() -> None:
    result = CliRunner().invoke(cli, ["identify", "--no-such-option"])
    assert result.exit_code == 2
    assert "Error: No such option '--no-such-option'" in result.stderr
    result = CliRunner().invoke(cli, ["no-such-command"])
    assert result.exit_code == 2
