"""Benchmark of the web service: `/v2/lookup?meta=recordings releasegroups` over HTTP.

    .venv/bin/python bench/api.py --setup allinone   --catalogue 100000
    .venv/bin/python bench/api.py --setup production --catalogue 100000

1. A catalogue is written straight into fresh databases: the dev corpus's 38 real fingerprints
   plus synthetic ones (bench/pipeline.py), one track each, every track linked to a recording
   of a MusicBrainz subset (mbdata's sample plus synthetic recordings with releases and release
   groups), so each hit costs the full metadata lookup. Both are then analyzed (planner
   statistics), as a deployed database is.
2. The service under test runs as real processes:
   * ``allinone``: ``earmark serve`` over a SQLite data directory (index engine in process);
   * ``production``: ``earmark run api --workers 2`` on PostgreSQL with Redis counters and a
     separate ``earmark run index`` server.
   Rate limits are off (the benchmark measures the service, not the limiter).
   The service runs twice on the same data: with the per-process MusicBrainz metadata cache
   (the default, ``musicbrainz_cache_ttl``) and without it (every hit runs the full metadata
   lookup on the mirror). The catalogue links its tracks to a few thousand recordings, so with
   the cache nearly every lookup finds its recording cached: that figure is the best case of
   a popular catalogue, the figure without the cache its worst case.
3. A load generator (this process: asyncio, raw HTTP/1.1 keep-alive, pre-built form bodies)
   keeps ``--concurrency`` lookups in flight for ``--seconds``; queries are the dev corpus's
   distorted re-encodings and catalogue fingerprints with 2 % of their bits flipped.
   It reports lookups/s, p50/p99 latency and the share of lookups that found a track, for
   each of ``--repeat`` runs (each on a freshly started service) and their median, and the
   CPU time per lookup by process (API workers, index server, PostgreSQL backends of the
   benchmark's database, the load generator), read from /proc: on shared cores the CPU per
   lookup is the steadier figure.
4. ``--baseline DIR``: the service of another checkout (its ``.venv``, e.g. the previous
   release's code) runs on the same data right after each run of this one (paired runs, the
   same minutes; which goes first turns from run to run), and its figures are reported beside
   this code's. ``--variant NAME:VAR=VALUE[,...]``: this code again with other settings.
   ``--profile DIR``: every process of the service writes a cProfile of all its threads to
   ``DIR/<pid>.prof`` when it stops (``bench/profile_hook``; read with ``python -m pstats``).

The load generator shares the machine's CPUs with the service; the figures are a floor.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import numpy as np
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import pipeline  # noqa: E402  (bench/pipeline.py: catalogue generators)
import proc_cpu  # noqa: E402  (bench/proc_cpu.py: CPU by process)

EARMARK = str(Path(sys.executable).with_name("earmark"))
META = "recordings releasegroups"
MB_SYNTHETIC = 2000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(port: int, path: str, proc: subprocess.Popen[bytes], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"service exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
                if s.recv(64).startswith(b"HTTP/1.1 200"):
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"no answer on port {port} after {timeout} s")


def store_catalogue(dbs: Any, catalogue: list[np.ndarray], mbids: list[str]) -> None:
    """Tracks, fingerprints and one enabled MBID link per track, in one transaction."""
    from earmark.db import tables
    from earmark.db.engine import write_transaction

    with write_transaction(dbs.fingerprint) as conn:
        conn.execute(sa.insert(tables.track), [{"gid": uuid.uuid4()} for _ in catalogue])
        track_ids = (
            conn.execute(sa.select(tables.track.c.id).order_by(tables.track.c.id)).scalars().all()
        )
        batch = 5000
        for start in range(0, len(catalogue), batch):
            rows = list(
                zip(catalogue[start : start + batch], track_ids[start : start + batch], strict=True)
            )
            conn.execute(
                sa.insert(tables.fingerprint),
                [
                    {"fingerprint": items, "length": 120, "track_id": tid, "submission_count": 1}
                    for items, tid in rows
                ],
            )
            conn.execute(
                sa.insert(tables.track_mbid),
                [
                    {
                        "track_id": tid,
                        "mbid": uuid.UUID(mbids[(start + i) % len(mbids)]),
                        "submission_count": 1,
                    }
                    for i, (_, tid) in enumerate(rows)
                ],
            )


def fill_mirror(url: str, schema: str) -> list[str]:
    """mbdata's sample plus synthetic recordings; the MBIDs of recordings on releases."""
    from earmark.musicbrainz import sample, synthetic
    from earmark.musicbrainz.schema import MusicBrainzDatabase

    mirror = MusicBrainzDatabase.from_url(url, schema)
    try:
        mirror.create_schema()
        with mirror.write() as conn:
            sample.load_sample(conn)
        with mirror.write() as conn:
            data = synthetic.generate(conn, MB_SYNTHETIC, 7)
        mirror.analyze()  # as `earmark mb load-sample` and `mb import` do after loading
    finally:
        mirror.dispose()
    return [m for m in data.recordings if m not in set(data.standalone)]


