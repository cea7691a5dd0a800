"""Reliability gate: `earmark serve` killed with SIGKILL under submit load, then a lookup soak.

    .venv/bin/python bench/stress.py --cycles 25 --soak 180     # make stress (CI's size)
    .venv/bin/python bench/stress.py --cycles 100 --soak 600    # make stress CYCLES=100 SOAK=600

1. Fingerprints: real Chromaprint fingerprints of the Debian music `make deps` installs (the
   first 120 s of up to 24 tracks, by Earmark's fingerprinter); without the packages, of
   synthetic audio (seeded random tones and noise). Each submission carries 1 or 2 of them
   (``fingerprint.N``), a window of one of those fingerprints at one of four offsets, with an
   MBID per track and a title, so the importer both creates and merges fingerprints.
2. `earmark serve` runs on a fresh data directory (rate limits off). ``--submitters`` threads
   post submissions without pause; every answer ``{"status": "ok"}`` acknowledges the
   submission ids it lists, and those are recorded. A request that gets no answer was not
   acknowledged.
3. ``--cycles`` times: the server is started and killed with SIGKILL a random 1 to 10 s later
   (some kills land during start-up, the rest under load), then started again.
4. After the last start the load stops, the importer is given time to finish, and the database
   must show every acknowledged submission imported exactly once (see ``Ledger``).
5. A lookup soak of ``--soak`` seconds: ``--clients`` threads look up the submitted
   fingerprints (each must find a track) while the server's RSS is sampled every second;
   it fails when RSS grows more than the bound after warm-up (see ``rss_verdict``).

Exit status 0 when every check holds, 1 otherwise; the summary is printed either way (and
``--json`` prints it as one JSON line).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx
import numpy as np
import numpy.typing as npt

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import corpus  # noqa: E402  (bench/corpus.py: the Debian music)
from earmark.chromaprint.codec import encode_fingerprint_base64  # noqa: E402
from earmark.chromaprint.files import fingerprint_file  # noqa: E402
from earmark.chromaprint.fingerprinter import SAMPLE_RATE, fingerprint_pcm  # noqa: E402
from ledger import Ledger, read_ledger  # noqa: E402  (bench/ledger.py)

EARMARK = str(Path(sys.executable).with_name("earmark"))
TRACKS = 24
SECONDS = 120
OFFSETS = (0, 40, 80, 120)  # fingerprint items (~0.124 s each)
MAX_BATCH = 2  # fingerprints per submission (fingerprint.0, fingerprint.1)
MIN_ITEMS = 900  # about 112 s
MIN_UNIQUE = 400
KILL_AFTER = (1.0, 10.0)  # seconds after the start, uniformly
STATUS_BATCH = 500  # ids per /v2/submission_status request (the API takes 1000 parameters)


@dataclass(frozen=True)
class Variant:
    """One fingerprint a submission can carry; its lookup must find a track."""

    fingerprint: str
    duration: int
    mbid: str
    title: str


@dataclass
class Load:
    """What the submitting clients saw (shared by the threads, under ``lock``)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    acknowledged: list[int] = field(default_factory=list)
    sent: set[int] = field(default_factory=set)  # indexes of the variants acknowledged
    unanswered: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)


# --- fingerprints ------------------------------------------------------------------------


def usable(items: npt.NDArray[np.uint32]) -> bool:
    """A full 120 s fingerprint that stays far above the importer's floor of 80 unique items
    at every offset (some corpus tracks are a few seconds long or mostly silence)."""
    return items.size >= MIN_ITEMS and np.unique(items[OFFSETS[-1] :]).size >= MIN_UNIQUE


def real_fingerprints(count: int) -> list[npt.NDArray[np.uint32]]:
    tracks = corpus.corpus_tracks()
    found: list[npt.NDArray[np.uint32]] = []
    # Spread over the corpus (both packages), in a fixed order.
    for path in tracks[::2] + tracks[1::2]:
        items = fingerprint_file(path, SECONDS).items
        if usable(items):
            found.append(items)
            if len(found) == count:
                break
    return found


