"""Start-up of the ``earmark`` command against ``python -c "import numpy"`` and fpcalc.

    .venv/bin/python bench/cli_start.py [--runs 15] [--file AUDIO] [--seconds 30]

Runs, in interleaved rounds so that a burst of load on a shared machine hits every command
alike: ``python -c "import numpy"``, ``earmark --version``, ``earmark --help``, ``earmark
fingerprint FILE`` and ``fpcalc FILE``, and prints the median wall time and CPU time (user +
system, from the kernel) of each, then the two ratios the project targets: ``earmark
--version`` within 2x numpy's import, ``earmark fingerprint`` within 3x fpcalc. FILE is the
first ``--seconds`` of a Debian music track (see bench/corpus.py), cut with ffmpeg, or a
synthetic signal when no track is installed; ``--file`` uses a file of your own as it is.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus import corpus_tracks

EARMARK = Path(sys.executable).with_name("earmark")

TARGETS = {"earmark --version": ("import numpy", 2.0), "earmark fingerprint": ("fpcalc", 3.0)}


@dataclass
class Timings:
    command: list[str]
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    def run_once(self) -> None:
        started = time.perf_counter()
        process = subprocess.Popen(
            self.command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        _, status, usage = os.wait4(process.pid, 0)
        self.wall.append(time.perf_counter() - started)
        self.cpu.append(usage.ru_utime + usage.ru_stime)
        code = os.waitstatus_to_exitcode(status)
        if code not in (0, 3):  # fpcalc on Debian bookworm exits 3 on every file (chromaprint #122)
            raise SystemExit(f"{' '.join(self.command)} exited with {code}")


def audio_file(directory: Path, seconds: float) -> Path:
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise SystemExit("ffmpeg is not installed (make deps), or give --file")
    tracks = corpus_tracks()
    target = directory / "start.ogg"
    if tracks:
        source = ["-i", str(tracks[0])]
    else:  # a tone that changes pitch every half second, so the fingerprint has structure
        tone = "0.4*sin(2*PI*(220+55*mod(floor(2*t),7))*t)"
        source = ["-f", "lavfi", "-i", f"aevalsrc={tone}:sample_rate=44100"]
    command = [ffmpeg, "-v", "error", "-nostdin", "-y", *source, "-t", str(seconds)]
    subprocess.run([*command, "-ac", "2", "-c:a", "libvorbis", str(target)], check=True)
    return target


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15, help="rounds (medians are printed)")
    parser.add_argument("--file", type=Path, default=None, help="audio file to fingerprint")
    parser.add_argument("--seconds", type=float, default=30.0, help="length of the cut file")
    args = parser.parse_args()
    fpcalc = shutil.which("fpcalc")
    if fpcalc is None:
        raise SystemExit("fpcalc is not installed (make deps)")
    with tempfile.TemporaryDirectory(prefix="earmark-cli-start-") as tmp:
        audio = args.file or audio_file(Path(tmp), args.seconds)
        timings = {
            "python (bare)": Timings([sys.executable, "-c", "pass"]),
            "import numpy": Timings([sys.executable, "-c", "import numpy"]),
            "earmark --version": Timings([str(EARMARK), "--version"]),
            "earmark --help": Timings([str(EARMARK), "--help"]),
            "earmark fingerprint": Timings([str(EARMARK), "fingerprint", str(audio)]),
            "fpcalc": Timings([fpcalc, str(audio)]),
        }
        for timing in timings.values():  # warm the page cache; not counted
            timing.run_once()
            timing.wall.clear()
            timing.cpu.clear()
        for _ in range(args.runs):
            for timing in timings.values():
                timing.run_once()
    print(f"file: {audio if args.file else f'{args.seconds:g} s cut'}; {args.runs} runs")
    print(f"{'command':<22} {'wall ms':>8} {'cpu ms':>8}   (medians)")
    wall = {name: statistics.median(t.wall) for name, t in timings.items()}
    cpu = {name: statistics.median(t.cpu) for name, t in timings.items()}
    for name in timings:
        print(f"{name:<22} {wall[name] * 1000:>8.0f} {cpu[name] * 1000:>8.0f}")
    for name, (baseline, target) in TARGETS.items():
        ratio = wall[name] / wall[baseline]
        verdict = "ok" if ratio <= target else "over"
        print(
            f"{name} / {baseline}: {ratio:.2f}x wall, {cpu[name] / cpu[baseline]:.2f}x cpu "
            f"(target <= {target:g}x wall: {verdict})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
