"""The ``earmark`` command: global options and the one place errors become exit codes.

Commands are imported when they run (see :mod:`earmark.cli.lazy`): ``earmark --version`` and
``earmark --help`` import click and this package's light modules only, and each command pays
only for what it uses.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import click

from earmark import __version__
from earmark.cli.context import native_status
from earmark.cli.lazy import LazyCommand, LazyGroup
from earmark.errors import EarmarkError
from earmark.logs import configure_logging
from earmark.process import tune_allocator
from earmark.settings import load_settings, unknown_variables

log = logging.getLogger("earmark")

#: Every command: where it lives and the summary `earmark --help` shows (kept equal to the
#: command's own help by tests/cli/test_startup.py).
COMMANDS = {
    "accounts": LazyCommand(
        "earmark.cli.accounts_cmd:accounts_group",
        "User accounts and their user API keys (submissions are made as a user).",
    ),
    "admin": LazyCommand(
        "earmark.cli.admin_cmd:admin_group",
        "The website's roles: grant and revoke admin and moderator, list who holds them.",
    ),
    "apps": LazyCommand(
        "earmark.cli.apps_cmd:apps_group",
        "Applications and their client API keys (every request names one).",
    ),
    "backup": LazyCommand(
        "earmark.cli.backup_cmd:backup",
        "Copy the databases and the fingerprint index into the new directory TARGET.",
    ),
    "catalog": LazyCommand(
        "earmark.cli.catalog_cmd:catalog_group",
        "The catalog API's search index, and requests to the catalog from the command line.",
    ),
    "config": LazyCommand("earmark.cli.config_cmd:config", "Inspect Earmark's settings."),
    "data": LazyCommand(
        "earmark.cli.data_cmd:data",
        "Import AcoustID's public data set (daily files) and export Earmark's own.",
    ),
    "db": LazyCommand(
        "earmark.cli.db_cmd:db", "Create and migrate the app, fingerprint and ingest databases."
    ),
    "fingerprint": LazyCommand(
        "earmark.cli.fingerprint_cmd:fingerprint",
        "Compute Chromaprint fingerprints of audio FILEs and DIRectories, like fpcalc.",
    ),
    "identify": LazyCommand(
        "earmark.cli.identify_cmd:identify_cmd",
        "Identify audio FILEs and DIRectories: the best track and its recordings per file.",
    ),
    "import-audio": LazyCommand(
        "earmark.cli.import_audio_cmd:import_audio",
        "Fingerprint the audio files under DIRECTORY and submit them with their tags.",
    ),
    "index": LazyCommand(
        "earmark.cli.index_cmd:index",
        "Fill and synchronise the fingerprint index from the fingerprint database.",
    ),
    "keys": LazyCommand(
        "earmark.cli.keys_cmd:keys",
        "Print the client key and user key of the local administrator.",
    ),
    "mb": LazyCommand(
        "earmark.cli.mb_cmd:mb", "Create and fill the MusicBrainz subset used for lookup metadata."
    ),
    "restore": LazyCommand(
        "earmark.cli.backup_cmd:restore",
        "Restore the backup in SOURCE into empty databases and an empty index directory.",
    ),
    "run": LazyCommand(
        "earmark.cli.run:run",
        "Run one production role: api, web, catalog, importer, cron or index.",
    ),
    "serve": LazyCommand(
        "earmark.cli.serve_cmd:serve",
        "Run Earmark's web service with everything inside, on http://127.0.0.1:8080.",
    ),
    "tag": LazyCommand(
        "earmark.cli.tag_cmd:tag_cmd",
        "Tag audio FILEs and DIRectories from their sound: dry run unless --write.",
    ),
}


class EarmarkGroup(LazyGroup):
    """Maps Earmark's own errors to a one-line message and the error's exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except EarmarkError as exc:
            click.echo(f"earmark: error: {exc}", err=True)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("earmark: interrupted", err=True)
            ctx.exit(130)


def _print_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    # click.version_option's behaviour, with the extension's status found only when asked for.
    if not value or ctx.resilient_parsing:
        return
    click.echo(f"earmark {__version__} ({native_status()})", color=ctx.color)
    ctx.exit()


@click.group(
    cls=EarmarkGroup, lazy=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]}
)
@click.option(
    "--version",
    "-V",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_print_version,
    help="Show the version and exit.",
)
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False),
    envvar="EARMARK_CONFIG",
    help="TOML config file (env EARMARK_CONFIG).",
)
@click.pass_context
def cli(ctx: click.Context, config_file: str | None) -> None:
    """Earmark: an open, self-hostable audio identification service compatible with AcoustID."""
    loaded = load_settings(config_file)
    configure_logging(loaded.settings.log_level, loaded.settings.log_format)
    # Alembic (1.16+) logs each plugin it sets up at INFO when first imported: noise in every
    # command that opens a database, and before a one-line error.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    for message in unknown_variables(os.environ):
        log.warning("%s", message)
    ctx.obj = {"config_file": config_file, "settings": loaded}


def main() -> None:
    """Entry point of the ``earmark`` script."""
    tune_allocator()
    cli(prog_name="earmark")


if __name__ == "__main__":  # pragma: no cover
    main()
