"""Evaluation of clip identification (issue 20): recall, false positives, offset error, latency.

    .venv/bin/python bench/clip_eval.py [--lengths 5 10 30] [--distortions clean mp3_64k ...]
    .venv/bin/python bench/clip_eval.py --speed --tracks 100000

Accuracy: the development corpus is split by a seeded shuffle into a catalogue (3/4 of the
tracks, stored full-length with Earmark's own fingerprinter) and outsiders (1/4, never stored).
For each track at least 40 s long, each excerpt length and each distortion, an excerpt is cut
at a seeded random offset and distorted with ffmpeg, then fingerprinted with Earmark's
fingerprinter and searched (:func:`earmark.clipindex.search.find`). A catalogue query is
*found* when the best match is its track at an offset within ±0.5 s of the true start, or at
another repetition of the same passage (the stored items at the reported and at the true offset
agree on ≥ 0.85 of bits over the clip's span). An outsider query that matches anything is a
false positive. Also printed: the highest agreement of a wrong candidate (the threshold's
margin) per distortion.

Speed (``--speed``): the real corpus plus synthetic fingerprints shaped like real ones (the
real per-bit frequencies, a random walk of a few bit flips per item, lengths drawn from the
real tracks' lengths) up to ``--tracks`` full-length tracks; 10 s clean real excerpts are
searched; p50/p99 latency and memory per stored item at 10 % and 100 % of the size.
"""

from __future__ import annotations

import argparse
import hashlib
import math
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus import corpus_tracks
from earmark.chromaprint.audio import read_pcm
from earmark.chromaprint.files import fingerprint_file
from earmark.chromaprint.fingerprinter import fingerprint_pcm
from earmark.clipindex.postings import ClipPostings, ClipSnapshot
from earmark.clipindex.search import agreement_at, candidates, find, threshold, unsearchable_reason
from earmark.clipindex.terms import ITEMS_PER_SECOND

CACHE = Path(tempfile.gettempdir()) / "earmark-clip-eval"
SEED = 20

#: name → ffmpeg audio filter (None: lossless), output suffix
DISTORTIONS: dict[str, tuple[str | None, str]] = {
    "clean": (None, "wav"),
    "mp3_64k": (None, "mp3"),
    "noise_20dB": ("NOISE:white:20", "wav"),
    "noise_10dB": ("NOISE:white:10", "wav"),
    "bandnoise_20dB": ("NOISE:band:20", "wav"),
    "bandnoise_10dB": ("NOISE:band:10", "wav"),
    "lowpass_4k": ("lowpass=f=4000,lowpass=f=4000,lowpass=f=4000,lowpass=f=4000", "wav"),
    "volume_-10dB": ("volume=-10dB", "wav"),
    "tempo_+1%": ("atempo=1.01", "wav"),
    "tempo_-1%": ("atempo=0.99", "wav"),
    "speed_+1%": ("asetrate=44100*1.01,aresample=44100", "wav"),
    "speed_-1%": ("asetrate=44100*0.99,aresample=44100", "wav"),
    "speed_+3%": ("asetrate=44100*1.03,aresample=44100", "wav"),
    "pitch_+1semi": ("asetrate=44100*1.0595,aresample=44100,atempo=1/1.0595", "wav"),
}
DEFAULT_DISTORTIONS = [d for d in DISTORTIONS if d not in ("speed_+3%", "pitch_+1semi")]


def full_fingerprint(path: Path) -> np.ndarray:
    """The whole track's items (cached: the corpus is fingerprinted once per machine)."""
    CACHE.mkdir(exist_ok=True)
    key = hashlib.sha1(str(path).encode()).hexdigest()[:16]
    cached = CACHE / f"full-{key}.npy"
    if cached.exists():
        return np.load(cached)
    items = fingerprint_file(path, 0).items  # tolerates a damaged tail, as fpcalc does
    np.save(cached, items)
    return items


def duration_of(path: Path) -> float:
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0", str(path)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return float(out.strip() or 0)


def excerpt(path: Path, start: float, length: float, distortion: str, workdir: Path) -> np.ndarray:
    """The distorted excerpt's items, fingerprinted by Earmark from the decoded file."""
    filt, suffix = DISTORTIONS[distortion]
    target = workdir / f"q.{suffix}"
    command = ["ffmpeg", "-v", "error", "-nostdin", "-y", "-ss", f"{start:.3f}", "-t", str(length)]
    command += ["-i", str(path), "-ac", "2", "-ar", "44100"]
    noise = None
    if filt is not None and filt.startswith("NOISE:"):
        noise, filt = filt, None
    if filt is not None:
        command += ["-af", filt]
    if suffix == "mp3":
        command += ["-b:a", "64k"]
    command.append(str(target))
    subprocess.run(command, check=True)
    pcm = read_pcm(target)
    if noise is not None:
        _, kind, snr = noise.split(":")
        pcm = add_noise(pcm, float(snr), band=kind == "band")
    return fingerprint_pcm(pcm)


