"""Benchmark of the catalog API (issue 16) on a synthetic MusicBrainz mirror.

    .venv/bin/python bench/catalog.py --recordings 1000000            # SQLite and PostgreSQL
    .venv/bin/python bench/catalog.py --db sqlite --recordings 100000

For each database (SQLite file; a fresh PostgreSQL database on ``EARMARK_BENCH_POSTGRES_URL``,
dropped afterwards), on a mirror made by bench/catalog_mirror.py:

1. ``GET /lookup/isrc/{isrc}`` in process: the catalog app as ``earmark run catalog`` builds it
   (:func:`earmark.app_catalog.open_catalog`: keys, rate limits (unlimited here), ETag, the
   worker threads), requests through httpx's ASGI transport, one at a time → p50/p99;
2. the same over HTTP: a real ``earmark run catalog --workers 2`` (``--workers``) on 127.0.0.1 and
   ``--concurrency`` keep-alive connections from an asyncio load generator in this process
   (which shares the 2 cores with the server) for ``--seconds`` → requests/s, p50/p99;
3. ``GET /search/track?q=...&limit=10`` in process with queries a user would type (a title,
   artist + title word, a title typed part way without accents) → p50/p99;
4. ``POST /batch/lookup`` with 400 ids (80 each of tracks, recordings, albums, artists, ISRCs)
   in process → p50, the SQL statements it ran (counted with tests/support.py's
   ``statements_run``), and the same 400 ids answered the way the reference answers its batch
   (its per-id paths call the single-item lookup in a loop): one :func:`load` per id → time,
   statements, and the ratio.

Targets (issue 16, this 2-core machine): ISRC p50 ≤ 2 ms in process, ≥ 1,000 requests/s over
HTTP, search p50 ≤ 15 ms, a 400-item batch ≤ 60 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import catalog_mirror  # noqa: E402  (bench/catalog_mirror.py)

EARMARK = str(Path(sys.executable).with_name("earmark"))
TARGETS = {"isrc_p50": 2.0, "http_rps": 1000.0, "search_p50": 15.0, "batch_ms": 60.0}
BATCH_PER_LIST = 80


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def load_average() -> str:
    one, five, _ = os.getloadavg()
    return f"{one:.1f} / {five:.1f}"


@dataclass
class Result:
    db: str
    figures: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


# --- the app database (keys) and settings --------------------------------------------------


def app_database(workdir: Path) -> tuple[str, str]:
    """A migrated SQLite app database with one application: (URL, its key)."""
    from earmark.db import accounts, applications, migrate
    from earmark.db.engine import Databases

    url = f"sqlite:///{workdir / 'earmark.db'}"
    dbs = Databases.single(url)
    try:
        migrate.upgrade(dbs)
        with dbs.write() as conns:
            account = accounts.create(conns.app, name="bench")
            app = applications.create(conns.app, name="bench", version="1", account_id=account.id)
    finally:
        dbs.dispose()
    return url, app.apikey


def environment(mirror: catalog_mirror.Mirror, app_url: str) -> dict[str, str]:
    """The settings of the catalog under test: the mirror, the keys, no rate limit."""
    return {
        "EARMARK_DATABASE_URL": app_url,
        "EARMARK_MUSICBRAINZ_DATABASE_URL": mirror.url,
        "EARMARK_MUSICBRAINZ_SCHEMA": mirror.schema,
        "EARMARK_RATE_LIMIT_APPLICATION": "0",
        "EARMARK_RATE_LIMIT_GLOBAL": "0",
        "EARMARK_RATE_LIMIT_IP": "0",
    }


def settings_of(env: dict[str, str]) -> Any:
    from earmark.settings import load_settings

    return load_settings(environ=env).settings


# --- in process ----------------------------------------------------------------------------


async def timed(
    call: Callable[[], Awaitable[Any]],
    check: Callable[[Any], None],
    count: int,
    result: Result,
    name: str,
) -> list[float]:
    """Wall time of each of ``count`` calls (ms); ``result.figures[name + "_cpu"]``: this
    process's CPU time per call (the app, its threads and the client; not PostgreSQL's), the
    figure a loaded shared machine distorts least."""
    out = []
    cpu = 0.0
    for _ in range(count):
        started, started_cpu = time.perf_counter(), time.process_time()
        answer = await call()
        out.append((time.perf_counter() - started) * 1000)
        cpu += time.process_time() - started_cpu
        check(answer)
    result.figures[f"{name}_cpu"] = cpu * 1000 / count
    return out


def ok(answer: Any) -> None:
    if answer.status_code != 200:
        raise SystemExit(f"{answer.request.url}: {answer.status_code} {answer.text[:300]}")


async def in_process(
    mirror: catalog_mirror.Mirror, env: dict[str, str], key: str, result: Result, args: Any
) -> None:
    import httpx

    from earmark.app_catalog import open_catalog
    from earmark.musicbrainz.catalog import CatalogQuery, load

    runtime = open_catalog(settings_of(env))
    services = runtime.services
    headers = {"X-Api-Key": key}
    rng = random.Random(1)
    try:
        transport = httpx.ASGITransport(app=runtime.app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://bench", headers=headers
        ) as client:
            # Warm-up: the key cache, the engines' pools and statement caches.
            for code in mirror.isrcs[:100]:
                ok(await client.get(f"/lookup/isrc/{code}"))
            codes = iter(rng.choices(mirror.isrcs, k=args.requests))
            found = 0

            def check_isrc(answer: Any) -> None:
                nonlocal found
                ok(answer)
                found += bool(answer.json())

            isrc = await timed(
                lambda: client.get(f"/lookup/isrc/{next(codes)}"),
                check_isrc,
                args.requests,
                result,
                "isrc",
            )
            result.figures["isrc_p50"] = statistics.median(isrc)
            result.figures["isrc_p99"] = percentile(isrc, 0.99)
            result.notes.append(f"ISRCs with tracks: {found}/{args.requests}")

            queries = iter(rng.choices(mirror.queries, k=args.requests))
            hits: list[int] = []

            def check_search(answer: Any) -> None:
                ok(answer)
                hits.append(len(answer.json()["results"]))

            search = await timed(
                lambda: client.get("/search/track", params={"q": next(queries), "limit": "10"}),
                check_search,
                args.requests,
                result,
                "search",
            )
            result.figures["search_p50"] = statistics.median(search)
            result.figures["search_p99"] = percentile(search, 0.99)
            result.notes.append(f"searches with results: {sum(1 for h in hits if h)}/{len(hits)}")

            bodies = [batch_body(mirror, rng) for _ in range(args.batches)]
            batch_iter = iter(bodies)
            batch = await timed(
                lambda: client.post("/batch/lookup", json=next(batch_iter)),
                ok,
                len(bodies),
                result,
                "batch",
            )
            result.figures["batch_p50"] = statistics.median(batch)
            result.figures["batch_max"] = max(batch)
        # Statements of one batch through the app, then of the same ids one by one.
        from tests.support import statements_run

        engine = services.mirror.engine
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=runtime.app),
            base_url="http://bench",
            headers=headers,
        ) as client:
            with statements_run(engine, is_read) as seen:
                ok(await client.post("/batch/lookup", json=bodies[0]))
            result.figures["batch_statements"] = len(seen)

        def one_by_one(body: dict[str, list[str]]) -> float:
            started = time.perf_counter()
            with services.mirror.read() as conn:
                for kind, field_name in (
                    ("tracks", "tracks"),
                    ("recordings", "recordings"),
                    ("albums", "releases"),
                    ("artists", "artists"),
                    ("isrcs", "isrcs"),
                ):
                    for item in body[kind]:
                        load(conn, CatalogQuery(**{field_name: [item]}))
            return (time.perf_counter() - started) * 1000

        one_by_one(bodies[0])  # warm-up
        loops = [one_by_one(body) for body in bodies[: max(1, args.batches // 4)]]
        with statements_run(engine, is_read) as seen:
            one_by_one(bodies[0])
        result.figures["loop_p50"] = statistics.median(loops)
        result.figures["loop_statements"] = len(seen)
    finally:
        await services.limits.close()
        services.threads.close(30.0)
        runtime.close()


def is_read(statement: str) -> bool:
    """A statement reading the mirror (not SQLite's BEGIN)."""
    return statement.lstrip().upper().startswith(("SELECT", "WITH", "("))


def batch_body(mirror: catalog_mirror.Mirror, rng: random.Random) -> dict[str, list[str]]:
    """400 ids: 80 each of tracks, recordings, albums, artists and ISRCs (known ones)."""
    return {
        "tracks": rng.sample(mirror.tracks, BATCH_PER_LIST),
        "recordings": rng.sample(mirror.recording_ids, BATCH_PER_LIST),
        "albums": rng.sample(mirror.releases, BATCH_PER_LIST),
        "artists": rng.sample(mirror.artists, BATCH_PER_LIST),
        "isrcs": rng.sample(mirror.isrcs, BATCH_PER_LIST),
    }


# --- over HTTP -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def catalog_process(env: dict[str, str], log: Path, workers: int = 1) -> Iterator[tuple[int, int]]:
    """``earmark run catalog`` (``--workers``) on a free port, until it answers /health;
    stopped after."""
    port = free_port()
    proc = subprocess.Popen(
        [EARMARK, "run", "catalog", "--port", str(port), "--workers", str(workers)],
        env={**os.environ, **env},
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            if proc.poll() is not None:
                raise SystemExit(f"earmark run catalog exited with {proc.returncode}: see {log}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                    s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    if s.recv(64).startswith(b"HTTP/1.1 200"):
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit("earmark run catalog did not answer /health in 120 s")
            time.sleep(0.2)
        yield port, proc.pid
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


async def http_load(
    port: int, paths: list[str], key: str, concurrency: int, seconds: float
) -> dict[str, float]:
    """``concurrency`` keep-alive connections sending GETs of ``paths`` in turn."""
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    counter = iter(range(10**12))

    async def worker() -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while time.perf_counter() < deadline:
                path = paths[next(counter) % len(paths)]
                request = f"GET {path} HTTP/1.1\r\nHost: bench\r\nX-Api-Key: {key}\r\n\r\n"
                started = time.perf_counter()
                writer.write(request.encode())
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                await reader.readexactly(length)
                latencies.append((time.perf_counter() - started) * 1000)
                if not head.startswith(b"HTTP/1.1 200"):
                    errors += 1
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    return {
        "elapsed": elapsed,
        "rps": len(latencies) / elapsed,
        "p50": statistics.median(latencies),
        "p99": percentile(latencies, 0.99),
        "errors": errors,
    }


def over_http(
    mirror: catalog_mirror.Mirror,
    env: dict[str, str],
    key: str,
    result: Result,
    args: Any,
    workdir: Path,
) -> None:
    rng = random.Random(2)
    paths = [f"/lookup/isrc/{quote(code)}" for code in rng.choices(mirror.isrcs, k=5000)]
    log = workdir / f"catalog-{result.db}.log"
    with catalog_process(env, log, args.workers) as (port, pid):
        asyncio.run(http_load(port, paths[:500], key, args.concurrency, 3.0))  # warm-up
        load_before = load_average()
        cpu_before = cpu_seconds(pid)
        found = asyncio.run(http_load(port, paths, key, args.concurrency, args.seconds))
        served = found["rps"] * found["elapsed"]
        result.figures["http_cpu"] = (cpu_seconds(pid) - cpu_before) * 1000 / max(1.0, served)
    result.figures["http_rps"] = found["rps"]
    result.figures["http_p50"] = found["p50"]
    result.figures["http_p99"] = found["p99"]
    result.notes.append(
        f"HTTP: {args.workers} worker(s), {args.concurrency} connections, {args.seconds:.0f} s,"
        f" errors {found['errors']:.0f}, load average before {load_before}"
    )


def cpu_seconds(pid: int) -> float:
    """User + system CPU time so far of a process and its live children (the workers of
    ``--workers``; Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return own + sum(cpu_seconds(int(child)) for child in children)


# --- report ----------------------------------------------------------------------------------


ROWS = (
    ("`/lookup/isrc` p50 / p99 in process", "isrc_p50", "isrc_p99", "ms", "≤ 2 ms p50"),
    ("  CPU per request in this process", "isrc_cpu", None, "ms", ""),
    ("`/lookup/isrc` over HTTP: requests/s", "http_rps", None, "", "≥ 1,000/s"),
    ("`/lookup/isrc` over HTTP: p50 / p99", "http_p50", "http_p99", "ms", ""),
    ("  server CPU per request", "http_cpu", None, "ms", ""),
    ("`/search/track` p50 / p99 in process", "search_p50", "search_p99", "ms", "≤ 15 ms p50"),
    ("  CPU per request in this process", "search_cpu", None, "ms", ""),
    ("400-id `/batch/lookup` p50 / slowest", "batch_p50", "batch_max", "ms", "≤ 60 ms"),
    ("  CPU per batch in this process", "batch_cpu", None, "ms", ""),
    ("  its SQL statements", "batch_statements", None, "", "fixed"),
    ("same ids, one lookup per id (reference): ms", "loop_p50", None, "ms", ""),
    ("  its SQL statements", "loop_statements", None, "", ""),
)


def table(results: list[Result]) -> str:
    head = "| | " + " | ".join(r.db for r in results) + " | target |"
    lines = [head, "| --- |" + " --- |" * (len(results) + 1)]
    for label, first, second, unit, target in ROWS:
        cells = []
        for r in results:
            if first not in r.figures:
                cells.append("-")
                continue
            value = _fmt(r.figures[first])
            if second is not None:
                value += f" / {_fmt(r.figures[second])}"
            cells.append(value + (f" {unit}" if unit else ""))
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {target} |")
    ratios = []
    for r in results:
        if "loop_p50" in r.figures:
            ratios.append(f"{r.figures['loop_p50'] / r.figures['batch_p50']:.1f}x")
        else:
            ratios.append("-")
    lines.append("| batch vs one lookup per id: time ratio | " + " | ".join(ratios) + " | |")
    return "\n".join(lines)


def _fmt(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:.2f}" if value < 10 else f"{value:.1f}"


def verdicts(results: list[Result]) -> list[str]:
    out = []
    for r in results:
        f = r.figures
        checks = [
            ("isrc p50", f.get("isrc_p50"), TARGETS["isrc_p50"], True),
            ("HTTP req/s", f.get("http_rps"), TARGETS["http_rps"], False),
            ("search p50", f.get("search_p50"), TARGETS["search_p50"], True),
            ("batch p50", f.get("batch_p50"), TARGETS["batch_ms"], True),
        ]
        for name, value, target, lower in checks:
            if value is None:
                continue
            met = value <= target if lower else value >= target
            out.append(
                f"{r.db}: {name} {_fmt(value)} (target {_fmt(target)}): "
                + ("met" if met else "MISSED")
            )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--recordings", type=int, default=catalog_mirror.DEFAULT_RECORDINGS)
    parser.add_argument("--seed", type=int, default=catalog_mirror.DEFAULT_SEED)
    parser.add_argument("--requests", type=int, default=1000, help="in-process requests each")
    parser.add_argument("--batches", type=int, default=20, help="400-id batches")
    parser.add_argument("--concurrency", type=int, default=16, help="HTTP connections")
    parser.add_argument("--seconds", type=float, default=15.0, help="HTTP load duration")
    parser.add_argument("--no-http", action="store_true", help="skip the HTTP measurement")
    parser.add_argument("--workers", type=int, default=2, help="`run catalog` worker processes")
    args = parser.parse_args()
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; "
        f"Python {platform.python_version()}; load average {load_average()} (1 / 5 min)"
    )
    results = []
    with tempfile.TemporaryDirectory(prefix="earmark-bench-catalog-") as tmp:
        workdir = Path(tmp)
        app_url, key = app_database(workdir)
        for kind in kinds:
            with catalog_mirror.fresh_database(kind, workdir) as url:
                mirror = catalog_mirror.fill(url, args.recordings, args.seed)
                print(catalog_mirror.describe(mirror))
                result = Result("SQLite" if kind == "sqlite" else "PostgreSQL 15")
                env = environment(mirror, app_url)
                asyncio.run(in_process(mirror, env, key, result, args))
                if not args.no_http:
                    over_http(mirror, env, key, result, args, workdir)
                for note in result.notes:
                    print(f"  {note}")
                results.append(result)
    print(f"\n{args.recordings:,} recordings; load average after: {load_average()}\n")
    print(table(results))
    print()
    for line in verdicts(results):
        print(line)


if __name__ == "__main__":
    main()
