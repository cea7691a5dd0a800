"""Fingerprinting throughput: audio minutes per CPU second, Earmark against fpcalc.

    .venv/bin/python bench/fingerprint.py [--corpus DIR] [--files N] [--repeat 3]
        [--stage-files 10] [--before PATH/TO/earmark]

1. Throughput, for whole files (``--length 0``) and fpcalc's default 120 s: one
   ``earmark fingerprint --raw --jobs 1`` process and one ``fpcalc -raw`` process over the same
   files (the dev-corpus tracks), in interleaved rounds; each child's CPU time (user + system,
   from the kernel's rusage) includes process start-up and decoding; best of ``--repeat``.
   ``--before`` adds a third command, another build's ``earmark``, for paired before/after runs.
2. ``--jobs`` scaling: wall time of ``earmark fingerprint --length 0`` with ``--jobs 1`` and
   ``--jobs 2`` over the same files (wall time: other load on the machine shows up here).
3. Where the time goes, in this process over the first ``--stage-files`` files: CPU per audio
   minute of decoding alone, decoding + resampling (as Earmark runs it), and the fingerprint
   stage (the C stage and its numpy specification) on the decoded PCM; and the CPU of a
   process that fingerprints the shortest file, for start-up.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

# The child processes get the environment as it was; this process only measures in-process
# stages, which use no BLAS, so it keeps OpenBLAS from spinning threads (as earmark does) by
# setting the variable before numpy is imported (hence the late imports below).
CHILD_ENV = dict(os.environ)
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

sys.path.insert(0, str(Path(__file__).resolve().parent))
import av  # noqa: E402
import numpy as np  # noqa: E402

from corpus import corpus_tracks  # noqa: E402
from earmark.chromaprint.audio import SAMPLE_RATE, open_audio  # noqa: E402
from earmark.chromaprint.fingerprinter import (  # noqa: E402
    NATIVE,
    Fingerprinter,
    NumpyFingerprinter,
)
from earmark.process import tune_allocator  # noqa: E402

EARMARK = Path(sys.executable).with_name("earmark")
TARGETS = {0: 1.3, 120: 1.0}  # issue 21: throughput ratio to fpcalc per --length


def run_child(command: list[str]) -> tuple[float, float]:
    """Run a command; return its CPU time (user + system) and wall time."""
    started = time.perf_counter()
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=CHILD_ENV
    )
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


def load() -> str:
    return " ".join(f"{v:.1f}" for v in os.getloadavg())


def throughput(tracks: list[str], durations: list[float], args: argparse.Namespace) -> None:
    for length in (0, 120):
        minutes = sum(min(d, length) if length else d for d in durations) / 60
        commands = {
            "earmark": [str(EARMARK), "fingerprint", "--length", str(length), "--raw"],
            "fpcalc": ["fpcalc", "-length", str(length), "-raw", "-ignore-errors"],
        }
        commands["earmark"] += ["--jobs", "1"]
        if args.before:
            commands["before"] = [args.before, *commands["earmark"][1:]]
        best: dict[str, float] = {}
        for _ in range(args.repeat):
            for name, command in commands.items():
                cpu, _ = run_child([*command, *tracks])
                best[name] = min(cpu, best.get(name, cpu))
        runs = f"best of {args.repeat} (load {load()})"
        print(f"\n--length {length}: {minutes:.1f} audio min, {runs}")
        for name, cpu in best.items():
            print(
                f"  {name:8s} {cpu:6.2f} CPU s  {minutes / cpu:6.1f} audio min per CPU s  "
                f"({cpu / minutes:.4f} CPU s per audio min)"
            )
        ratio = best["fpcalc"] / best["earmark"]
        met = "met" if ratio >= TARGETS[length] else "NOT met"
        print(f"  earmark / fpcalc throughput: {ratio:.2f}x (target >= {TARGETS[length]}x: {met})")
        if args.before:
            print(f"  before / fpcalc throughput: {best['fpcalc'] / best['before']:.2f}x")


def jobs_scaling(tracks: list[str], args: argparse.Namespace) -> None:
    walls: dict[int, float] = {}
    cpus: dict[int, float] = {}
    for _ in range(args.repeat):
        for jobs in (1, 2):
            command = [str(EARMARK), "fingerprint", "--length", "0", "--raw", "--jobs", str(jobs)]
            cpu, wall = run_child([*command, *tracks])
            walls[jobs] = min(wall, walls.get(jobs, wall))
            cpus[jobs] = min(cpu, cpus.get(jobs, cpu))
    print(f"\n--jobs scaling, --length 0, best of {args.repeat} (load {load()})")
    for jobs, wall in walls.items():
        print(f"  --jobs {jobs}: {wall:6.2f} s wall, {cpus[jobs]:6.2f} CPU s (workers included)")
    print(f"  speed-up with 2 jobs: {walls[1] / walls[2]:.2f}x wall (linear: 2.00x)")
    print(f"  CPU with 2 jobs / with 1: {cpus[2] / cpus[1]:.2f}x (1.00x: the workers cost nothing)")


def cpu_now() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def best_cpu(work: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = cpu_now()
        work()
        best = min(best, cpu_now() - started)
    return best


def decode_only(path: str) -> None:
    """Demux and decode inside a filter graph like Earmark's, without resampling."""
    source = open_audio(path)
    graph = av.filter.Graph()
    movie = graph.add(
        "amovie",
        filename="file:" + os.path.abspath(path),
        format_name=source.format_name.split(",")[0],
        stream_index=str(source.stream_index),
    )
    chunks = graph.add("asetnsamples", "n=32768:p=0")
    sink = graph.add("abuffersink")
    movie.link_to(chunks)
    chunks.link_to(sink)
    graph.configure()
    while True:
        try:
            sink.pull()
        except av.EOFError:
            return
        except av.BlockingIOError:
            continue


