"""Benchmark of the data pipeline: lookup search latency and importer throughput.

    .venv/bin/python bench/pipeline.py --db sqlite
    .venv/bin/python bench/pipeline.py --db postgresql --catalogue 100000

1. A catalogue of fingerprints is written straight into a fresh database (SQLite file in a
   temporary directory, or a fresh PostgreSQL database) and indexed by an in-process index:
   the 38 real default fingerprints of the dev corpus plus synthetic ones (see
   `synthetic_fingerprints`).
2. Lookup search without HTTP: `Searcher.search` (index candidates, database rows, compare2)
   for the dev corpus's distorted re-encodings and for synthetic queries; p50/p99.
3. Importer: submissions (a third exact repeats of catalogue fingerprints, a third bit-flipped
   copies, a third new fingerprints; each with an MBID and user meta) are created, then one
   worker imports them until the queue is empty; on PostgreSQL a second round of new
   submissions is imported by two workers (two engines and table queues, each worker in its own
   thread of this process, as two importer processes would share the queue with SKIP LOCKED).
   Submissions per second, and the CPU seconds this process spent per submission (the wall
   figure depends on what else the machine runs; PostgreSQL's own CPU is not included).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
VECTORS = ROOT / "tests" / "data" / "vectors"  # carried in the repository
PG_ADMIN = os.environ.get(
    "EARMARK_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1/postgres"
)
ITEMS = 950  # a 120 s fingerprint
INDEX = "main"


def corpus() -> dict[str, np.ndarray]:
    data = json.loads((VECTORS / "dev-corpus-compare.json").read_text())
    return {
        name: np.array(fp["raw_unsigned"], dtype=np.uint32)
        for name, fp in data["fingerprints"].items()
    }


def bit_probabilities(real: list[np.ndarray]) -> np.ndarray:
    items = np.concatenate(real).astype(np.uint64)
    return np.array([((items >> np.uint64(b)) & np.uint64(1)).mean() for b in range(32)])


def synthetic_fingerprints(
    count: int, p: np.ndarray, rng: np.random.Generator, chunk: int = 10_000
) -> Iterator[np.ndarray]:
    """Fingerprint-like item arrays: a first item drawn with the real per-bit frequencies, then
    each item differs from the previous one in a few random bits (as real items do), so the
    query terms of different fingerprints rarely collide."""
    weights = (1 << np.arange(32, dtype=np.uint64)).astype(np.uint64)
    for begin in range(0, count, chunk):
        n = min(chunk, count - begin)
        first = ((rng.random((n, 32)) < p) * weights).sum(axis=1).astype(np.uint32)
        flips = np.zeros((n, ITEMS), dtype=np.uint32)
        for _ in range(4):
            bit = np.left_shift(np.uint32(1), rng.integers(0, 32, (n, ITEMS), dtype=np.uint32))
            flips |= np.where(rng.random((n, ITEMS)) < 0.7, bit, np.uint32(0)).astype(np.uint32)
        flips[:, 0] = first
        yield from np.bitwise_xor.accumulate(flips, axis=1)


def flip_bits(items: np.ndarray, rate: float, rng: np.random.Generator) -> np.ndarray:
    mask = rng.random((items.size, 32)) < rate
    flips = (mask * (1 << np.arange(32, dtype=np.uint64))).sum(axis=1).astype(np.uint32)
    return items ^ flips


def fresh_database(kind: str, workdir: Path) -> tuple[str, Any]:
    if kind == "sqlite":
        return f"sqlite:///{workdir / 'bench.db'}", None
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    name = f"earmark_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    url = sa.make_url(PG_ADMIN).set(database=name).render_as_string(hide_password=False)

    def drop() -> None:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.dispose()

    return url, drop


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--catalogue", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--submissions", type=int, default=1500)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()

    from earmark import indexsync
    from earmark.db import migrate, tables
    from earmark.db.engine import Databases, write_transaction
    from earmark.index.client import LocalIndexClient
    from earmark.index.engine import MultiIndex
    from earmark.search import Searcher

    rng = np.random.default_rng(args.seed)
    real = corpus()
    originals = {n: v for n, v in real.items() if n.endswith("#120")}
    distorted = {n: v for n, v in real.items() if "#whole-" in n}
    p = bit_probabilities(list(originals.values()))
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; "
        f"database: {args.db}; catalogue: {args.catalogue} fingerprints"
    )

    with tempfile.TemporaryDirectory(prefix="earmark-bench-") as tmp:
        workdir = Path(tmp)
        url, drop = fresh_database(args.db, workdir)
        dbs = Databases.single(url)
        engine = MultiIndex(workdir / "index")
        index = LocalIndexClient(engine)
        try:
            migrate.upgrade(dbs)
            started = time.perf_counter()
            catalogue: list[np.ndarray] = list(originals.values())
            catalogue += synthetic_fingerprints(args.catalogue - len(catalogue), p, rng)
            generated = time.perf_counter()
            with write_transaction(dbs.fingerprint) as conn:
                gids = [{"gid": uuid.uuid4()} for _ in catalogue]
                conn.execute(sa.insert(tables.track), gids)
                track_ids = (
                    conn.execute(sa.select(tables.track.c.id).order_by(tables.track.c.id))
                    .scalars()
                    .all()
                )
                batch = 5000
                for start in range(0, len(catalogue), batch):
                    conn.execute(
                        sa.insert(tables.fingerprint),
                        [
                            {
                                "fingerprint": items,
                                "length": 120,
                                "track_id": tid,
                                "submission_count": 1,
                            }
                            for items, tid in zip(
                                catalogue[start : start + batch],
                                track_ids[start : start + batch],
                                strict=True,
                            )
                        ],
                    )
            stored = time.perf_counter()
            indexed = indexsync.rebuild(dbs, index, INDEX)
            done = time.perf_counter()
            print(
                f"catalogue: generated in {generated - started:.1f} s, stored in "
                f"{stored - generated:.1f} s, {indexed} indexed in {done - stored:.1f} s"
            )

            searcher = Searcher(index, INDEX)
            queries = list(distorted.values())
            synthetic_queries = [
                flip_bits(catalogue[i], 0.02, rng)
                for i in rng.integers(0, len(catalogue), size=args.queries)
            ]
            with dbs.fingerprint.connect() as conn:
                for q in queries[:5]:
                    searcher.search(conn, q, 120)  # warm-up
                for label, qs in (
                    ("dev-corpus distorted", queries * max(1, args.queries // len(queries))),
                    ("synthetic 2 % bit errors", synthetic_queries),
                ):
                    times = []
                    found = 0
                    for q in qs:
                        t0 = time.perf_counter()
                        matches = searcher.search(conn, q, 120)
                        times.append((time.perf_counter() - t0) * 1000)
                        found += bool(matches)
                    p50, p99 = statistics.median(times), percentile(times, 0.99)
                    print(
                        f"lookup search ({label}, {len(qs)} queries): p50 {p50:.2f} ms, "
                        f"p99 {p99:.2f} ms, matched {found}/{len(qs)}"
                    )

            if args.submissions:
                run_importer_benchmark(url, index, catalogue, rng, args.submissions, 1)
                if args.db == "postgresql":
                    run_importer_processes(url, workdir, catalogue, rng, args.submissions)
        finally:
            index.close()
            engine.close()
            dbs.dispose()
            if drop is not None:
                drop()


def run_importer_benchmark(
    url: str,
    index: Any,
    catalogue: list[np.ndarray],
    rng: np.random.Generator,
    count: int,
    workers: int,
) -> None:
    from earmark.db.engine import Databases
    from earmark.importer.table_queue import TableQueue
    from earmark.importer.worker import ImporterStats, Worker
    from earmark.search import Searcher

    engines = [Databases.single(url) for _ in range(workers)]
    try:
        create_submissions(engines[0], catalogue, rng, count)
        searcher = Searcher(index, INDEX)
        pool = [Worker(d, searcher, TableQueue(d), min_idle=0.05, max_idle=0.05) for d in engines]
        stats: list[ImporterStats] = []

        def drain(worker: Worker) -> None:
            stats.append(asyncio.run(worker.drain(timeout=3600, wait=0.05)))

        cpu = time.process_time()
        started = time.perf_counter()
        threads = [threading.Thread(target=drain, args=(w,)) for w in pool]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
        cpu = time.process_time() - cpu
    finally:
        for d in engines:
            d.dispose()
    imported = sum(s.imported + s.skipped for s in stats)
    print(
        f"importer, {workers} worker{'s' if workers > 1 else ''}: {imported} submissions in "
        f"{elapsed:.1f} s = {imported / elapsed:.0f} submissions/s, "
        f"{cpu * 1000 / imported:.2f} ms CPU each ({[s.as_dict() for s in stats]})"
    )


def run_importer_processes(
    url: str, workdir: Path, catalogue: list[np.ndarray], rng: np.random.Generator, count: int
) -> None:
    """One, then two importer processes (bench/pipeline_worker.py) sharing the table queue and
    an index server (`earmark run index`), as deployed on PostgreSQL; fresh submissions each."""
    from earmark import indexsync
    from earmark.db.engine import Databases
    from earmark.index.client import HttpIndexClient

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    earmark = str(Path(sys.executable).parent / "earmark")
    server = subprocess.Popen(
        [earmark, "run", "index", "--dir", str(workdir / "index-server"), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    index_url = f"http://127.0.0.1:{port}"
    dbs = Databases.single(url)
    try:
        client = HttpIndexClient(index_url)
        for _ in range(600):
            try:
                client.index_exists(INDEX)
                break
            except Exception:
                time.sleep(0.2)
        indexsync.rebuild(dbs, client, INDEX)
        client.close()
        worker_script = Path(__file__).with_name("pipeline_worker.py")
        for processes in (1, 2):
            create_submissions(dbs, catalogue, rng, count)
            children = [
                subprocess.Popen(
                    [sys.executable, str(worker_script), url, index_url, INDEX],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    text=True,
                    env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
                )
                for _ in range(processes)
            ]
            for child in children:
                assert child.stdout is not None
                assert child.stdout.readline().strip() == "ready"
            started = time.perf_counter()
            for child in children:
                assert child.stdin is not None
                child.stdin.write("go\n")
                child.stdin.flush()
            results = [json.loads(child.communicate()[0]) for child in children]
            elapsed = time.perf_counter() - started
            handled = sum(r["imported"] + r["skipped"] for r in results)
            cpu = sum(r["cpu"] for r in results)
            print(
                f"importer, {processes} process{'es' if processes > 1 else ''} + index server: "
                f"{handled} submissions in {elapsed:.1f} s = {handled / elapsed:.0f} "
                f"submissions/s, {cpu * 1000 / handled:.2f} ms CPU each in the importers "
                f"({[{k: v for k, v in r.items() if v and k != 'cpu'} for r in results]})"
            )
    finally:
        server.terminate()
        server.wait(timeout=30)
        dbs.dispose()


def create_submissions(
    dbs: Any, catalogue: list[np.ndarray], rng: np.random.Generator, count: int
) -> None:
    """``count`` pending submissions: a third repeats, a third bit-flipped, a third new."""
    from earmark.db import accounts, applications, submissions
    from earmark.db.engine import write_transaction

    with write_transaction(dbs.app) as conn:
        name = f"bench-{uuid.uuid4().hex[:8]}"
        account = accounts.create(conn, name=name)
        app = applications.create(conn, name=name, version="1", account_id=account.id)
    picks = rng.integers(0, len(catalogue), size=count)
    fresh = iter(synthetic_fingerprints(count, np.full(32, 0.5), rng))
    with write_transaction(dbs.ingest) as conn:
        for n, pick in enumerate(picks):
            kind = n % 3
            if kind == 0:
                items = catalogue[pick]  # an exact repeat: the fingerprint is reused
            elif kind == 1:
                items = flip_bits(catalogue[pick], 0.03, rng)  # same recording, new encoding
            else:
                items = next(fresh)  # never seen: a new track
            submissions.create(
                conn,
                account_id=account.id,
                application_id=app.id,
                application_version="1.0",
                fingerprint=items,
                length=120,
                bitrate=192,
                format="MP3",
                meta={"track": f"Track {n}", "artist": "Bench Artist"},
                mbid=uuid.UUID(int=int(rng.integers(1, 2**62))),
                puid=None,
                foreignid=None,
            )


if __name__ == "__main__":
    main()
