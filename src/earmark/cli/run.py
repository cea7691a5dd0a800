"""``earmark run ROLE``: the production processes, one role each."""

from __future__ import annotations

import click

from earmark.cli.run_index import index


@click.group()
def run() -> None:
    """Run one production role (index; api, importer and cron arrive with later releases)."""


run.add_command(index)
