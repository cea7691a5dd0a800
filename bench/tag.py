"""Benchmark of ``earmark tag``: files tagged per second, in process and over HTTP.

Builds a catalogue in a temporary data directory: the synthetic MusicBrainz mirror, and
15-second segments of the dev-corpus tracks (Ogg Vorbis, ``--distinct`` of them) submitted with
the MBID of one synthetic recording each. The library is the same segments re-encoded to MP3
(one ffmpeg process per track, the segment muxer), so every file has a match with a realistic
score, copied as many times as it takes to make ``--files`` files (encoding 1,000 distinct
segments twice takes longer on the shared machine than the benchmark itself).
Segments of corpus tracks that were never submitted measure the scores of non-matches.

Then ``earmark tag --write`` runs over a copy of the library in this process (the data
directory's app, as the CLI does without ``--server``), and again against a local
``earmark serve`` over HTTP. Printed: files per second, each stage's share of the wall time
(fingerprinting runs in ``--jobs`` worker processes, so its share is the time the run waited for
it), and the score distribution behind the ``tag_min_score`` default.

    .venv/bin/python bench/tag.py [--files 1000] [--distinct 100] [--jobs 2]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from corpus import corpus_tracks

SEGMENT = 15
BIN = Path(sys.executable).parent


def _run(*args: str, env: dict[str, str], ok: tuple[int, ...] = (0,)) -> str:
    done = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    if done.returncode not in ok:
        raise SystemExit(f"{' '.join(args[:3])} failed: {done.stdout}{done.stderr}")
    return done.stdout


def _segments(
    track: Path, folder: Path, prefix: str, codec: list[str], ext: str, wanted: int
) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    pattern = folder / f"{prefix}-%03d.{ext}"
    seconds = str((wanted + 1) * SEGMENT)
    cut = ["-i", str(track), "-t", seconds, "-map", "0:a"]
    segment = ["-f", "segment", "-segment_time", str(SEGMENT), str(pattern)]
    subprocess.run(["ffmpeg", "-v", "error", "-nostdin", "-y", *cut, *codec, *segment], check=True)
    import mutagen

    kept = []
    for path in sorted(folder.glob(f"{prefix}-*.{ext}")):
        audio = mutagen.File(path)
        if audio is not None and audio.info.length >= SEGMENT - 1:
            kept.append(path)
        else:  # the last segments of a cut are shorter
            path.unlink()
    return kept


def build(root: Path, files: int, negatives: int) -> tuple[Path, Path, dict[str, str], Path]:
    import mutagen

    from earmark.embedded import initialise
    from earmark.musicbrainz.synthetic import synthetic_gid
    from earmark.settings import Settings

    data = root / "data"
    initialise(Settings(data_dir=data))
    env = {**os.environ, "EARMARK_DATA_DIR": str(data)}
    count = max(files, 20)
    _run(
        str(BIN / "earmark"), "mb", "load-sample", "--synthetic", str(count), "--seed", "7", env=env
    )
    tracks = [t for t in corpus_tracks() if mutagen.File(t).info.length >= 3 * SEGMENT]
    if not tracks:
        raise SystemExit("no dev-corpus music installed (make deps)")
    refs, library, others = root / "refs", root / "library", root / "others"
    made: list[Path] = []
    used = 0
    while len(made) < files and used < len(tracks):
        track = tracks[used]
        used += 1
        name = f"t{used:03d}"
        wanted = files - len(made)
        ogg = _segments(track, refs, name, ["-c:a", "libvorbis", "-q:a", "3"], "ogg", wanted)
        mp3 = _segments(
            track, library / name, name, ["-c:a", "libmp3lame", "-q:a", "5"], "mp3", wanted
        )
        for ref, lib in zip(ogg, mp3, strict=False):
            if len(made) < files:
                made.append(lib)
                audio = mutagen.File(ref)
                audio["MUSICBRAINZ_TRACKID"] = str(synthetic_gid("recording", len(made)))
                audio.save()
            else:
                ref.unlink()
                lib.unlink()
        for extra in ogg[len(mp3) :] + mp3[len(ogg) :]:
            extra.unlink()
    for path in refs.glob("*.ogg"):
        if "MUSICBRAINZ_TRACKID" not in (mutagen.File(path).tags or {}):
            path.unlink()
    for track in tracks[used : used + max(1, negatives // 5)]:
        _segments(track, others, track.stem, ["-c:a", "libmp3lame", "-q:a", "5"], "mp3", 5)
    print(f"catalogue: {len(made)} segments of {used} tracks", flush=True)
    started = time.perf_counter()
    state = str(root / "import.jsonl")
    # Exit 2: a segment too uniform to ever be identified is refused (its MP3 then has no match).
    _run(
        str(BIN / "earmark"),
        "import-audio",
        str(refs),
        "--no-wait",
        "--state",
        state,
        env=env,
        ok=(0, 2),
    )
    _run(str(BIN / "earmark"), "run", "importer", "--until-idle", env=env)
    print(f"submitted and imported in {time.perf_counter() - started:.1f} s", flush=True)
    return data, library, env, others


async def tag(
    data: Path, library: Path, jobs: int, server: tuple[str, str] | None, write: bool
) -> tuple[float, int, dict[str, float], list[float], dict[str, int]]:
    from earmark.app import local_service
    from earmark.library.connect import connect
    from earmark.library.scan import find_audio_files
    from earmark.library.tagging import Tagger, TagTarget
    from earmark.library.tagjournal import TagJournal
    from earmark.library.tagplan import TagOptions, TagPlan
    from earmark.settings import Settings

    targets = [TagTarget(p, True) for p in find_audio_files([str(library)])]
    scores: list[float] = []

    def emit(plan: TagPlan) -> None:
        if plan.score is not None:
            scores.append(plan.score)
        if plan.status == "error":
            print(f"  error: {plan.path}: {plan.reason}")

    url, key = server if server is not None else (None, None)
    journal = TagJournal.open(library.parent / f"undo-{library.name}.jsonl") if write else None
    async with connect(
        Settings(data_dir=data), server=url, client_key=key, rate=0, local=local_service
    ) as conn:
        tagger = Tagger(
            conn.client, TagOptions(), jobs=jobs, length=120.0, journal=journal, emit=emit
        )
        started = time.perf_counter()
        summary = await tagger.run(targets)
        wall = time.perf_counter() - started
    if journal is not None:
        journal.close()
    return wall, len(targets), summary.timings, scores, summary.counts


def report(
    label: str, result: tuple[float, int, dict[str, float], list[float], dict[str, int]]
) -> None:
    wall, count, timings, _, counts = result
    shares = ", ".join(f"{stage} {100 * t / wall:.0f} %" for stage, t in timings.items())
    print(
        f"{label}: {count} files in {wall:.1f} s = {count / wall:.1f} files/s ({shares}); {counts}"
    )


def _replicate(library: Path, target: Path, files: int) -> Path:
    """A library of ``files`` files: copies of the distinct segments' folders (``copyN/tNNN``),
    so that every copy is fingerprinted, looked up and written like a file of its own."""
    sources = sorted(library.rglob("*.mp3"))
    for i in range(files):
        source = sources[i % len(sources)]
        copy = target / f"copy{i // len(sources):02d}" / source.parent.name / source.name
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, copy)
    return target


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1000, help="files in the library tagged")
    parser.add_argument(
        "--distinct", type=int, default=100, help="distinct segments (the library repeats them)"
    )
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--negatives", type=int, default=40)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="earmark-bench-tag-"))
    try:
        data, library, env, others = build(root, args.distinct, args.negatives)
        local = _replicate(library, root / "local", args.files)
        result = asyncio.run(tag(data, local, args.jobs, None, True))
        report("in process, --write", result)
        found = result[3]
        negative = asyncio.run(tag(data, others, args.jobs, None, False))[3]
        serve = subprocess.Popen(
            [str(BIN / "earmark"), "serve", "--port", "0", "--data-dir", str(data)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            banner = ""
            assert serve.stdout is not None
            while not re.search(r"client key: (\S+)", banner):
                line = serve.stdout.readline()
                if not line:
                    raise SystemExit(f"earmark serve did not start: {banner}")
                banner += line
            url = re.search(r"running at (http://\S+)", banner).group(1)  # type: ignore[union-attr]
            key = re.search(r"client key: (\S+)", banner).group(1)  # type: ignore[union-attr]
            http = _replicate(library, root / "http", args.files)
            report(
                "over HTTP (earmark serve), --write",
                asyncio.run(tag(data, http, args.jobs, (url, key), True)),
            )
        finally:
            serve.terminate()
            serve.wait(30)
        if found:
            ordered = sorted(found)
            print(
                f"scores of true matches: min {ordered[0]:.3f}, 1st percentile "
                f"{ordered[len(ordered) // 100]:.3f}, median {statistics.median(ordered):.3f}"
            )
        tried = len(list(others.glob("*.mp3")))
        highest = f", highest {max(negative):.3f}" if negative else ""
        print(
            f"scores of never-submitted segments: {len(negative)} of {tried} had a result{highest}"
        )
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
