"""``earmark run ROLE``: the production processes, one role each (imported when run)."""

from __future__ import annotations

import click

from earmark.cli.lazy import LazyCommand, LazyGroup

#: The roles: where each lives and the summary `earmark run --help` shows.
ROLES = {
    "api": LazyCommand(
        "earmark.cli.run_api:api",
        "Run the web service (the /v2 and /v1 APIs, health, metrics) until SIGTERM/SIGINT.",
    ),
    "catalog": LazyCommand(
        "earmark.cli.run_catalog:catalog",
        "Run the catalog API (music metadata lookups, search, batch) until SIGTERM/SIGINT.",
    ),
    "cron": LazyCommand(
        "earmark.cli.run_cron:cron",
        "Run the background jobs on their schedules until SIGTERM or SIGINT.",
    ),
    "importer": LazyCommand(
        "earmark.cli.run_importer:importer",
        "Run the submission importer until SIGTERM/SIGINT (or --once / --until-idle).",
    ),
    "index": LazyCommand(
        "earmark.cli.run_index:index",
        "Run the fingerprint index server (acoustid-index compatible HTTP API).",
    ),
    "web": LazyCommand(
        "earmark.cli.run_web:web",
        "Run the website (accounts, API keys, pages) until SIGTERM/SIGINT.",
    ),
}


@click.group(cls=LazyGroup, lazy=ROLES)
def run() -> None:
    """Run one production role: api, web, catalog, importer, cron or index.

    Each role is a process of its own, configured by the settings (docs/serving.md); the
    all-in-one `earmark serve` runs them all in one process instead.
    """