def stages(tracks: list[str], args: argparse.Namespace) -> None:
    files = tracks[: args.stage_files]
    pcm = [np.concatenate(list(open_audio(p).pcm_blocks())) for p in files]
    minutes = sum(len(p) for p in pcm) / SAMPLE_RATE / 60

    def decode_resample() -> None:
        for path in files:
            for _ in open_audio(path).pcm_blocks():
                pass

    def fingerprint(cls: type[Fingerprinter] | type[NumpyFingerprinter]) -> Callable[[], None]:
        def work() -> None:
            for samples in pcm:
                fp = cls()
                for start in range(0, len(samples), 32768):  # blocks as the decoder gives them
                    fp.feed(samples[start : start + 32768])
                fp.items()

        return work

    decode = best_cpu(lambda: [decode_only(p) for p in files], args.repeat)
    both = best_cpu(decode_resample, args.repeat)
    stage = best_cpu(fingerprint(Fingerprinter), args.repeat)
    spec = best_cpu(fingerprint(NumpyFingerprinter), args.repeat)
    shortest = min(tracks, key=lambda p: open_audio(p).duration)
    start_earmark = min(
        run_child([str(EARMARK), "fingerprint", "--raw", shortest])[0] for _ in range(args.repeat)
    )
    start_fpcalc = min(run_child(["fpcalc", "-raw", shortest])[0] for _ in range(args.repeat))
    print(
        f"\nwhere the time goes: {len(files)} files, {minutes:.1f} audio min, "
        f"best of {args.repeat} (load {load()})"
    )
    print("  CPU s per audio min:")
    print(f"    decode (demux + decode in the filter graph)  {decode / minutes:.4f}")
    print(f"    resample (+ down-mix, s16; the difference)   {(both - decode) / minutes:.4f}")
    engine = "C stage" if NATIVE else "numpy (C stage not built)"
    print(f"    fingerprint stage, {engine:27s}{stage / minutes:.4f}")
    print(f"    fingerprint stage, numpy specification       {spec / minutes:.4f}")
    print(
        f"  process start-up + shortest file ({open_audio(shortest).duration:.1f} s): "
        f"earmark {start_earmark:.3f} CPU s, fpcalc {start_fpcalc:.3f} CPU s"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=None)
    parser.add_argument("--files", type=int, default=0, help="use only the first N files")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--stage-files", type=int, default=10)
    parser.add_argument("--before", default=None, help="another build's earmark, run alongside")
    args = parser.parse_args()
    tracks = [str(p) for p in corpus_tracks(args.corpus)]
    if args.files:
        tracks = tracks[: args.files]
    if not tracks:
        print("no corpus tracks found: run `make deps` (as root) first", file=sys.stderr)
        return 2
    tune_allocator()
    durations = [open_audio(p).duration for p in tracks]
    print(f"machine: {machine()}")
    print(f"files: {len(tracks)}, audio: {sum(durations) / 60:.1f} min")
    throughput(tracks, durations, args)
    jobs_scaling(tracks, args)
    stages(tracks, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