def synthetic_fingerprints(count: int, seed: int) -> list[npt.NDArray[np.uint32]]:
    """Fingerprints of seeded synthetic music: a random tone sequence over noise."""
    rng = np.random.default_rng(seed)
    result = []
    for _ in range(count):
        notes = rng.integers(40, 90, size=SECONDS * 4)
        freqs = 440.0 * 2.0 ** ((notes - 69) / 12.0)
        t = np.arange(SAMPLE_RATE // 4) / SAMPLE_RATE
        pcm = np.concatenate(
            [np.sin(2 * np.pi * f * t) + 0.5 * np.sin(3 * np.pi * f * t) for f in freqs]
        )
        pcm += 0.05 * rng.standard_normal(pcm.size)
        result.append(fingerprint_pcm((pcm / np.abs(pcm).max() * 20000).astype(np.int16)))
    return result


def variants(seed: int) -> tuple[list[Variant], str]:
    items = real_fingerprints(TRACKS)
    source = f"{len(items)} Debian music tracks"
    if not items:
        items = synthetic_fingerprints(TRACKS, seed)
        source = f"{len(items)} synthetic tracks (no Debian music: `make deps`)"
    found = []
    for n, track in enumerate(items):
        mbid = str(uuid.UUID(int=random.Random(seed + n).getrandbits(128), version=4))
        for offset in OFFSETS:
            window = track[offset:]
            duration = int(window.size * SECONDS / max(track.size, 1))
            found.append(
                Variant(encode_fingerprint_base64(window), duration, mbid, f"Stress track {n}")
            )
    return found, source


# --- the server ----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """`earmark serve` on one data directory and port, started again and again."""

    def __init__(self, data_dir: Path, logs: Path) -> None:
        self.data_dir = data_dir
        self.logs = logs
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("EARMARK_")}
        self.env.update(
            EARMARK_RATE_LIMIT_APPLICATION="0",
            EARMARK_RATE_LIMIT_GLOBAL="0",
            EARMARK_RATE_LIMIT_IP="0",
            EARMARK_SHUTDOWN_DELAY="0.2",
        )
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self._log: IO[bytes] | None = None

    def start(self) -> subprocess.Popen[bytes]:
        self.starts += 1
        self._log = (self.logs / f"serve-{self.starts:03d}.log").open("wb")
        argv = [EARMARK, "serve", "--port", str(self.port), "--data-dir", str(self.data_dir)]
        self.proc = subprocess.Popen(
            argv,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self.proc

    def healthy(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise SystemExit(
                    f"earmark serve exited with {self.proc.returncode}:\n{self.tail()}"
                )
            try:
                if httpx.get(self.url + "/_health", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise SystemExit(f"earmark serve not healthy after {timeout:g} s:\n{self.tail()}")

    def kill(self) -> None:
        """SIGKILL to the whole process group, as a crash of the machine's service would."""
        assert self.proc is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self._close_log()

    def stop(self) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.kill()
            code = -9
        self._close_log()
        return code

    def rss_bytes(self) -> int:
        assert self.proc is not None
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        return 0

    def tail(self, lines: int = 40) -> str:
        path = self.logs / f"serve-{self.starts:03d}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def _close_log(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None


def read_keys(data_dir: Path, env: dict[str, str]) -> tuple[str, str]:
    out = subprocess.run(
        [EARMARK, "keys", "--data-dir", str(data_dir), "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    keys = json.loads(out)
    return str(keys["client"]), str(keys["user"])


# --- load --------------------------------------------------------------------------------


def submit_forever(
    url: str,
    client: str,
    user: str,
    pool: list[Variant],
    load: Load,
    stop: threading.Event,
    seed: int,
) -> None:
    rng = random.Random(seed)
    with httpx.Client(base_url=url, timeout=15) as http:
        while not stop.is_set():
            chosen = rng.sample(range(len(pool)), rng.randint(1, MAX_BATCH))
            form = {"client": client, "user": user, "format": "json"}
            for n, index in enumerate(chosen):
                v = pool[index]
                form |= {
                    f"fingerprint.{n}": v.fingerprint,
                    f"duration.{n}": str(v.duration),
                    f"mbid.{n}": v.mbid,
                    f"track.{n}": v.title,
                }
            try:
                response = http.post("/v2/submit", data=form)
                answer = response.json() if response.status_code == 200 else None
            except (httpx.TransportError, ValueError):
                with load.lock:
                    load.unanswered += 1
                time.sleep(0.05)
                continue
            with load.lock:
                load.statuses[response.status_code] += 1
                if answer is not None and answer.get("status") == "ok":
                    load.acknowledged.extend(int(s["id"]) for s in answer["submissions"])
                    load.sent.update(chosen)
                elif response.status_code >= 500 and response.status_code != 503:
                    load.server_errors.append(f"{response.status_code}: {response.text[:300]}")


def wait_processed(url: str, client: str, ids: list[int], timeout: float) -> Counter[str]:
    """Poll submission_status until no acknowledged submission is pending; the statuses."""
    deadline = time.monotonic() + timeout
    while True:
        found: Counter[str] = Counter()
        with httpx.Client(base_url=url, timeout=30) as http:
            for start in range(0, len(ids), STATUS_BATCH):
                batch = ids[start : start + STATUS_BATCH]
                answer = http.post(
                    "/v2/submission_status", data={"client": client, "id": [str(i) for i in batch]}
                ).json()
                found.update(s["status"] for s in answer["submissions"])
        if found["pending"] == 0 or time.monotonic() > deadline:
            return found
        time.sleep(1)


# --- soak --------------------------------------------------------------------------------


@dataclass
class Soak:
    lock: threading.Lock = field(default_factory=threading.Lock)
    lookups: int = 0
    misses: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    rss: list[tuple[float, int]] = field(default_factory=list)


def lookup_forever(
    url: str, client: str, pool: list[Variant], soak: Soak, stop: threading.Event, seed: int
) -> None:
    rng = random.Random(seed)
    with httpx.Client(base_url=url, timeout=30) as http:
        while not stop.is_set():
            v = rng.choice(pool)
            form = {"client": client, "duration": str(v.duration), "fingerprint": v.fingerprint}
            try:
                response = http.post("/v2/lookup", data=form)
                answer = response.json()
            except (httpx.TransportError, ValueError) as exc:
                with soak.lock:
                    soak.errors[type(exc).__name__] += 1
                continue
            with soak.lock:
                if response.status_code != 200 or answer.get("status") != "ok":
                    soak.errors[f"HTTP {response.status_code}"] += 1
                else:
                    soak.lookups += 1
                    soak.misses += not answer["results"]


def sample_rss(server: Server, soak: Soak, stop: threading.Event) -> None:
    started = time.monotonic()
    while not stop.wait(1.0):
        soak.rss.append((time.monotonic() - started, server.rss_bytes()))


def rss_verdict(
    samples: list[tuple[float, int]], warmup: float, limit_mb: float, limit_ratio: float
) -> dict[str, Any]:
    """RSS after warm-up (the median of its last 5 s) against the largest later sample.

    A lookup allocates and frees; what it keeps is bounded (the key and metadata caches, the
    counters, the index's memory maps). A leak of 1 KiB per lookup would add about 60 MB over
    the default soak's ~60,000 lookups: growth beyond ``limit_ratio`` of the warm RSS or
    ``limit_mb`` (whichever is smaller) fails, while allocator noise (a few MB) passes.
    """
    warm = [rss for t, rss in samples if warmup - 5 <= t <= warmup] or [samples[0][1]]
    later = [rss for t, rss in samples if t > warmup] or [samples[-1][1]]
    base = statistics.median(warm)
    growth = max(later) - base
    bound = min(limit_ratio * base, limit_mb * 2**20)
    return {
        "rss_start_mb": round(samples[0][1] / 2**20, 1),
        "rss_warm_mb": round(base / 2**20, 1),
        "rss_end_mb": round(samples[-1][1] / 2**20, 1),
        "rss_max_mb": round(max(rss for _, rss in samples) / 2**20, 1),
        "rss_growth_mb": round(growth / 2**20, 1),
        "rss_bound_mb": round(bound / 2**20, 1),
        "rss_ok": growth <= bound,
    }


def run_soak(
    server: Server, client: str, pool: list[Variant], args: argparse.Namespace
) -> dict[str, Any]:
    soak = Soak()
    stop = threading.Event()
    threads = [threading.Thread(target=sample_rss, args=(server, soak, stop))]
    threads += [
        threading.Thread(
            target=lookup_forever, args=(server.url, client, pool, soak, stop, args.seed + i)
        )
        for i in range(args.clients)
    ]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    time.sleep(args.soak)
    stop.set()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    warmup = min(30.0, args.soak / 6)
    return {
        "soak_seconds": round(elapsed, 1),
        "lookups": soak.lookups,
        "lookups_per_second": round(soak.lookups / elapsed, 1),
        "lookup_misses": soak.misses,
        "lookup_errors": dict(soak.errors),
        **rss_verdict(soak.rss, warmup, args.rss_growth_mb, args.rss_growth_ratio),
    }


# --- the run -----------------------------------------------------------------------------


def crash_cycles(
    server: Server, args: argparse.Namespace, pool: list[Variant]
) -> tuple[Load, str, str]:
    rng = random.Random(args.seed)
    server.start()
    server.healthy()
    client, user = read_keys(server.data_dir, server.env)
    load, stop = Load(), threading.Event()
    clients = [
        threading.Thread(
            target=submit_forever, args=(server.url, client, user, pool, load, stop, args.seed + i)
        )
        for i in range(args.submitters)
    ]
    for thread in clients:
        thread.start()
    for cycle in range(1, args.cycles + 1):
        time.sleep(rng.uniform(*KILL_AFTER) if cycle > 1 else rng.uniform(0, KILL_AFTER[1] / 2))
        server.kill()
        with load.lock:
            acknowledged = len(load.acknowledged)
        print(
            f"  cycle {cycle}/{args.cycles}: SIGKILL; {acknowledged} acknowledged so far",
            flush=True,
        )
        server.start()
    server.healthy()
    time.sleep(1.0)  # some load on the last start too
    stop.set()
    for thread in clients:
        thread.join()
    return load, client, user


def verdict(load: Load, ledger: Ledger, statuses: Counter[str]) -> dict[str, Any]:
    acknowledged = load.acknowledged
    stored = ledger.statuses
    lost = [s for s in acknowledged if stored.get(s) != "imported"]
    return {
        "acknowledged": len(acknowledged),
        "acknowledged_twice": len(acknowledged) - len(set(acknowledged)),
        "unanswered_requests": load.unanswered,
        "stored": len(stored),
        "imported": sum(1 for s in stored.values() if s == "imported"),
        "lost": len(lost),
        "lost_statuses": dict(Counter(stored.get(s, "missing") for s in lost)),
        "duplicated": ledger.duplicated(),
        "ledger_problems": ledger.problems(),
        "http_statuses": dict(load.statuses),
        "server_errors": load.server_errors[:5],
        "status_answers": dict(statuses),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cycles", type=int, default=25, help="SIGKILLs under load")
    parser.add_argument("--soak", type=float, default=180, help="seconds of lookup soak")
    parser.add_argument("--submitters", type=int, default=2, help="threads submitting")
    parser.add_argument("--clients", type=int, default=4, help="threads looking up (soak)")
    parser.add_argument("--seed", type=int, default=23)
    parser.add_argument("--import-timeout", type=float, default=600)
    parser.add_argument("--rss-growth-mb", type=float, default=100)
    parser.add_argument("--rss-growth-ratio", type=float, default=0.5)
    parser.add_argument("--dir", type=Path, help="keep the data directory and logs here")
    parser.add_argument("--json", action="store_true", help="print the summary as one JSON line")
    args = parser.parse_args()

    work = args.dir or Path(tempfile.mkdtemp(prefix="earmark-stress-"))
    work.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    pool, source = variants(args.seed)
    print(f"stress: {len(pool)} fingerprints from {source}; work dir {work}", flush=True)
    server = Server(work / "data", work)
    summary: dict[str, Any] = {"cycles": args.cycles, "fingerprints": source}
    timings = summary.setdefault("phase_seconds", {})
    try:
        timings["fingerprints"] = round(time.monotonic() - started, 1)
        load, client, _user = crash_cycles(server, args, pool)
        timings["crash_cycles"] = round(time.monotonic() - started - sum(timings.values()), 1)
        ids = sorted(set(load.acknowledged))
        statuses = wait_processed(server.url, client, ids, args.import_timeout)
        timings["import_wait"] = round(time.monotonic() - started - sum(timings.values()), 1)
        print(f"stress: imported; lookup soak of {args.soak:g} s", flush=True)
        summary |= run_soak(server, client, [pool[i] for i in sorted(load.sent)], args)
        # Read after the soak: by then the index outbox must have drained too.
        summary |= verdict(load, read_ledger(f"sqlite:///{work / 'data' / 'earmark.db'}"), statuses)
    finally:
        if server.proc is not None and server.proc.poll() is None:
            summary["exit_code"] = server.stop()
    failures = failures_of(summary)
    summary["failures"] = failures
    print(json.dumps(summary) if args.json else report(summary))
    if failures and args.dir is None:
        print(f"logs and data kept in {work}")
    return 1 if failures else 0


def failures_of(s: dict[str, Any]) -> list[str]:
    checks = {
        "acknowledged submissions lost": s["lost"] == 0,
        "submissions imported more than once": s["duplicated"] == 0,
        "an id acknowledged twice": s["acknowledged_twice"] == 0,
        "database ledger inconsistent": not s["ledger_problems"],
        "5xx answers to submissions": not s["server_errors"],
        "nothing acknowledged": s["acknowledged"] > 0,
        "lookups that found nothing": s["lookup_misses"] == 0,
        "lookups that failed": not s["lookup_errors"],
        "RSS grew past the bound": s["rss_ok"],
        "unclean shutdown": s.get("exit_code") == 0,
    }
    return [name for name, ok in checks.items() if not ok]


def report(s: dict[str, Any]) -> str:
    lines = [
        "",
        f"crash: {s['cycles']} SIGKILL cycles, {s['acknowledged']} submissions acknowledged "
        f"({s['unanswered_requests']} requests unanswered), {s['stored']} stored, "
        f"{s['imported']} imported, {s['lost']} lost, {s['duplicated']} duplicated",
        f"soak:  {s['lookups']} lookups in {s['soak_seconds']} s ({s['lookups_per_second']}/s), "
        f"{s['lookup_misses']} misses, errors {s['lookup_errors'] or 'none'}",
        f"RSS:   start {s['rss_start_mb']} MB, after warm-up {s['rss_warm_mb']} MB, end "
        f"{s['rss_end_mb']} MB, max {s['rss_max_mb']} MB; growth {s['rss_growth_mb']} MB "
        f"(bound {s['rss_bound_mb']} MB)",
    ]
    if s["ledger_problems"]:
        lines.append("ledger: " + "; ".join(s["ledger_problems"]))
    if s["lost_statuses"]:
        lines.append(f"lost submissions by status: {s['lost_statuses']}")
    lines.append("time:  " + ", ".join(f"{k} {v} s" for k, v in s["phase_seconds"].items()))
    lines.append("FAILED: " + ", ".join(s["failures"]) if s["failures"] else "OK")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
