"""Acceptance on real music: `earmark fingerprint` against `fpcalc`, item for item.

    .venv/bin/python bench/acceptance.py [--corpus DIR] [--length 0] [--jobs 2]

For every corpus track: fpcalc's raw fingerprint (``fpcalc -raw -json -length L -ignore-errors``)
and Earmark's (``fingerprint_file(path, L)``); prints the share of tracks that are identical, the
worst bit error rate (BER, over the common length; a missing or extra item counts as 32 errors),
and duration agreement. Exits 1 unless >= 95 % are identical and every BER <= 1e-3.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus import corpus_tracks
from earmark.chromaprint.files import fingerprint_file


def fpcalc(path: Path, length: float) -> tuple[float, np.ndarray]:
    out = subprocess.run(
        ["fpcalc", "-raw", "-json", "-length", str(int(length)), "-ignore-errors", str(path)],
        capture_output=True,
        check=True,
        text=True,
    ).stdout
    data = json.loads(out)
    return float(data["duration"]), np.array(data["fingerprint"], dtype=np.uint32)


def bit_error_rate(a: np.ndarray, b: np.ndarray) -> float:
    n = min(len(a), len(b))
    errors = int(np.unpackbits((a[:n] ^ b[:n]).view(np.uint8)).sum()) + 32 * abs(len(a) - len(b))
    return errors / (32 * max(len(a), len(b), 1))


def compare(path: Path, length: float) -> tuple[str, bool, float, float, float, int]:
    ref_duration, ref = fpcalc(path, length)
    ours = fingerprint_file(path, length)
    same = len(ref) == len(ours.items) and bool(np.array_equal(ref, ours.items))
    return (str(path), same, bit_error_rate(ours.items, ref), ref_duration, ours.duration, len(ref))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=None, help="a built corpus directory")
    parser.add_argument("--length", type=float, default=0, help="seconds (0 = whole file)")
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    tracks = corpus_tracks(args.corpus)
    if not tracks:
        print("no corpus tracks found: run `make deps` (as root) first", file=sys.stderr)
        return 2
    with ProcessPoolExecutor(args.jobs) as pool:
        rows = list(pool.map(compare, tracks, [args.length] * len(tracks)))
    identical = sum(row[1] for row in rows)
    worst = max(rows, key=lambda row: row[2])
    items = sum(row[5] for row in rows)
    duration_ok = sum(f"{row[3]:.2f}" == f"{row[4]:.2f}" for row in rows)
    for path, same, ber, ref_d, our_d, n in rows:
        if not same:
            print(
                f"  differs: {path}: BER {ber:.2e} over {n} items; duration {ref_d} vs {our_d:.2f}"
            )
    share = identical / len(rows)
    print(f"tracks: {len(rows)}, items: {items}, length: {args.length:g} s")
    print(f"identical to fpcalc: {identical}/{len(rows)} ({share:.1%})")
    print(f"worst BER: {worst[2]:.2e} ({worst[0]})")
    print(f"duration equal to fpcalc's (2 decimals): {duration_ok}/{len(rows)}")
    return 0 if share >= 0.95 and worst[2] <= 1e-3 else 1


if __name__ == "__main__":
    sys.exit(main())
