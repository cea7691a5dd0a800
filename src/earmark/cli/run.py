"""``earmark run ROLE``: the production processes, one role each."""

from __future__ import annotations

import click

from earmark.cli.run_api import api
from earmark.cli.run_cron import cron
from earmark.cli.run_importer import importer
from earmark.cli.run_index import index


@click.group()
def run() -> None:
    """Run one production role: index, importer or cron (api arrives with the web service)."""


run.add_command(api)
run.add_command(cron)
run.add_command(importer)
run.add_command(index)
