"""`earmark keys`: the API keys `earmark serve` created, printed again."""

from __future__ import annotations

import json
from pathlib import Path

import click

from earmark.cli.context import loaded_settings
from earmark.demokey import DemoKeys
from earmark.errors import ConfigError


@click.command("keys")
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="The data directory of `earmark serve` (default: setting data_dir).",
)
@click.option("--json", "as_json", is_flag=True, help='Print {"client": "…", "user": "…"}.')
@click.option(
    "--demo",
    is_flag=True,
    help="Print today's demo client key instead (settings demo_key_secret, demo_application_id).",
)
@click.pass_context
def keys(ctx: click.Context, data_dir: Path | None, as_json: bool, demo: bool) -> None:
    """Print the client key and user key of the local administrator.

    The data directory must have been initialised by `earmark serve`; nothing is changed.
    """
    from earmark import embedded  # the database layer: imported only when the command runs

    if demo:
        base = loaded_settings(ctx).settings
        key = DemoKeys(str(base.demo_key_secret), base.demo_application_id).today()
        if key is None:
            raise ConfigError("no demo key: set demo_key_secret and demo_application_id")
        click.echo(json.dumps({"demo": key}) if as_json else key)
        return
    settings = embedded.embedded_settings(loaded_settings(ctx).settings, data_dir)
    found = embedded.read_keys(settings)
    if as_json:
        click.echo(json.dumps(found.as_dict(), sort_keys=True))
    else:
        click.echo(f"client key: {found.client}\nuser key:   {found.user}")
