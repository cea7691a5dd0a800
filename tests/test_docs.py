"""Documentation that tests check: every setting and CLI command is documented."""

from __future__ import annotations

from pathlib import Path

import click
import pytest

from earmark.cli.main import cli
from earmark.settings import SettingInfo, registry

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("info", registry(), ids=lambda info: info.name)
def test_every_setting_is_in_docs(info: SettingInfo) -> None:
    text = (ROOT / "docs" / "settings.md").read_text()
    name = info.name
    env_var = info.env_var
    rows = [line for line in text.splitlines() if line.startswith(f"| `{name}` |")]
    assert rows, f"setting {name} is missing from docs/settings.md"
    assert f"`{env_var}`" in rows[0]
    default = f"`{info.default}`" if str(info.default) else "(empty)"
    assert f"| {default} |" in rows[0]


def _commands(group: click.Group, prefix: str = "earmark") -> list[str]:
    # list_commands/get_command, not group.commands: the groups load their commands lazily.
    ctx = click.Context(group)
    names = []
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        full = f"{prefix} {name}"
        names.append(full)
        if isinstance(command, click.Group):
            names.extend(_commands(command, full))
    return names


@pytest.mark.parametrize("command", _commands(cli))
def test_every_cli_command_is_in_docs(command: str) -> None:
    text = (ROOT / "docs" / "cli.md").read_text()
    assert f"`{command}" in text, f"{command} is missing from docs/cli.md"
