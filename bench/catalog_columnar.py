"""Benchmark of the catalog's two backends: the mirror (SQL) and its Parquet export (DuckDB).

    .venv/bin/python bench/catalog_columnar.py [--database-url URL] [--recordings 20000]
        [--requests 300]

1. The mirror: ``--database-url`` (SQLite or PostgreSQL, e.g. the 1M-recording mirror of
   bench/catalog_mirror.py; its search index is built when missing), or by default a fresh
   SQLite file with mbdata's sample plus ``--recordings`` synthetic recordings.
2. ``earmark catalog export-parquet`` of it into a temporary directory; the size on disk of
   both (the SQLite file, or the mirror's tables on PostgreSQL, search index included; the
   Parquet directory).
3. The catalog app over each backend answers through httpx's ASGI transport in this process
   (no socket): ``--requests`` each of ``/lookup/isrc/{isrc}``, ``/lookup/album/{id}/tracks``,
   ``/search/track`` (one or two words of a random track title) and a 400-id
   ``/batch/lookup`` (80 ids of each kind), ids drawn at random from the mirror, after a
   warm-up; p50 and p99 latency in ms.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import platform
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import pipeline  # noqa: E402  (bench/pipeline.py: percentile)

BATCH_PER_KIND = 80


def make_mirror(workdir: Path, recordings: int) -> str:
    from earmark.musicbrainz import sample, synthetic
    from earmark.musicbrainz.schema import MusicBrainzDatabase

    url = f"sqlite:///{workdir / 'musicbrainz.db'}"
    mirror = MusicBrainzDatabase.from_url(url)
    mirror.create_schema()
    with mirror.write() as conn:
        sample.load_sample(conn)
    with mirror.write() as conn:
        synthetic.generate(conn, recordings, 42)
    mirror.analyze()
    mirror.dispose()
    return url


def mirror_size(mirror: Any) -> int:
    """Bytes of the mirror on disk: the SQLite file, or the schema's relations."""
    engine = mirror.engine
    if engine.dialect.name == "sqlite":
        path = Path(str(engine.url.database))
        wal = path.with_name(path.name + "-wal")
        return path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)
    with engine.connect() as conn:
        found = conn.execute(
            sa.text(
                "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname = :schema AND c.relkind IN ('r', 'm')"
            ),
            {"schema": mirror.schema_name},
        ).scalar_one()
    return int(found)


def samples(mirror: Any, count: int, seed: int) -> dict[str, list[str]]:
    """Random ISRCs, release, track, recording and artist MBIDs, track titles."""
    from earmark.musicbrainz.schema import execute, tables

    mb = tables()
    rng = random.Random(seed)
    found: dict[str, list[str]] = {}
    with mirror.read() as conn:
        for name, column, table in (
            ("isrcs", mb.isrc.c.isrc, mb.isrc),
            ("albums", mb.release.c.gid, mb.release),
            ("tracks", mb.track.c.gid, mb.track),
            ("recordings", mb.recording.c.gid, mb.recording),
            ("artists", mb.artist.c.gid, mb.artist),
            ("titles", mb.track.c.name, mb.track),
        ):
            low, high = execute(
                conn, sa.select(sa.func.min(table.c.id), sa.func.max(table.c.id))
            ).one()
            # Ids have gaps (mbdata's sample sits far above the synthetic rows): the next row
            # at or after a random id, by index.
            statement = (
                sa.select(column)
                .where(table.c.id >= sa.bindparam("start"))
                .order_by(table.c.id)
                .limit(1)
            )
            values = set()
            for _ in range(count):
                start = rng.randint(int(low), int(high))
                values.add(str(execute(conn, statement, {"start": start}).scalar_one()).strip())
            found[name] = sorted(values)
    return found


def queries(titles: list[str], seed: int) -> list[str]:
    from earmark.musicbrainz.catalog_search import terms

    rng = random.Random(seed)
    found = []
    for title in titles:
        words = [w for w in terms(title) if len(w) >= 2]
        if words:
            start = rng.randrange(len(words))
            found.append(" ".join(words[start : start + rng.choice((1, 2))]))
    return found


async def measure(app: Any, requests: list[tuple[str, str, Any]]) -> dict[str, list[float]]:
    import httpx

    times: dict[str, list[float]] = {}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://catalog") as client:
        for warm_up in (True, False):
            for name, path, payload in requests[: 20 if warm_up else None]:
                started = time.perf_counter()
                if name == "batch":
                    answer = await client.post(path, json=payload)
                else:
                    answer = await client.get(path, params=payload)
                elapsed = (time.perf_counter() - started) * 1000
                if answer.status_code != 200:
                    raise SystemExit(f"{path}: {answer.status_code} {answer.text[:200]}")
                if not warm_up:
                    times.setdefault(name, []).append(elapsed)
    return times


