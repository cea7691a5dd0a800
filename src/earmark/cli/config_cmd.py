"""``earmark config``: show the effective settings, print a sample config, document settings."""

from __future__ import annotations

import json

import click

from earmark.cli.context import loaded_settings
from earmark.settings import display_value, registry, sample_config


@click.group()
def config() -> None:
    """Inspect Earmark's settings."""


@config.command("show")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON object instead of a table.")
@click.pass_context
def show(ctx: click.Context, as_json: bool) -> None:
    """Print the effective settings and where each comes from (secrets are masked)."""
    loaded = loaded_settings(ctx)
    rows = [
        (
            info.name,
            display_value(info, getattr(loaded.settings, info.name)),
            loaded.sources[info.name],
        )
        for info in registry()
    ]
    if as_json:
        payload = {name: {"value": value, "source": source} for name, value, source in rows}
        click.echo(json.dumps(payload, indent=2, sort_keys=True))
        return
    if loaded.config_file is not None:
        click.echo(f"# config file: {loaded.config_file}")
    width = max(len(name) for name, _, _ in rows)
    for name, value, source in rows:
        click.echo(f"{name.ljust(width)}  {value}  ({source})")


@config.command("sample")
def sample() -> None:
    """Print a commented sample config file with every setting and its default."""
    click.echo(sample_config(), nl=False)


@config.command("docs")
def docs() -> None:
    """Print the Markdown table of settings used in docs/settings.md."""
    click.echo("| setting | environment | type | default | description |")
    click.echo("| --- | --- | --- | --- | --- |")
    for info in registry():
        env = f"`{info.env_var}`" + (f", `{info.env_var}_FILE`" if info.secret else "")
        default = f"`{info.default}`" if str(info.default) else "(empty)"
        click.echo(f"| `{info.name}` | {env} | {info.type_name} | {default} | {info.help} |")