def add_noise(pcm: np.ndarray, snr_db: float, *, band: bool) -> np.ndarray:
    """Gaussian noise at ``snr_db`` below the excerpt's RMS, added to the 11025 Hz signal the
    fingerprinter sees; band noise keeps 0-3.5 kHz only (inside the chroma band, the harsh case)."""
    rng = np.random.default_rng(SEED)
    signal = pcm.astype(np.float64)
    noise = rng.standard_normal(signal.size)
    if band:
        spectrum = np.fft.rfft(noise)
        spectrum[np.fft.rfftfreq(noise.size, 1 / 11025) > 3500] = 0
        noise = np.fft.irfft(spectrum, noise.size)
    rms = math.sqrt(float(np.mean(signal**2))) if signal.size else 0.0
    noise *= rms / (10 ** (snr_db / 20)) / max(math.sqrt(float(np.mean(noise**2))), 1e-12)
    return np.clip(np.round(signal + noise), -32768, 32767).astype(np.int16)


@dataclass
class Row:
    queries: int = 0
    found: int = 0
    offset_errors: list[float] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    outsiders: int = 0
    false_positives: int = 0
    worst_impostor: float = 0.0
    lowest_true: float = 1.0


def same_passage(stored: np.ndarray, query_len: int, a: int, b: int) -> bool:
    """Whether the stored items at offsets ``a`` and ``b`` are the same music (a repetition)."""
    span = stored[b : b + query_len]
    if a < 0 or b < 0 or span.size < 16:
        return False
    agreement, start, end = agreement_at(stored, span, a)
    return end - start >= 16 and agreement >= 0.85


def evaluate(args: argparse.Namespace) -> None:
    tracks = corpus_tracks()
    if not tracks:
        sys.exit("the development corpus is not installed (make deps)")
    order = list(range(len(tracks)))
    random.Random(SEED).shuffle(order)
    outside = set(order[: len(order) // 4])
    postings = ClipPostings()
    started = time.perf_counter()
    stored: dict[int, np.ndarray] = {}
    for i, path in enumerate(tracks):
        if i not in outside:
            stored[i] = full_fingerprint(path)
    postings.add_many((i, items) for i, items in stored.items())
    snapshot = postings.snapshot()
    print(
        f"catalogue: {len(stored)} tracks, {postings.item_count} items "
        f"({postings.item_count / ITEMS_PER_SECOND / 60:.0f} min), outsiders: {len(outside)}; "
        f"indexed in {time.perf_counter() - started:.1f} s, "
        f"{postings.bytes_per_item:.1f} bytes/item (+ 8 MiB term directory)"
    )
    rng = random.Random(SEED)
    durations = {i: duration_of(p) for i, p in enumerate(tracks)}
    rows: dict[tuple[int, str], Row] = {}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        for length in args.lengths:
            for i, path in enumerate(tracks):
                if durations[i] < max(40, length + 5) or i in args.skip:
                    continue
                start = rng.uniform(0, durations[i] - length)
                for distortion in args.distortions:
                    row = rows.setdefault((length, distortion), Row())
                    items = excerpt(path, start, length, distortion, workdir)
                    _score(row, snapshot, items, i, start, stored, i in outside)
                sys.stdout.write(".")
                sys.stdout.flush()
            print()
    _print_table(rows)


def _score(
    row: Row,
    snapshot: ClipSnapshot,
    items: np.ndarray,
    track: int,
    start: float,
    stored: dict[int, np.ndarray],
    outsider: bool,
) -> None:
    began = time.perf_counter()
    reason = unsearchable_reason(items)
    voted = [] if reason else candidates(snapshot, items)
    matches = [m for m in voted if m.agreement >= threshold(m.span)]
    if not reason and not matches:  # as search.find does: the wider probe
        voted = candidates(snapshot, items, wide=True)
        matches = [m for m in voted if m.agreement >= threshold(m.span)]
    row.latencies.append(time.perf_counter() - began)
    impostors = [m.agreement for m in voted if m.entry_id != track]
    if impostors:
        row.worst_impostor = max(row.worst_impostor, max(impostors))
    if outsider:
        row.outsiders += 1
        row.false_positives += bool(matches)
        return
    row.queries += 1
    true_offset = round(start * ITEMS_PER_SECOND)
    truth = [m.agreement for m in voted if m.entry_id == track]
    row.lowest_true = min(row.lowest_true, truth[0] if truth else 0.0)
    if not matches or matches[0].entry_id != track:
        return
    best = matches[0]
    error = abs(best.offset - true_offset) / ITEMS_PER_SECOND
    if error <= 0.5 or same_passage(stored[track], items.size, best.offset, true_offset):
        row.found += 1
        row.offset_errors.append(min(error, 0.5))


def _print_table(rows: dict[tuple[int, str], Row]) -> None:
    print(
        "| length | distortion | recall | false positives | offset error p50/max (s) "
        "| latency p50/p99 (ms) | lowest true / highest wrong agreement |"
    )
    print("|---|---|---|---|---|---|---|")
    for (length, distortion), row in rows.items():
        recall = row.found / row.queries if row.queries else math.nan
        errors = sorted(row.offset_errors) or [math.nan]
        lat = sorted(row.latencies)
        print(
            f"| {length} s | {distortion} | {recall:.3f} ({row.found}/{row.queries}) "
            f"| {row.false_positives}/{row.outsiders} "
            f"| {errors[len(errors) // 2]:.2f} / {errors[-1]:.2f} "
            f"| {1000 * percentile(lat, 50):.1f} / {1000 * percentile(lat, 99):.1f} "
            f"| {row.lowest_true:.3f} / {row.worst_impostor:.3f} |"
        )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q / 100))] if ordered else math.nan


