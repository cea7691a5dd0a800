"""Benchmark of the website: `/track/<gid>` and `/stats` rendered in process.

    .venv/bin/python bench/web.py [--db sqlite|postgresql] [--requests 300]

1. Fresh databases (SQLite file, or a fresh PostgreSQL database) migrated to head, and a
   MusicBrainz subset beside them (mbdata's sample plus synthetic recordings, in the same
   engine): one track with 50 fingerprints linked to 10 recordings of the subset (the issue's
   figure), 2,000 other tracks, a year of daily roll-ups (every figure of reference §13) and
   30 days of hourly lookup counts of 50 applications (36,000 `stats_lookups` rows).
2. The website app (`earmark.web.create_web_app`) answers through httpx's ASGI transport in
   this process: no socket, no server, so the figures are the page's own cost (routing,
   session, data functions, template, charts).
3. Each page is asked `--requests` times after a warm-up; p50 and p99 latency in ms. `/stats`
   is measured twice: as served (its data and charts reused for a minute, so nearly every
   request is a cache hit) and uncached (the cache emptied before each request: the cost of
   the first visitor of each minute). `/track/<gid>` is measured when the site has that route.

Targets (issue 15): `/track/<gid>` p50 <= 20 ms, `/stats` p50 <= 50 ms on this machine.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

import pipeline  # noqa: E402  (bench/pipeline.py: fresh_database, percentile)

TRACK_FINGERPRINTS = 50
TRACK_RECORDINGS = 10
OTHER_TRACKS = 2_000
APPLICATIONS = 50
DAYS_OF_FIGURES = 365
MB_SYNTHETIC = 200


def fill_mirror(url: str) -> tuple[Any, list[str]]:
    from earmark.musicbrainz import sample, synthetic
    from earmark.musicbrainz.schema import MusicBrainzDatabase

    mirror = MusicBrainzDatabase.from_url(url, "musicbrainz")
    mirror.create_schema()
    with mirror.write() as conn:
        sample.load_sample(conn)
    with mirror.write() as conn:
        data = synthetic.generate(conn, MB_SYNTHETIC, 7)
    mirror.analyze()
    standalone = set(data.standalone)
    return mirror, [m for m in data.recordings if m not in standalone]


def fill_data(dbs: Any, mbids: list[str], rng: np.random.Generator) -> uuid.UUID:
    """The measured track, the other tracks and the statistics; the track's gid."""
    import sqlalchemy as sa

    from earmark.db import accounts, applications, fingerprints, links, stats, tables, tracks

    today = dt.datetime.now(dt.UTC).date()
    with dbs.write() as conns:
        track = tracks.insert(conns.fingerprint)
        for n in range(TRACK_FINGERPRINTS):
            items = rng.integers(-(2**31), 2**31, size=950, dtype=np.int64).astype(np.int32)
            fingerprints.insert(
                conns.fingerprint,
                items=items,
                length=118 + n % 5,
                bitrate=None,
                format_id=None,
                track_id=track.id,
            )
        for mbid in mbids[:TRACK_RECORDINGS]:
            links.add_mbid(conns.fingerprint, track.id, uuid.UUID(mbid))
        conns.fingerprint.execute(
            sa.insert(tables.track), [{"gid": uuid.uuid4()} for _ in range(OTHER_TRACKS)]
        )
        owner = accounts.create(conns.app, name="bench")
        apps = [
            applications.create(conns.app, name=f"App {n}", version="1", account_id=owner.id)
            for n in range(APPLICATIONS)
        ]
        counts = [
            stats.LookupCount(app.id, today - dt.timedelta(days=d), hour, hits=h, misses=h // 4)
            for app in apps
            for d in range(30)
            for hour in range(24)
            for h in [int(rng.integers(0, 500))]
        ]
        stats.add_lookup_counts(conns.app, counts)
    with dbs.read() as conns:
        figures = stats.collect_figures(conns)
    with dbs.write() as conns:
        for back in range(DAYS_OF_FIGURES, -1, -1):
            grown = {name: value * (DAYS_OF_FIGURES - back + 1) for name, value in figures.items()}
            stats.store_figures(conns.app, today - dt.timedelta(days=back), grown)
    return track.gid


async def measure(
    client: Any, path: str, count: int, before: Callable[[], None] | None = None
) -> list[float]:
    for _ in range(min(20, count)):
        answer = await client.get(path)
        if answer.status_code != 200:
            raise SystemExit(f"{path}: HTTP {answer.status_code}")
    times = []
    for _ in range(count):
        if before is not None:
            before()
        start = time.perf_counter()
        answer = await client.get(path)
        times.append((time.perf_counter() - start) * 1000)
        assert answer.status_code == 200
    return times


def report(name: str, times: list[float], target: float | None) -> None:
    p50 = statistics.median(times)
    p99 = pipeline.percentile(times, 0.99)
    verdict = ""
    if target is not None:
        verdict = f" (target <= {target:g} ms: {'met' if p50 <= target else 'MISSED'})"
    print(f"{name:<34} p50 {p50:7.2f} ms   p99 {p99:7.2f} ms   n={len(times)}{verdict}")


async def run(services: Any, gid: uuid.UUID, requests: int) -> None:
    import httpx

    from earmark.web.app import create_web_app, page_routes

    app = create_web_app(services)
    has_track = any(getattr(r, "path", "").startswith("/track/") for r in page_routes())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        if has_track:
            report(
                f"/track/<gid> ({TRACK_FINGERPRINTS} fp, {TRACK_RECORDINGS} rec)",
                await measure(client, f"/track/{gid}", requests),
                20,
            )
        else:
            print("/track/<gid>                       not yet available (no such route)")
        report("/stats (as served, cached 60 s)", await measure(client, "/stats", requests), 50)
        report(
            "/stats (uncached)",
            await measure(client, "/stats", requests, before=services.cache.clear),
            50,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()

    from earmark.db import migrate
    from earmark.db.engine import Databases
    from earmark.ratelimit import MemoryWindow
    from earmark.web.services import WebConfig, WebServices

    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; "
        f"database: {args.db}; in process (httpx ASGI transport)"
    )
    with tempfile.TemporaryDirectory(prefix="earmark-bench-web-") as tmp:
        url, drop = pipeline.fresh_database(args.db, Path(tmp))
        mb_url = url if args.db == "postgresql" else f"sqlite:///{Path(tmp) / 'mb.db'}"
        dbs = Databases.single(url)
        mirror = None
        try:
            migrate.upgrade(dbs)
            mirror, mbids = fill_mirror(mb_url)
            gid = fill_data(dbs, mbids, np.random.default_rng(args.seed))
            services = WebServices(
                dbs=dbs,
                config=WebConfig(secret="bench-secret-0123456789"),
                login_window=MemoryWindow(),
                mirror=mirror,
            )
            asyncio.run(run(services, gid, args.requests))
        finally:
            if mirror is not None:
                mirror.dispose()
            dbs.dispose()
            if drop is not None:
                drop()


if __name__ == "__main__":
    main()
