"""`earmark backup` and `earmark restore`: the databases and the index, copied together."""

from __future__ import annotations

from pathlib import Path

import click

from earmark.cli.context import loaded_settings
from earmark.settings import Settings

_DATA_DIR_HELP = (
    "Back up the data directory of `earmark serve` (SQLite) instead of the configured "
    "production databases."
)


@click.command("backup")
@click.argument("target", type=click.Path(file_okay=False, path_type=Path))
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), help=_DATA_DIR_HELP)
@click.pass_context
def backup(ctx: click.Context, target: Path, data_dir: Path | None) -> None:
    """Copy the databases and the fingerprint index into the new directory TARGET.

    Production (database_url, index_url): pg_dump of each database and the index server's
    snapshot, online. A data directory (no database_url, or --data-dir): SQLite's online backup
    and the index engine's snapshot; stop `earmark serve` first. docs/deploy.md, "Backups".
    """
    from earmark.backup.run import take_backup

    manifest = take_backup(_settings(ctx, data_dir), target)
    click.echo(
        f"backup of {len(manifest.databases)} database(s) and the index {manifest.index_name!r} "
        f"in {target} (index catch-up from fingerprint {manifest.position})"
    )


@click.command("restore")
@click.argument("source", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--data-dir", type=click.Path(file_okay=False, path_type=Path), help=_DATA_DIR_HELP)
@click.option(
    "--index-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Production: the directory of the index server (stopped) to build the index in "
    "(default: <data_dir>/index).",
)
@click.pass_context
def restore(
    ctx: click.Context, source: Path, data_dir: Path | None, index_dir: Path | None
) -> None:
    """Restore the backup in SOURCE into empty databases and an empty index directory.

    Fingerprints the index copy may lack (from the backup's catch-up position on) are sent to
    the restored index before the command ends. Production: stop the index server first.
    """
    from earmark.backup.run import restore_backup

    restored = restore_backup(_settings(ctx, data_dir), source, index_dir)
    click.echo(
        f"restored {len(restored.manifest.databases)} database(s) and the index "
        f"{restored.manifest.index_name!r} from {source}; {restored.caught_up} fingerprint(s) "
        "sent to the index after its snapshot"
    )


def _settings(ctx: click.Context, data_dir: Path | None) -> Settings:
    settings = loaded_settings(ctx).settings
    if data_dir is None:
        return settings
    from earmark.embedded import embedded_settings

    return embedded_settings(settings, data_dir)
