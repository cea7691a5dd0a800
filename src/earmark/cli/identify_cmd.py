"""``earmark identify``: what are these audio files? Fingerprint here, look up on a server
(``--server``) or in a data directory (in process), print the best track per file.

Exit codes: 0 every file was looked up (matched or not), 2 some file could not be
fingerprinted (the others are still shown), 1 the server failed (see docs/library.md).
"""

from __future__ import annotations

import asyncio
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
    print_result,
    rate_option,
)
from earmark.library.identify import CATALOG_META, DEFAULT_META
from earmark.library.progress import progress_bar, show_progress
from earmark.settings import Settings

if TYPE_CHECKING:
    from earmark.library.clips import ClipIdentified
    from earmark.library.identify import Identified


@click.command("identify")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option(
    "--server",
    metavar="URL",
    help="AcoustID-compatible server, e.g. http://127.0.0.1:8080 (/v2 is added). "
    "Default: look up in the data directory, in this process.",
)
@client_option
@data_dir_option("look up in")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per file.")
@click.option(
    "--meta",
    default=DEFAULT_META,
    show_default=True,
    help="The lookup's meta flags (space-separated, e.g. 'recordings releases').",
)
@click.option(
    "--catalog",
    is_flag=True,
    help="Ask for catalog data (meta=catalog, an Earmark extension; replaces --meta) and print "
    "title, artists, album, track number, ISRC and barcode of the best recording per file.",
)
@click.option(
    "--clip",
    is_flag=True,
    help="Each file is a clip (an excerpt from anywhere in a track, 5 s or more): fingerprint "
    "it whole and ask /v2/identify for the track and the offset in it.",
)
@click.option(
    "--segments",
    is_flag=True,
    help="Each file is a long recording (a radio show, a DJ set): print a timeline of the "
    "tracks that play in it and when (/v2/identify).",
)
@jobs_option
@rate_option
@click.pass_context
def identify_cmd(
    ctx: click.Context,
    paths: tuple[str, ...],
    server: str | None,
    client_key: str | None,
    data_dir: Path | None,
    as_json: bool,
    meta: str,
    catalog: bool,
    clip: bool,
    segments: bool,
    jobs: int | None,
    rate: float,
) -> None:
    """Identify audio FILEs and DIRectories: the best track and its recordings per file."""
    from earmark.library.scan import find_audio_files

    if sum((clip, segments, catalog)) > 1:
        raise click.UsageError("--clip, --segments and --catalog exclude each other")
    settings = library_settings(ctx, data_dir)
    files = list(dict.fromkeys(find_audio_files(paths)))
    if not files:
        click.echo("earmark: error: no audio files found", err=True)
        ctx.exit(2)
    shown = show_progress(len(files), enabled=not as_json)
    if clip or segments:
        failed = asyncio.run(
            _identify_clips(
                settings, files, server, client_key, meta, jobs, rate, as_json, timeline=segments
            )
        )
        ctx.exit(2 if failed else 0)
    failed = asyncio.run(
        _identify(
            settings,
            files,
            server,
            client_key,
            CATALOG_META if catalog else meta,
            jobs,
            rate,
            as_json,
            shown,
            catalog=catalog,
        )
    )
    ctx.exit(2 if failed else 0)


async def _identify(
    settings: Settings,
    files: list[str],
    server: str | None,
    client_key: str | None,
    meta: str,
    jobs: int | None,
    rate: float,
    as_json: bool,
    shown: bool,
    *,
    catalog: bool = False,
) -> bool:
    from earmark.library.identify import identify

    failed = False
    with progress_bar(len(files), "identifying", shown) as bar:

        def emit(found: Identified) -> None:
            nonlocal failed
            bar.update(1)
            if found.error is not None:
                failed = True
            elif found.warning:
                _above(f"earmark: warning: {found.path}: {found.warning}", shown)
            print_result(found.to_json() if as_json else found.to_text(), as_json, shown)

        async with library_connection(settings, server, client_key, rate) as conn:
            await identify(
                conn.client,
                files,
                meta=meta,
                jobs=fingerprint_jobs(settings, jobs),
                length=float(settings.fingerprint_length),
                emit=emit,
                catalog=catalog,
            )
    return failed


async def _identify_clips(
    settings: Settings,
    files: list[str],
    server: str | None,
    client_key: str | None,
    meta: str,
    jobs: int | None,
    rate: float,
    as_json: bool,
    *,
    timeline: bool,
) -> bool:
    from earmark.library.clips import identify_clips

    failed = False

    def emit(found: ClipIdentified) -> None:
        nonlocal failed
        failed = failed or found.error is not None
        click.echo(found.to_json() if as_json else found.to_text(), nl=as_json)

    async with library_connection(settings, server, client_key, rate) as conn:
        await identify_clips(
            conn.client,
            files,
            meta=meta,
            jobs=fingerprint_jobs(settings, jobs),
            emit=emit,
            timeline=timeline,
        )
    return failed


def _above(message: str, shown: bool) -> None:
    click.echo(("\r\033[K" if shown else "") + message, err=True)
