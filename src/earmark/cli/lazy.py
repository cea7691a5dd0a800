"""Click groups that import a command's module only when that command is used.

Importing every command module up front costs more than a second: the commands reach the web
app, the database layer, the HTTP client and numpy. A :class:`LazyGroup` names each command by
``"module:attribute"`` and keeps its one-line summary, so ``--help`` lists the commands without
importing any of them; a command's module is imported when the command runs or shows its own
help. tests/cli/test_startup.py checks that each entry resolves and that its summary matches
the command's own help.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import click


@dataclass(frozen=True)
class LazyCommand:
    """Where a command lives and the summary its group's ``--help`` shows for it."""

    target: str
    """``"package.module:attribute"``, the attribute being the click command."""
    summary: str
    """The first paragraph of the command's help (click shortens it as it would the help)."""

    def load(self) -> click.Command:
        module_name, _, attribute = self.target.partition(":")
        command = getattr(importlib.import_module(module_name), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{self.target} is not a click command")
        return command


class LazyGroup(click.Group):
    """A group whose commands are :class:`LazyCommand` entries (plus any added the usual way)."""

    def __init__(
        self, *args: Any, lazy: Mapping[str, LazyCommand] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.lazy: dict[str, LazyCommand] = dict(lazy or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = self.commands.get(cmd_name)
        if command is None and cmd_name in self.lazy:
            command = self.lazy[cmd_name].load()
            self.commands[cmd_name] = command
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # click.Group's listing loads every command to ask for its short help; a stand-in
        # carrying the stored summary gives the same line, shortened by click the same way.
        listed: list[tuple[str, click.Command]] = []
        for name in self.list_commands(ctx):
            command = self.commands.get(name)
            if command is None:
                command = click.Command(name, help=self.lazy[name].summary)
            if not command.hidden:
                listed.append((name, command))
        if not listed:
            return
        limit = formatter.width - 6 - max(len(name) for name, _ in listed)
        with formatter.section("Commands"):
            formatter.write_dl(
                [(name, command.get_short_help_str(limit)) for name, command in listed]
            )
