"""``earmark import-audio``: build a private catalogue from a music library.

Fingerprints every audio file under DIR, reads its tags, and submits both in batches to a
server (``--server``) or to the data directory's app in this process. Resumable: the journal
(``--state``) records each file done, so a re-run (after Ctrl-C, a crash, new files) submits
only what is new or changed. A file too short to ever be identified is refused up front. At
the end it waits (``--wait``, bounded by ``--wait-timeout``) for the importer to handle the
submissions and reports what became of them. Exit codes: 0 done, 2 some files failed or were
not imported (listed at the end), 1 the server failed (the journal keeps everything done
before).
"""

from __future__ import annotations

import asyncio
import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

import click

from earmark.cli.library_options import (
    client_option,
    data_dir_option,
    fingerprint_jobs,
    jobs_option,
    library_connection,
    library_settings,
    rate_option,
)
from earmark.errors import UsageError
from earmark.library.fates import DEFAULT_TIMEOUT
from earmark.library.progress import progress_bar, show_progress
from earmark.settings import Settings

if TYPE_CHECKING:
    from earmark.library.fates import Fates
    from earmark.library.importing import ImportSummary


@click.command("import-audio")
@click.argument("directory", type=click.Path(exists=True, file_okay=False))
@click.option(
    "--server",
    metavar="URL",
    help="AcoustID-compatible server to submit to, e.g. http://127.0.0.1:8080. "
    "Default: the data directory's service, in this process.",
)
@client_option
@click.option(
    "--user",
    "user_key",
    metavar="KEY",
    help="User API key the submissions are made as. Required with --server; default: the "
    "data directory's admin user.",
)
@data_dir_option("submit to")
@click.option(
    "--state",
    "state_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Resume journal (JSON lines). Default: one per server and library under "
    "$XDG_STATE_HOME/earmark/import-audio/.",
)
@click.option(
    "--wait/--no-wait",
    default=True,
    show_default=True,
    help="At the end, wait for the importer to handle the submissions and report imported, "
    "skipped (with the reason) and pending files.",
)
@click.option(
    "--wait-timeout",
    type=click.FloatRange(min=0),
    default=DEFAULT_TIMEOUT,
    show_default=True,
    metavar="SECONDS",
    help="Wait at most this long (also stops after 15 s without progress).",
)
@click.option(
    "--full",
    is_flag=True,
    help="Fingerprint whole files (fpcalc -length 0) instead of the first fingerprint_length "
    "seconds, so that clips from anywhere in them can be identified (/v2/identify).",
)
@jobs_option
@rate_option
@click.pass_context
def import_audio(
    ctx: click.Context,
    directory: str,
    server: str | None,
    client_key: str | None,
    user_key: str | None,
    data_dir: Path | None,
    state_file: Path | None,
    wait: bool,
    wait_timeout: float,
    full: bool,
    jobs: int | None,
    rate: float,
) -> None:
    """Fingerprint the audio files under DIRECTORY and submit them with their tags."""
    from earmark.library.scan import find_audio_files

    settings = library_settings(ctx, data_dir)
    if full:
        settings = dataclasses.replace(settings, fingerprint_length=0)
    if server and not user_key:
        raise UsageError("--user KEY is required with --server (your user API key)")
    files = list(dict.fromkeys(find_audio_files([directory])))
    timeout = wait_timeout if wait else None
    summary, fates = asyncio.run(
        _import(
            settings,
            directory,
            files,
            server,
            client_key,
            user_key,
            state_file,
            jobs,
            rate,
            timeout,
        )
    )
    for line in summary.lines() + (fates.lines() if fates is not None else []):
        click.echo(line)
    if fates is None and summary.sent:
        click.echo(
            "not waiting for the importer (--no-wait): `earmark identify` finds the files "
            "once it has imported them"
        )
    not_imported = fates is not None and bool(fates.skipped or fates.failed)
    ctx.exit(2 if summary.failed or not_imported else 0)


async def _import(
    settings: Settings,
    directory: str,
    files: list[str],
    server: str | None,
    client_key: str | None,
    user_key: str | None,
    state_file: Path | None,
    jobs: int | None,
    rate: float,
    timeout: float | None,
) -> tuple[ImportSummary, Fates | None]:
    # The in-process service behind connect() is the web app: loaded only when importing.
    from earmark.library.fates import await_fates
    from earmark.library.importing import Importer, default_state_path
    from earmark.library.state import Journal

    async with library_connection(settings, server, client_key, rate, user_key) as conn:
        assert conn.user_key is not None
        path = state_file or default_state_path(conn.target, directory)
        shown = show_progress(len(files))
        with Journal.open(path) as journal, progress_bar(len(files), "importing", shown) as bar:
            importer = Importer(
                conn.client,
                conn.user_key,
                journal,
                jobs=fingerprint_jobs(settings, jobs),
                length=float(settings.fingerprint_length),
                progress=bar.update,
            )
            summary = await importer.run(files)
        if shown:
            click.echo("", err=True)
        click.echo(f"journal: {path}", err=True)
        if timeout is None or not summary.sent:
            return summary, None
        if shown:
            click.echo("waiting for the importer…", err=True)
        return summary, await await_fates(conn.client, summary.sent, timeout=timeout)