# --- speed ------------------------------------------------------------------------------------


def synthetic_tracks(
    count: int, lengths: list[int], p: np.ndarray, rng: np.random.Generator
) -> Iterator[np.ndarray]:
    """Fingerprint-like items: a first item with the real per-bit frequencies, then a random
    walk flipping a few bits per item (as consecutive real items differ), real track lengths."""
    weights = (1 << np.arange(32, dtype=np.uint64)).astype(np.uint64)
    for _ in range(count):
        n = int(rng.choice(lengths))
        flips = np.zeros(n, dtype=np.uint32)
        for _flip in range(4):
            bit = np.left_shift(np.uint32(1), rng.integers(0, 32, n, dtype=np.uint32))
            flips |= np.where(rng.random(n) < 0.7, bit, np.uint32(0)).astype(np.uint32)
        flips[0] = np.uint32(((rng.random(32) < p) * weights).sum())
        yield np.bitwise_xor.accumulate(flips)


def speed(args: argparse.Namespace) -> None:
    tracks = [p for p in corpus_tracks() if duration_of(p) >= 40]
    real = [full_fingerprint(p) for p in tracks]
    all_items = np.concatenate(real).astype(np.uint64)
    p = np.array([((all_items >> np.uint64(b)) & np.uint64(1)).mean() for b in range(32)])
    lengths = [r.size for r in real]
    rng = np.random.default_rng(SEED)
    pick = random.Random(SEED)
    queries = []
    for _ in range(200):
        t = pick.randrange(len(real))
        start = pick.randrange(0, real[t].size - 80)
        # 10 s of audio = 59 items, with 4 % of bits flipped (a re-encoded excerpt cut off the
        # hop grid agrees on ~96 %, reference chromaprint.md §5.4).
        clip = real[t][start : start + 59]
        flips = rng.random((clip.size, 32)) < 0.04
        noise = (flips * (1 << np.arange(32, dtype=np.uint64))).sum(axis=1).astype(np.uint32)
        queries.append((t, clip ^ noise))
    # Queries from music not in the index (new synthetic walks): they also take the wider
    # second probe, the slow path.
    outsiders = [w[:59] for w in synthetic_tracks(50, lengths, p, np.random.default_rng(SEED + 1))]
    postings = ClipPostings()
    postings.add_many(enumerate(real))
    total = len(real)
    print(
        "| tracks | items | memory bytes/item | p50 ms | p99 ms | found "
        "| not in index: p50 / p99 ms, false positives | build s |"
    )
    print("|---|---|---|---|---|---|---|---|")
    began = time.perf_counter()
    for stop in sorted({max(args.tracks // 10, total), args.tracks}):
        batch = 10_000
        while total < stop:
            n = min(batch, stop - total)
            postings.add_many(
                (total + k, items) for k, items in enumerate(synthetic_tracks(n, lengths, p, rng))
            )
            total += n
        built = time.perf_counter() - began
        snapshot = postings.snapshot()
        latencies = []
        found = 0
        for t, q in queries:
            began = time.perf_counter()
            matches = find(snapshot, q)
            latencies.append(time.perf_counter() - began)
            found += bool(matches) and matches[0].entry_id == t
        missing = []
        false_positives = 0
        for q in outsiders:
            began = time.perf_counter()
            false_positives += bool(find(snapshot, q))
            missing.append(time.perf_counter() - began)
        outside = (
            f"{1000 * percentile(missing, 50):.1f} / {1000 * percentile(missing, 99):.1f}, "
            f"{false_positives}/{len(outsiders)}"
        )
        print(
            f"| {total} | {postings.item_count} "
            f"| {postings.bytes_per_item:.1f} "
            f"| {1000 * percentile(latencies, 50):.1f} | {1000 * percentile(latencies, 99):.1f} "
            f"| {found}/{len(queries)} | {outside} | {built:.0f} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", type=int, nargs="+", default=[5, 10, 30])
    parser.add_argument("--distortions", nargs="+", default=DEFAULT_DISTORTIONS)
    parser.add_argument("--skip", type=int, nargs="*", default=[])
    parser.add_argument("--speed", action="store_true", help="the latency benchmark instead")
    parser.add_argument("--tracks", type=int, default=100_000)
    args = parser.parse_args()
    if args.speed:
        speed(args)
    else:
        evaluate(args)


if __name__ == "__main__":
    main()
