"""Fingerprinting throughput: audio minutes per CPU second, Earmark against fpcalc.

    .venv/bin/python bench/fingerprint.py [--corpus DIR] [--files N] [--repeat 3]

Runs one ``earmark fingerprint --length 0 --raw`` process and one ``fpcalc -length 0 -raw``
process over the same whole files (the dev-corpus tracks), measures each child's CPU time
(user + system, from the kernel's rusage), keeps the best of ``--repeat`` runs, and prints
the throughput of each and their ratio. Both include process start-up and decoding.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus import corpus_tracks
from earmark.chromaprint.audio import open_audio

EARMARK = Path(sys.executable).with_name("earmark")


def cpu_seconds(command: list[str]) -> tuple[float, float]:
    """Run a command; return its CPU time (user + system) and wall time."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 3):  # fpcalc on Debian bookworm exits 3 on every file (chromaprint #122)
        raise SystemExit(f"{command[0]} exited with {code}")
    return usage.ru_utime + usage.ru_stime, wall


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} cores, {platform.system()} {platform.release()}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=None)
    parser.add_argument("--files", type=int, default=0, help="use only the first N files")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    tracks = [str(p) for p in corpus_tracks(args.corpus)]
    if args.files:
        tracks = tracks[: args.files]
    if not tracks:
        print("no corpus tracks found: run `make deps` (as root) first", file=sys.stderr)
        return 2
    minutes = sum(open_audio(p).duration for p in tracks) / 60
    commands = {
        "earmark": [str(EARMARK), "fingerprint", "--length", "0", "--raw", "--jobs", "1", *tracks],
        "fpcalc": ["fpcalc", "-length", "0", "-raw", "-ignore-errors", *tracks],
    }
    best: dict[str, tuple[float, float]] = {}
    for _ in range(args.repeat):
        for name, command in commands.items():
            cpu, wall = cpu_seconds(command)
            if name not in best or cpu < best[name][0]:
                best[name] = (cpu, wall)
    print(f"machine: {machine()}")
    print(f"files: {len(tracks)}, audio: {minutes:.1f} min, best of {args.repeat} runs")
    for name, (cpu, wall) in best.items():
        print(
            f"{name:8s} cpu {cpu:6.2f} s  wall {wall:6.2f} s  "
            f"{minutes / cpu:7.1f} audio min per CPU s  ({cpu / minutes:.3f} CPU s per audio min)"
        )
    ratio = (minutes / best["earmark"][0]) / (minutes / best["fpcalc"][0])
    print(f"earmark / fpcalc throughput: {ratio:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