def analyze(dbs: Any) -> None:
    """Planner statistics for the catalogue just written, as autovacuum would gather on a
    deployed database (a test server may run with autovacuum off)."""
    with dbs.fingerprint.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("ANALYZE")


def application_key(dbs: Any) -> str:
    from earmark.db import accounts, applications

    with dbs.write() as conns:
        account = accounts.create(conns.app, name="bench")
        app = applications.create(conns.app, name="bench", version="1", account_id=account.id)
    return app.apikey


def build_bodies(
    key: str, catalogue: list[np.ndarray], rng: np.random.Generator, count: int
) -> list[bytes]:
    from earmark.chromaprint.codec import encode_fingerprint_base64

    real = pipeline.corpus()
    distorted = [v for n, v in real.items() if "#whole-" in n]
    queries = distorted + [
        pipeline.flip_bits(catalogue[i], 0.02, rng)
        for i in rng.integers(0, len(catalogue), size=count)
    ]
    return [
        urlencode(
            {
                "format": "json",
                "client": key,
                "duration": 120,
                "meta": META,
                "fingerprint": encode_fingerprint_base64(q),
            }
        ).encode()
        for q in queries
    ]


async def load(port: int, bodies: list[bytes], concurrency: int, seconds: float) -> dict[str, Any]:
    latencies: list[float] = []
    hits = 0
    errors = 0
    deadline = time.perf_counter() + seconds
    counter = iter(range(10**12))

    async def worker() -> None:
        nonlocal hits, errors
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while time.perf_counter() < deadline:
                body = bodies[next(counter) % len(bodies)]
                request = (
                    b"POST /v2/lookup HTTP/1.1\r\nHost: bench\r\n"
                    b"Content-Type: application/x-www-form-urlencoded\r\n"
                    b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body
                )
                t0 = time.perf_counter()
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                payload = await reader.readexactly(length)
                latencies.append((time.perf_counter() - t0) * 1000)
                if not head.startswith(b"HTTP/1.1 200"):
                    errors += 1
                elif b'"recordings"' in payload:
                    hits += 1
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    return {
        "lookups": len(latencies),
        "per_second": len(latencies) / elapsed,
        "p50_ms": statistics.median(latencies),
        "p99_ms": pipeline.percentile(latencies, 0.99),
        "with_metadata": hits / max(1, len(latencies)),
        "errors": errors,
    }


def settle(client: Any, name: str, quiet: float = 15.0, longest: float = 180.0) -> None:
    """Wait for the index server to finish merging the segments of the rebuild (it merges when
    writes stop): a deployed index is settled, and a merge would compete with the load."""
    deadline = time.monotonic() + longest
    last, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        segments = client.get_index(name).stats.num_segments
        if segments != last:
            last, since = segments, time.monotonic()
        elif segments <= 1 or time.monotonic() - since >= quiet:
            return
        time.sleep(1.0)


def start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        args, env={**os.environ, **env}, stdout=log.open("wb"), stderr=subprocess.STDOUT
    )


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


PROFILE_HOOK = ROOT / "bench" / "profile_hook"


