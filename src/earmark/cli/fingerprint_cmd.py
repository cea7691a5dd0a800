"""``earmark fingerprint``: fpcalc's job, on files and whole directories, in parallel.

With one file the output is exactly fpcalc's. With several files each entry also names its file
(fpcalc prints entries back to back with nothing to tell them apart), see docs/cli.md.
Exit codes follow fpcalc: 0 ok, 2 a file could not be fingerprinted, 3 a decoding error after
some audio (the fingerprint is still printed; ``--ignore-errors`` turns 3 into 0). Unlike
fpcalc, one bad file does not stop the batch.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import click

from earmark.cli.context import loaded_settings

if TYPE_CHECKING:
    from earmark.chromaprint.files import FileFingerprint

# The chromaprint modules (numpy, PyAV) are imported where they are used, so that
# `earmark fingerprint --help` does not load them; the command itself needs nothing more.

OutputFormat = Literal["text", "json", "plain"]


@dataclass(frozen=True)
class Outcome:
    """One input path and what became of it."""

    path: str
    result: FileFingerprint | None = None
    error: str | None = None


def _fingerprint_one(path: str, length: float) -> Outcome:
    from earmark.chromaprint.audio import AudioError
    from earmark.chromaprint.files import fingerprint_file

    try:
        return Outcome(path=path, result=fingerprint_file(path, length))
    except AudioError as exc:
        return Outcome(path=path, error=exc.reason)


def _single_threaded_numpy() -> None:
    """Keep OpenBLAS from starting a spinning thread per core when numpy is imported.

    Fingerprinting uses no BLAS routine, yet those threads cost each process ~0.04 CPU s (a
    fifth of its start-up). Only effective before the first numpy import; an explicit setting
    in the environment wins.
    """
    if "numpy" not in sys.modules:
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def _run(paths: list[str], length: float, jobs: int) -> Iterator[Outcome]:
    _single_threaded_numpy()
    # Imported before the workers are forked, so that each does not import numpy and PyAV again.
    import earmark.chromaprint.files  # noqa: F401

    if jobs <= 1 or len(paths) <= 1:
        for path in paths:
            yield _fingerprint_one(path, length)
        return
    from concurrent.futures import ProcessPoolExecutor

    # Largest files first, so that no worker is left with a long file at the end while the
    # others idle; results still come out in the order of the paths.
    order = sorted(range(len(paths)), key=lambda i: -_size(paths[i]))
    with ProcessPoolExecutor(max_workers=min(jobs, len(paths))) as pool:
        futures = {i: pool.submit(_fingerprint_one, paths[i], length) for i in order}
        for i in range(len(paths)):
            yield futures[i].result()


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def format_items(result: FileFingerprint, raw: bool, signed: bool) -> list[int] | str:
    """The fingerprint as fpcalc prints it: compressed base64, or the raw items."""
    from earmark.chromaprint.codec import encode_fingerprint_base64

    if not raw:
        return encode_fingerprint_base64(result.items)
    if signed:
        return [int(v) for v in result.items.view("int32")]
    return [int(v) for v in result.items]


def render(result: FileFingerprint, fmt: OutputFormat, raw: bool, signed: bool, multi: bool) -> str:
    """One entry of output, byte-compatible with fpcalc for a single file."""
    value = format_items(result, raw, signed)
    text = value if isinstance(value, str) else ",".join(map(str, value))
    if fmt == "plain":
        return f"{result.path}\t{text}\n" if multi else text + "\n"
    if fmt == "json":
        # fpcalc writes the duration with two decimals and no spaces inside a raw array.
        fingerprint = json.dumps(value) if isinstance(value, str) else f"[{text}]"
        prefix = f'"file": {json.dumps(result.path)}, ' if multi else ""
        return f'{{{prefix}"duration": {result.duration:.2f}, "fingerprint": {fingerprint}}}\n'
    prefix = f"FILE={result.path}\n" if multi else ""
    suffix = "\n" if multi else ""
    return f"{prefix}DURATION={int(result.duration)}\nFINGERPRINT={text}\n{suffix}"


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option(
    "-l",
    "--length",
    type=click.FloatRange(min=0),
    default=None,
    help="Seconds of audio to use from the start (default 120, setting fingerprint_length; "
    "0 = whole file).",
)
@click.option("--raw", is_flag=True, help="Print the raw items instead of the compressed form.")
@click.option("--signed", is_flag=True, help="With --raw: print items as signed 32-bit integers.")
@click.option("--json", "fmt", flag_value="json", help="Print JSON (one object per line).")
@click.option(
    "--text", "fmt", flag_value="text", default=True, help="Print DURATION=/FINGERPRINT=."
)
@click.option("--plain", "fmt", flag_value="plain", help="Print only the fingerprint.")
@click.option(
    "-j",
    "--jobs",
    type=click.IntRange(min=0),
    default=None,
    help="Worker processes (default: setting fingerprint_jobs; 0 = one per CPU).",
)
@click.option("--ignore-errors", is_flag=True, help="Exit 0 after decoding errors (fpcalc's flag).")
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Progress bar on stderr (default: when stderr is a terminal and there are several files).",
)
@click.pass_context
def fingerprint(
    ctx: click.Context,
    paths: tuple[str, ...],
    length: float | None,
    raw: bool,
    signed: bool,
    fmt: OutputFormat,
    jobs: int | None,
    ignore_errors: bool,
    progress: bool | None,
) -> None:
    """Compute Chromaprint fingerprints of audio FILEs and DIRectories, like fpcalc."""
    from earmark.library.progress import progress_bar, show_progress
    from earmark.library.scan import find_audio_files

    settings = loaded_settings(ctx).settings
    length = float(settings.fingerprint_length) if length is None else length
    if length < 0:
        raise click.BadParameter("must be 0 or more", param_hint="--length")
    jobs = settings.fingerprint_jobs if jobs is None else jobs
    jobs = jobs or os.cpu_count() or 1
    # The same files as import-audio and identify see (hidden ones skipped, sorted).
    files = list(find_audio_files(paths))
    multi = len(files) > 1 or any(os.path.isdir(p) for p in paths)
    shown = progress if progress is not None else show_progress(len(files))
    failed = warned = False
    outcomes = _run(files, length, jobs)
    with progress_bar(len(files), "fingerprinting", shown) as bar:
        for outcome in outcomes:
            bar.update(1)
            if outcome.result is None:
                failed = True
                _stderr(f"earmark: error: {outcome.path}: {outcome.error}", shown)
                continue
            if outcome.result.warning:
                warned = True
                _stderr(f"earmark: warning: {outcome.path}: {outcome.result.warning}", shown)
            click.echo(render(outcome.result, fmt, raw, signed, multi), nl=False)
    if not files:
        _stderr("earmark: error: no audio files found", False)
        failed = True
    ctx.exit(2 if failed else 3 if warned and not ignore_errors else 0)


def _stderr(message: str, above_bar: bool) -> None:
    click.echo(("\r\033[K" if above_bar else "") + message, err=True)
