"""Benchmark of the fingerprint index: ingest, search latency and throughput, RSS, disk, reopen.

    .venv/bin/python bench/index.py --docs 100000 --mode http
    .venv/bin/python bench/index.py --docs 1000000 --mode inproc

Modes: `inproc` drives the engine directly; `http` starts `python -m earmark.cli.run_index`
and talks MessagePack over keep-alive `http.client` connections, like the reference probe
(spec "Measured here"). See bench/README.md for the term generator.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgpack
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
VECTORS = ROOT / "tests" / "data" / "vectors"  # carried in the repository
TERMS_PER_DOC = 120
BATCH = 1000
KEEP = 72  # 60 % of a document's terms are kept in a query
# After ingest, wait until the segment count has not changed for this long (the server
# merges an index down once it has had no writes for 10 s).
SETTLE_S = 15


# -- term generator ---------------------------------------------------------------------------


def bit_probabilities() -> np.ndarray:
    """P(bit set) for each of the 32 bits of real extract_query terms (dev corpus)."""
    fps = json.loads((VECTORS / "dev-corpus-compare.json").read_text())["fingerprints"].values()
    terms = np.concatenate([np.array(f["extract_query_unsigned"], dtype=np.uint64) for f in fps])
    return np.array([((terms >> np.uint64(b)) & np.uint64(1)).mean() for b in range(32)])


def _group_tables(p: np.ndarray) -> list[tuple[int, np.ndarray]]:
    """Split the 32 bits in 4 groups of 8; exact distribution of each group's byte value."""
    tables = []
    values = np.arange(256)
    for g in range(4):
        probs = np.ones(256)
        for b in range(8):
            pb = p[g * 8 + b]
            bit = (values >> b) & 1
            probs *= np.where(bit == 1, pb, 1 - pb)
        tables.append((g * 8, np.cumsum(probs / probs.sum())))
    return tables


def generate_terms(
    rng: np.random.Generator, count: int, tables: list[tuple[int, np.ndarray]]
) -> np.ndarray:
    out = np.zeros(count, dtype=np.uint32)
    for shift, cdf in tables:
        byte = np.searchsorted(cdf, rng.random(count)).clip(0, 255).astype(np.uint32)
        out |= byte << np.uint32(shift)
    return out


def generate_docs(n: int, seed: int = 12345, variant_share: float = 0.2) -> np.ndarray:
    """n x 120 terms. A share of documents are variants of an earlier one (another
    submission of the same recording): half of its terms kept, the rest fresh."""
    rng = np.random.default_rng(seed)
    tables = _group_tables(bit_probabilities())
    docs = generate_terms(rng, n * TERMS_PER_DOC, tables).reshape(n, TERMS_PER_DOC)
    variants = np.flatnonzero(rng.random(n) < variant_share)
    variants = variants[variants > 0]
    sources = (rng.random(variants.shape[0]) * variants).astype(np.int64)
    keep = rng.random((variants.shape[0], TERMS_PER_DOC)) < 0.5
    docs[variants] = np.where(keep, docs[sources], docs[variants])
    return docs