def measure(
    earmark: str,
    variant: dict[str, str],
    service_args: list[str],
    env: dict[str, str],
    mode: str,
    bodies: list[bytes],
    args: argparse.Namespace,
    work: Path,
    procs: list[subprocess.Popen[bytes]],
) -> dict[str, Any]:
    """One run on a freshly started service (its caches cold but for the warm-up)."""
    port = free_port()
    extra = {**variant} if mode == "on" else {**variant, "EARMARK_MUSICBRAINZ_CACHE_TTL": "0"}
    if args.profile:
        extra.update(EARMARK_BENCH_PROFILE_DIR=str(args.profile), PYTHONPATH=str(PROFILE_HOOK))
    service = start(
        [earmark, *service_args, "--port", str(port)],
        {**env, **extra},
        work / f"service-cache-{mode}.log",
    )
    procs.append(service)
    try:
        wait_http(port, "/_health", service)
        # Warm-up, in rounds of new connections: /_health answers once the first worker
        # listens, and connections opened before the others listen stay there.
        for _ in range(3):
            asyncio.run(load(port, bodies[:200], args.concurrency, 2.0))
        readings = proc_cpu.Readings(cpu_groups(service, env, procs))
        readings.start()
        result = asyncio.run(load(port, bodies, args.concurrency, args.seconds))
        spent = readings.stop(cpu_groups(service, env, procs))
        result["cpu_ms"] = {k: v * 1000 / max(1, result["lookups"]) for k, v in spent.items()}
        return result
    finally:
        stop(service)
        procs.remove(service)


def cpu_groups(
    service: subprocess.Popen[bytes], env: dict[str, str], procs: list[subprocess.Popen[bytes]]
) -> dict[str, list[int]]:
    groups = {"service": proc_cpu.tree(service.pid)}
    if "EARMARK_INDEX_URL" in env:
        groups["index server"] = [procs[0].pid]
        groups["PostgreSQL"] = proc_cpu.backends(env["EARMARK_DATABASE_URL"])
    return groups


def parse_variant(text: str) -> tuple[str, str, dict[str, str]]:
    name, _, assignments = text.partition(":")
    settings = dict(item.split("=", 1) for item in assignments.split(",") if item)
    return name, EARMARK, settings


def report(label: str, run: str, result: dict[str, Any]) -> None:
    cpu = ", ".join(f"{name} {ms:.2f}" for name, ms in result["cpu_ms"].items())
    print(
        f"/v2/lookup ({label}, {run}): {result['per_second']:.0f} lookups/s, "
        f"p50 {result['p50_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms, "
        f"{result['with_metadata']:.0%} with recordings, {result['errors']} errors; "
        f"CPU ms per lookup: {cpu}"
    )


