"""The ``earmark`` command: global options and the one place errors become exit codes."""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

import click

from earmark import __version__
from earmark.cli.config_cmd import config
from earmark.cli.context import NATIVE_STATUS
from earmark.cli.db_cmd import db
from earmark.cli.fingerprint_cmd import fingerprint
from earmark.cli.identify_cmd import identify_cmd
from earmark.cli.import_audio_cmd import import_audio
from earmark.cli.index_cmd import index
from earmark.cli.keys_cmd import keys
from earmark.cli.mb_cmd import mb
from earmark.cli.run import run
from earmark.cli.serve_cmd import serve
from earmark.errors import EarmarkError
from earmark.process import tune_allocator
from earmark.settings import load_settings, unknown_variables

log = logging.getLogger("earmark")


class EarmarkGroup(click.Group):
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


@click.group(cls=EarmarkGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(
    __version__,
    "--version",
    "-V",
    prog_name="earmark",
    message=f"%(prog)s %(version)s ({NATIVE_STATUS})",
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
    logging.basicConfig(
        level=loaded.settings.log_level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for message in unknown_variables(os.environ):
        log.warning("%s", message)
    ctx.obj = {"config_file": config_file, "settings": loaded}


cli.add_command(config)
cli.add_command(db)
cli.add_command(fingerprint)
cli.add_command(identify_cmd)
cli.add_command(import_audio)
cli.add_command(index)
cli.add_command(mb)
cli.add_command(run)
cli.add_command(serve)
cli.add_command(keys)


def main() -> None:
    """Entry point of the ``earmark`` script."""
    tune_allocator()
    cli(prog_name="earmark")


if __name__ == "__main__":  # pragma: no cover
    main()