def make_queries(docs: np.ndarray, count: int, seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    tables = _group_tables(bit_probabilities())
    picks = rng.integers(0, docs.shape[0], count)
    queries = np.empty((count, TERMS_PER_DOC), dtype=np.uint32)
    for i, d in enumerate(picks):
        kept = rng.choice(TERMS_PER_DOC, KEEP, replace=False)
        queries[i, :KEEP] = docs[d, kept]
        queries[i, KEEP:] = generate_terms(rng, TERMS_PER_DOC - KEEP, tables)
    return picks + 1, queries  # doc ids are 1-based


# -- measurement helpers ----------------------------------------------------------------------


def rss_mib(pid: int) -> float:
    return memory_mib(pid)["rss"]


def memory_mib(pid: int) -> dict[str, float]:
    """Resident memory of `pid` in MiB: `rss` (what `ps` shows and the reference comparison
    uses), split into `anon` (heap, numpy arrays: what the process costs the machine) and
    `file` (resident pages of mapped files and libraries, which the kernel can drop)."""
    fields = {"VmRSS:": "rss", "RssAnon:": "anon", "RssFile:": "file", "RssShmem:": "shmem"}
    out = dict.fromkeys(fields.values(), float("nan"))
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key = line.split(maxsplit=1)[0] if line else ""
        if key in fields:
            out[fields[key]] = int(line.split()[1]) / 1024
    return out


def cpu_s(pid: int) -> float:
    """CPU time (user + system) `pid` has used so far, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def disk_bytes(path: Path, suffix: str = "") -> int:
    return sum(p.stat().st_size for p in path.rglob(f"*{suffix}") if p.is_file())


def pct(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values), q)) * 1000


# -- drivers ----------------------------------------------------------------------------------


class InProc:
    def __init__(self, data: Path) -> None:
        from earmark.index.engine import IndexSettings, MultiIndex

        self.data = data
        self._settings = IndexSettings()
        self.engine = MultiIndex(data, self._settings)
        self.engine.create("bench")
        self.pid = os.getpid()

    def ingest(self, docs: np.ndarray) -> float:
        from earmark.index.engine import Insert

        index = self.engine.get("bench")
        start = time.perf_counter()
        for b in range(0, docs.shape[0], BATCH):
            index.update([Insert(b + i + 1, row) for i, row in enumerate(docs[b : b + BATCH])])
        return time.perf_counter() - start

    def settle(self) -> int:
        index = self.engine.get("bench")
        index.run_maintenance()
        return len(index.snapshot.segments)

    def searcher(self) -> Callable[[np.ndarray], list[tuple[int, int]]]:
        from earmark.index.engine import SearchParams

        index = self.engine.get("bench")

        def run(q: np.ndarray) -> list[tuple[int, int]]:
            return [(r.id, r.score) for r in index.search(SearchParams(q, limit=10))]

        return run

    def restart(self) -> float:
        from earmark.index.engine import MultiIndex

        self.engine.close()
        start = time.perf_counter()
        self.engine = MultiIndex(self.data, self._settings)
        return time.perf_counter() - start

    def close(self) -> None:
        self.engine.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Http:
    """A server process over HTTP: Earmark's `run index`, or the reference's `fpindex` binary
    (`binary`), which takes the same `--dir` and `--port` flags and speaks the same API."""

    def __init__(self, data: Path, binary: Path | None = None) -> None:
        self.data = data
        self.binary = binary
        self.port = _free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self._start()
        self._call("PUT", "/bench", None)

    def _start(self) -> float:
        start = time.perf_counter()
        if self.binary is None:
            cmd = [sys.executable, "-m", "earmark.cli.run_index", "--dir", str(self.data)]
        else:
            cmd = [str(self.binary), "--dir", str(self.data)]
        cmd += ["--port", str(self.port)]
        self.proc = subprocess.Popen(cmd, stderr=subprocess.DEVNULL if self.binary else None)
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("GET", "/_health")
                if conn.getresponse().status == 200:
                    conn.close()
                    return time.perf_counter() - start
            except OSError:
                time.sleep(0.01)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def _conn(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)

    def _call(
        self, method: str, path: str, body: Any, conn: http.client.HTTPConnection | None = None
    ) -> Any:
        c = conn or self._conn()
        data = None if body is None else msgpack.packb(body)
        c.request(method, path, body=data, headers={"Content-Type": "application/vnd.msgpack"})
        r = c.getresponse()
        payload = r.read()
        if r.status != 200:
            raise RuntimeError(f"{method} {path}: {r.status} {payload!r}")
        if conn is None:
            c.close()
        return msgpack.unpackb(payload) if payload else None

    def ingest(self, docs: np.ndarray) -> float:
        bodies = [
            msgpack.packb(
                {
                    "c": [
                        {"i": {"i": b + i + 1, "h": row.tolist()}}
                        for i, row in enumerate(docs[b : b + BATCH])
                    ]
                }
            )
            for b in range(0, docs.shape[0], BATCH)
        ]
        conn = self._conn()
        headers = {"Content-Type": "application/vnd.msgpack"}
        start = time.perf_counter()
        for body in bodies:
            conn.request("POST", "/bench/_update", body=body, headers=headers)
            r = conn.getresponse()
            r.read()
            assert r.status == 200
        elapsed = time.perf_counter() - start
        conn.close()
        return elapsed

    def settle(self) -> int:
        conn = self._conn()
        last, stable_since = -1, time.monotonic()
        while True:
            n = self._call("GET", "/bench", None, conn)["s"]["num_segments"]
            if n != last:
                last, stable_since = n, time.monotonic()
            elif time.monotonic() - stable_since > SETTLE_S:
                conn.close()
                return int(n)
            time.sleep(0.5)

    def searcher(self) -> Callable[[np.ndarray], list[tuple[int, int]]]:
        conn = self._conn()
        headers = {"Content-Type": "application/vnd.msgpack"}

        def run(q: np.ndarray) -> list[tuple[int, int]]:
            conn.request(
                "POST",
                "/bench/_search",
                body=msgpack.packb({"q": q.tolist(), "l": 10}),
                headers=headers,
            )
            r = conn.getresponse()
            payload = msgpack.unpackb(r.read())
            return [(x["i"], x["s"]) for x in payload["r"]]

        return run

    def restart(self) -> float:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(60)
        return self._start()

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(60)


def run_searches(
    driver: InProc | Http, picks: np.ndarray, queries: np.ndarray, threads: int
) -> dict[str, float]:
    latencies: list[list[float]] = [[] for _ in range(threads)]
    top1 = [0] * threads

    def worker(k: int) -> None:
        search = driver.searcher()
        for i in range(k, queries.shape[0], threads):
            t0 = time.perf_counter()
            res = search(queries[i])
            latencies[k].append(time.perf_counter() - t0)
            top1[k] += bool(res) and res[0][0] == int(picks[i])

    start = time.perf_counter()
    pool = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    wall = time.perf_counter() - start
    flat = [x for lat in latencies for x in lat]
    return {
        "p50_ms": pct(flat, 50),
        "p90_ms": pct(flat, 90),
        "p99_ms": pct(flat, 99),
        "mean_ms": statistics.fmean(flat) * 1000,
        "searches_per_s": len(flat) / wall,
        "top1": sum(top1) / len(flat),
    }


# The reference's figures on this machine when its binary is not at hand: RSS after ingest and
# searches at 100k documents (90-107 MiB) and after a restart on the same data
# (../shared/reference/acoustid-index.md, "Measured here").
RECORDED_REFERENCE = {"docs": 100_000, "rss_mib": 100.0, "rss_mib_after_restart": 59.0}


def bench_one(
    driver: InProc | Http, docs: np.ndarray, picks: np.ndarray, queries: np.ndarray, data: Path
) -> dict[str, Any]:
    """Ingest, settle, search (1 and 4 connections), restart, search again; memory throughout."""
    empty = memory_mib(driver.pid)
    ingest_s = driver.ingest(docs)
    rss_after_ingest = rss_mib(driver.pid)
    segments = driver.settle()
    cpu0 = cpu_s(driver.pid)
    one = run_searches(driver, picks, queries, 1)
    one["server_cpu_ms_per_search"] = (cpu_s(driver.pid) - cpu0) * 1000 / queries.shape[0]
    four = run_searches(driver, picks, queries, 4)
    mem = memory_mib(driver.pid)
    on_disk = disk_bytes(data)
    seg_bytes = disk_bytes(data, ".seg")
    reopen_s = driver.restart()
    after = run_searches(driver, picks, queries[:200], 1)
    mem_restart = memory_mib(driver.pid)
    n = docs.shape[0]
    postings = n * TERMS_PER_DOC

    def per_posting(m: dict[str, float], key: str) -> float:
        return round((m[key] - empty[key]) * 2**20 / postings, 2)

    return {
        "docs": n,
        "inserts_per_s": round(n / ingest_s),
        "segments_after_settle": segments,
        "search_1conn": {k: round(v, 3) for k, v in one.items()},
        "search_4conn": {k: round(v, 3) for k, v in four.items()},
        "rss_mib_empty": round(empty["rss"], 1),
        "anon_mib_empty": round(empty["anon"], 1),
        "rss_mib_after_ingest": round(rss_after_ingest, 1),
        "rss_mib": round(mem["rss"], 1),
        "anon_mib": round(mem["anon"], 1),
        "file_mib": round(mem["file"], 1),
        "ram_bytes_per_posting": per_posting(mem, "rss"),
        "disk_mib": round(on_disk / 2**20, 1),
        "segment_bytes_per_posting": round(seg_bytes / postings, 2),
        "disk_bytes_per_posting": round(on_disk / postings, 2),
        "reopen_s": round(reopen_s, 2),
        "after_restart_p50_ms": round(after["p50_ms"], 3),
        "rss_mib_after_restart": round(mem_restart["rss"], 1),
        "anon_mib_after_restart": round(mem_restart["anon"], 1),
        "ram_bytes_per_posting_after_restart": per_posting(mem_restart, "rss"),
    }


def reference_memory(
    binary: Path | None, docs: np.ndarray, picks: np.ndarray, q: np.ndarray
) -> str:
    """The reference's RSS on the same data, measured now when its binary is given, else the
    recorded figure (only comparable at 100k documents)."""
    if binary is not None:
        tmp = Path(tempfile.mkdtemp(prefix="earmark-bench-ref-"))
        ref = Http(tmp / "data", binary)
        try:
            r = bench_one(ref, docs, picks, q, tmp / "data")
        finally:
            ref.close()
            shutil.rmtree(tmp, ignore_errors=True)
        return (
            f"{r['rss_mib']} MiB (anon {r['anon_mib']}), {r['rss_mib_after_restart']} MiB "
            f"after restart, {r['ram_bytes_per_posting']} B/posting; search p50 "
            f"{r['search_1conn']['p50_ms']} ms (measured in this run: {binary})"
        )
    if docs.shape[0] != RECORDED_REFERENCE["docs"]:
        return "not measured (no --reference binary; the recorded figure is for 100k documents)"
    return (
        f"~{RECORDED_REFERENCE['rss_mib']:.0f} MiB after ingest and searches, "
        f"{RECORDED_REFERENCE['rss_mib_after_restart']:.0f} MiB after restart "
        "(recorded figure, no --reference binary given: not measured in this run)"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--docs", type=int, default=100_000)
    ap.add_argument("--mode", choices=["inproc", "http"], default="http")
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--dir", type=Path, default=None, help="data dir (default: a temp dir)")
    ap.add_argument(
        "--reference",
        type=Path,
        default=os.environ.get("EARMARK_BENCH_FPINDEX") or None,
        help="the reference's fpindex binary, run on the same data (default: "
        "$EARMARK_BENCH_FPINDEX; without it the recorded figure is printed)",
    )
    ap.add_argument("--json", action="store_true", help="print one JSON line")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="earmark-bench-")) if args.dir is None else args.dir
    data = tmp / "data"
    t0 = time.perf_counter()
    docs = generate_docs(args.docs)
    picks, queries = make_queries(docs, args.queries)
    gen_s = time.perf_counter() - t0
    driver: InProc | Http = InProc(data) if args.mode == "inproc" else Http(data)
    try:
        result: dict[str, Any] = {"mode": args.mode, "generate_s": round(gen_s, 2)}
        result |= bench_one(driver, docs, picks, queries, data)
    finally:
        driver.close()
    if args.dir is None:
        shutil.rmtree(tmp, ignore_errors=True)
    if args.mode == "http":
        result["reference_rss"] = reference_memory(args.reference, docs, picks, queries)
    if args.json:
        print(json.dumps(result))
    else:
        for k, v in result.items():
            print(f"{k:36} {v}")


if __name__ == "__main__":
    main()