def summarise(label: str, runs: list[dict[str, Any]]) -> None:
    middle = sorted(runs, key=lambda r: r["per_second"])[len(runs) // 2]
    cpu = ", ".join(
        f"{name} {statistics.median(r['cpu_ms'][name] for r in runs):.2f}"
        for name in middle["cpu_ms"]
    )
    print(
        f"/v2/lookup ({label}): median of {len(runs)} runs "
        f"{middle['per_second']:.0f} lookups/s "
        f"(p50 {middle['p50_ms']:.1f} ms, p99 {middle['p99_ms']:.1f} ms); "
        f"range {min(r['per_second'] for r in runs):.0f}-"
        f"{max(r['per_second'] for r in runs):.0f}; median CPU ms per lookup: {cpu}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--setup", choices=["allinone", "production"], default="allinone")
    parser.add_argument("--catalogue", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2, help="API processes (production)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="measured runs per mode (the median is reported: shared cores vary run to run)",
    )
    parser.add_argument(
        "--baseline",
        type=Path,
        help="another checkout (with its .venv) whose service runs right after each run of "
        "this one, on the same data: the same-hour baseline",
    )
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="NAME:VAR=VALUE[,VAR=VALUE]",
        help="this code again with these settings (e.g. threads4:EARMARK_API_THREADS=4), "
        "paired with the other runs; may be repeated",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        help="a folder where every service process writes a cProfile of its threads",
    )
    parser.add_argument(
        "--metadata-cache",
        choices=["both", "on", "off"],
        default="both",
        help="run with the MusicBrainz metadata cache, without it, or both (default)",
    )
    args = parser.parse_args()

    from earmark import indexsync
    from earmark.db import migrate
    from earmark.db.engine import Databases
    from earmark.index.client import HttpIndexClient, LocalIndexClient
    from earmark.index.engine import MultiIndex

    rng = np.random.default_rng(args.seed)
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; "
        f"setup: {args.setup}; catalogue: {args.catalogue} tracks; meta={META!r}"
    )
    procs: list[subprocess.Popen[bytes]] = []
    cleanups: list[Callable[[], None]] = []
    with tempfile.TemporaryDirectory(prefix="earmark-bench-api-") as tmp:
        work = Path(tmp)
        data = work / "data"
        data.mkdir()
        env = {
            "EARMARK_DATA_DIR": str(data),
            "EARMARK_RATE_LIMIT_APPLICATION": "0",
            "EARMARK_RATE_LIMIT_GLOBAL": "0",
            "EARMARK_RATE_LIMIT_IP": "0",
            "EARMARK_SHUTDOWN_DELAY": "0",
            "EARMARK_LOG_LEVEL": "WARNING",
        }
        try:
            if args.setup == "allinone":
                url = f"sqlite:///{data / 'earmark.db'}"
                mb_url, mb_schema = f"sqlite:///{data / 'musicbrainz.db'}", "musicbrainz"
            else:
                url, drop = pipeline.fresh_database("postgresql", work)
                cleanups.append(drop)
                mb_url, mb_schema = url, "musicbrainz"
                env.update(
                    EARMARK_DATABASE_URL=url,
                    EARMARK_MUSICBRAINZ_DATABASE_URL=mb_url,
                    EARMARK_REDIS_URL=os.environ.get(
                        "EARMARK_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"
                    ),
                    EARMARK_REDIS_PREFIX=f"earmark-bench-{uuid.uuid4().hex[:8]}:",
                )
            t0 = time.perf_counter()
            dbs = Databases.single(url)
            migrate.upgrade(dbs)
            mbids = fill_mirror(mb_url, mb_schema)
            real = pipeline.corpus()
            originals = [v for n, v in real.items() if n.endswith("#120")]
            p = pipeline.bit_probabilities(originals)
            catalogue = originals + list(
                pipeline.synthetic_fingerprints(args.catalogue - len(originals), p, rng)
            )
            store_catalogue(dbs, catalogue, mbids)
            key = application_key(dbs)
            analyze(dbs)
            dbs.dispose()
            service_args: list[str]
            if args.setup == "allinone":
                engine = MultiIndex(data / "index")
                client = LocalIndexClient(engine)
                indexsync.rebuild(Databases.single(url), client, "main")
                client.close()
                engine.close()
                service_args = ["serve", "--data-dir", str(data)]
            else:
                index_port = free_port()
                procs.append(
                    start(
                        [
                            *(EARMARK, "run", "index", "--dir", str(work / "index")),
                            *("--port", str(index_port)),
                        ],
                        env,
                        work / "index.log",
                    )
                )
                wait_http(index_port, "/_health", procs[-1])
                index_url = f"http://127.0.0.1:{index_port}"
                client = HttpIndexClient(index_url)
                indexsync.rebuild(Databases.single(url), client, "main")
                settle(client, "main")
                client.close()
                env["EARMARK_INDEX_URL"] = index_url
                service_args = ["run", "api", "--workers", str(args.workers)]
            print(f"set-up: {time.perf_counter() - t0:.0f} s")
            bodies = build_bodies(key, catalogue, rng, 2000)
            modes = ["on", "off"] if args.metadata_cache == "both" else [args.metadata_cache]
            codes = [("this code", EARMARK, {}), *(parse_variant(v) for v in args.variant)]
            if args.baseline is not None:
                codes.append(("baseline", str(args.baseline / ".venv" / "bin" / "earmark"), {}))
            for mode in modes:
                runs: dict[str, list[dict[str, Any]]] = {name: [] for name, *_ in codes}
                for run in range(args.repeat):
                    # Paired: the others right after. The order turns from run to run: the
                    # first service of a round was seen to pay more CPU per lookup.
                    turn = run % len(codes)
                    for name, earmark, variant in codes[turn:] + codes[:turn]:
                        result = measure(
                            earmark, variant, service_args, env, mode, bodies, args, work, procs
                        )
                        runs[name].append(result)
                        report(
                            f"{args.setup}, {name}, metadata cache {mode}",
                            f"{args.concurrency} connections, {args.seconds:.0f} s, "
                            f"run {run + 1}/{args.repeat}, load average {os.getloadavg()[0]:.1f}",
                            result,
                        )
                for name, *_ in codes:
                    summarise(f"{args.setup}, {name}, metadata cache {mode}", runs[name])
        finally:
            for proc in reversed(procs):
                stop(proc)
            for cleanup in cleanups:
                cleanup()


if __name__ == "__main__":
    main()