def build_requests(found: dict[str, list[str]], count: int, seed: int) -> list[Any]:
    rng = random.Random(seed)
    searches = queries(found["titles"], seed)
    requests: list[tuple[str, str, Any]] = []
    for n in range(count):
        requests.append(("isrc", f"/lookup/isrc/{found['isrcs'][n % len(found['isrcs'])]}", None))
        album = found["albums"][n % len(found["albums"])]
        requests.append(("album tracks", f"/lookup/album/{album}/tracks", None))
        requests.append(("search/track", "/search/track", {"q": searches[n % len(searches)]}))
        body = {
            kind: rng.sample(found[kind], min(BATCH_PER_KIND, len(found[kind])))
            for kind in ("tracks", "recordings", "albums", "artists", "isrcs")
        }
        requests.append(("batch", "/batch/lookup", body))
    rng.shuffle(requests)
    return requests


def run_backend(settings: Any, mirror: Any, requests: list[Any]) -> dict[str, list[float]]:
    from earmark.app_catalog import catalog_services, key_cache
    from earmark.catalog.app import create_catalog_app
    from earmark.db.engine import Databases

    dbs = Databases.from_settings(settings)
    services = catalog_services(settings, mirror=mirror, keys=key_cache(settings, dbs))
    try:
        app = create_catalog_app(services, own_lifespan=False)
        return asyncio.run(measure(app, requests))
    finally:
        services.threads.close(5.0)
        services.store.close()
        dbs.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default="", help="the mirror (default: generated)")
    parser.add_argument("--schema", default="musicbrainz", help="its schema on PostgreSQL")
    parser.add_argument("--recordings", type=int, default=20_000)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    from earmark.musicbrainz.catalog_search import build_index, index_ready
    from earmark.musicbrainz.columnar import export
    from earmark.musicbrainz.schema import MusicBrainzDatabase
    from earmark.settings import Secret, Settings

    with tempfile.TemporaryDirectory(prefix="earmark-columnar-") as temp:
        workdir = Path(temp)
        started = time.perf_counter()
        url = args.database_url or make_mirror(workdir, args.recordings)
        made = time.perf_counter() - started
        mirror = MusicBrainzDatabase.from_url(url, args.schema)
        with mirror.read() as conn:
            ready = index_ready(conn)
        if not ready:
            build_index(mirror)
        started = time.perf_counter()
        report = export(mirror, workdir / "parquet")
        exported = time.perf_counter() - started
        sql_bytes = mirror_size(mirror)
        found = samples(mirror, args.requests, args.seed)
        requests = build_requests(found, args.requests, args.seed)
        base = Settings(
            data_dir=workdir / "data",
            redis_url=Secret(""),
            catalog_anonymous_rate=1e9,
            rate_limit_ip=0.0,
            rate_limit_global=0.0,
        )
        (workdir / "data").mkdir()
        results = {}
        for backend in ("sql", "duckdb"):
            settings = dataclasses.replace(
                base, catalog_backend=backend, catalog_parquet_dir=str(report.directory)
            )
            results[backend] = run_backend(settings, mirror, requests)
        mirror.dispose()

    print(f"# catalog backends ({platform.machine()}, Python {platform.python_version()})")
    print(f"mirror: {url if args.database_url else f'generated, {args.recordings} recordings'}")
    if not args.database_url:
        print(f"generated in {made:.1f} s")
    print(f"rows exported: track {report.rows['track']}, recording {report.rows['recording']}")
    print(f"export-parquet: {exported:.1f} s")
    kind = "SQLite file" if url.startswith("sqlite") else "PostgreSQL relations"
    print(f"size on disk: {kind} {sql_bytes / 1e6:.1f} MB, Parquet {report.bytes / 1e6:.1f} MB")
    print(f"({report.bytes / sql_bytes:.2f}x)")
    print()
    print("| request | sql p50 | sql p99 | duckdb p50 | duckdb p99 | (ms, in-process) |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name in ("isrc", "album tracks", "search/track", "batch"):
        cells = []
        for backend in ("sql", "duckdb"):
            values = results[backend][name]
            cells += [f"{pipeline.percentile(values, 0.5):.2f}"]
            cells += [f"{pipeline.percentile(values, 0.99):.2f}"]
        print(f"| {name} | {' | '.join(cells)} | n={len(results['sql'][name])} |")


if __name__ == "__main__":
    main()
