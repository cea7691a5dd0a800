"""``earmark tag``: tag audio files from their sound (docs/tagging.md). A dry run by default:
per file, the fields that would change (field | now | after) and a summary; ``--write`` writes
them (Picard's mapping, atomically, each write journaled); ``--undo`` puts back what the latest
write replaced.

Exit codes: 0 done, 2 some file could not be fingerprinted, read or written (the others are
still done), 1 the server failed.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Literal

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
from earmark.errors import UsageError
from earmark.library.progress import progress_bar, show_progress
from earmark.settings import Settings

if TYPE_CHECKING:
    from earmark.library.tagging import TagSummary, TagTarget
    from earmark.library.tagplan import TagOptions, TagPlan


@click.command("tag")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option(
    "--server",
    metavar="URL",
    help="AcoustID-compatible server, e.g. http://127.0.0.1:8080 (an Earmark server for "
    "release data). Default: look up in the data directory, in this process.",
)
@client_option
@data_dir_option("look up in")
@click.option("--write", is_flag=True, help="Write the changes (default: only show them).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per file.")
@click.option(
    "--fill",
    "policy",
    flag_value="fill",
    help="Only fill fields the file does not have (default: overwrite what differs).",
)
@click.option("--overwrite", "policy", flag_value="overwrite", default=True, hidden=True)
@click.option(
    "--album/--no-album",
    default=True,
    show_default=True,
    help="Album mode for directories: tag each folder's files from one release.",
)
@click.option(
    "--undo",
    is_flag=True,
    help="Restore the tags the latest write replaced (the files given, or every file in the "
    "journal when none is given).",
)
@click.option(
    "--journal",
    "journal_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Undo journal (JSON lines). Default: $XDG_STATE_HOME/earmark/tag/undo.jsonl.",
)
@jobs_option
@rate_option
@click.pass_context
def tag_cmd(
    ctx: click.Context,
    paths: tuple[str, ...],
    server: str | None,
    client_key: str | None,
    data_dir: Path | None,
    write: bool,
    as_json: bool,
    policy: Literal["overwrite", "fill"],
    album: bool,
    undo: bool,
    journal_path: Path | None,
    jobs: int | None,
    rate: float,
) -> None:
    """Tag audio FILEs and DIRectories from their sound: dry run unless --write."""
    from earmark.library.tagjournal import default_journal_path

    journal_file = journal_path or default_journal_path()
    if undo:
        ctx.exit(_undo(journal_file, paths, as_json))
    if not paths:
        raise click.UsageError("give files or directories to tag (or --undo)")
    settings = library_settings(ctx, data_dir)
    targets = _targets(paths, album)
    if not targets:
        click.echo("earmark: error: no audio files found", err=True)
        ctx.exit(2)
    shown = show_progress(len(targets), enabled=not as_json)
    summary = asyncio.run(
        _tag(
            settings,
            targets,
            server,
            client_key,
            _options(settings, policy),
            journal_file if write else None,
            jobs,
            rate,
            as_json,
            shown,
        )
    )
    if not as_json:
        click.echo(summary.line())
        if not write and summary.counts.get("matched"):
            click.echo("dry run: nothing written (--write writes these changes)")
        elif summary.written:
            click.echo(f"undo journal: {journal_file} (earmark tag --undo)")
    ctx.exit(2 if summary.counts.get("error") else 0)


def _targets(paths: tuple[str, ...], album: bool) -> list[TagTarget]:
    import os

    from earmark.library.scan import find_audio_files
    from earmark.library.tagging import TagTarget

    targets: dict[str, TagTarget] = {}
    for path in paths:
        from_dir = os.path.isdir(path)
        for found in find_audio_files([path]):
            targets.setdefault(found, TagTarget(found, album and from_dir))
    return list(targets.values())


def _options(settings: Settings, policy: Literal["overwrite", "fill"]) -> TagOptions:
    from earmark.library.tagplan import TagOptions
    from earmark.library.tagrelease import ReleasePreferences, split_list

    return TagOptions(
        min_score=settings.tag_min_score,
        prefs=ReleasePreferences(
            countries=split_list(settings.tag_release_countries),
            formats=split_list(settings.tag_release_formats),
            types=split_list(settings.tag_release_types),
            date=settings.tag_release_date,
        ),
        policy=policy,
        user_meta_min_sources=settings.tag_user_meta_min_sources,
    )


async def _tag(
    settings: Settings,
    targets: list[TagTarget],
    server: str | None,
    client_key: str | None,
    options: TagOptions,
    journal_file: Path | None,
    jobs: int | None,
    rate: float,
    as_json: bool,
    shown: bool,
) -> TagSummary:
    from earmark.library.tagging import Tagger
    from earmark.library.tagjournal import TagJournal

    try:
        journal = TagJournal.open(journal_file) if journal_file is not None else None
    except OSError as exc:
        raise UsageError(f"cannot open the undo journal {journal_file}: {exc.strerror}") from None
    try:
        with progress_bar(len(targets), "tagging", shown) as bar:

            def emit(plan: TagPlan) -> None:
                bar.update(1)
                print_result(plan.to_json() if as_json else plan.to_text(), as_json, shown)

            async with library_connection(settings, server, client_key, rate) as conn:
                tagger = Tagger(
                    conn.client,
                    options,
                    jobs=fingerprint_jobs(settings, jobs),
                    length=float(settings.fingerprint_length),
                    journal=journal,
                    emit=emit,
                )
                return await tagger.run(targets)
    finally:
        if journal is not None:
            journal.close()


def _undo(journal_file: Path, paths: tuple[str, ...], as_json: bool) -> int:
    import json

    from earmark.library.scan import find_audio_files
    from earmark.library.tagging import undo
    from earmark.library.tagjournal import TagJournal

    if not journal_file.exists():
        click.echo(f"earmark: error: no undo journal at {journal_file}", err=True)
        return 2
    files = list(dict.fromkeys(find_audio_files(paths))) if paths else None
    try:
        journal = TagJournal.open(journal_file)
    except OSError as exc:
        raise UsageError(f"cannot open the undo journal {journal_file}: {exc.strerror}") from None
    with journal:
        done = undo(journal, files)
    for item in done:
        if as_json:
            data = {"path": item.path, "undone": item.error is None and not item.nothing}
            if item.error:
                data["error"] = item.error
            click.echo(json.dumps(data, ensure_ascii=False, sort_keys=True))
        elif item.error:
            click.echo(f"{item.path}\n  error: {item.error}")
        else:
            click.echo(f"{item.path}\n  {'nothing to undo' if item.nothing else 'restored'}")
    return 2 if any(item.error for item in done) else 0
