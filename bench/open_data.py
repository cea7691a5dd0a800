"""Benchmark of `earmark data import` / `export`: a synthetic year shaped like AcoustID's data.

    .venv/bin/python bench/open_data.py --db sqlite --fingerprints 50000
    .venv/bin/python bench/open_data.py --db postgresql --fingerprints 50000
    .venv/bin/python bench/open_data.py --db postgresql        # the full year: 1M fingerprints

1. A year of daily files is written (plain JSON lines, gzip) with the proportions of the issue:
   per fingerprint (120 s, 950 items, synthetic but fingerprint-like) 0.6 tracks, 0.8 MBID
   links, 0.3 meta rows and track_meta links; 0.5 % of the tracks merged later, 1 % of the
   links disabled and re-enabled. Generating is not timed.
2. The year is imported into a fresh database: SQLite with the in-process index, or a fresh
   PostgreSQL database with an index server (`earmark run index`) over HTTP. Rows/s and
   fingerprints/s include reading the files and sending every fingerprint to the index.
3. The database and index size per million fingerprints, and the time of `export_days` of the
   same data.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import json
import os
import platform
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.index import Http  # noqa: E402 - after the path
from bench.pipeline import bit_probabilities, corpus, fresh_database, synthetic_fingerprints  # noqa: E402

START = dt.date(2023, 1, 1)
INDEX = "main"


def stamp(day: dt.date, second: int) -> str:
    moment = dt.datetime.combine(day, dt.time(), dt.UTC) + dt.timedelta(seconds=second % 86400)
    return moment.isoformat()


def write(root: Path, day: dt.date, stream: str, rows: list[dict[str, Any]]) -> None:
    path = root / f"{day:%Y}" / f"{day:%Y-%m}" / f"{day.isoformat()}-{stream}-update.jsonl.gz"
    path.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(path, "wt", compresslevel=1) as out:
        for row in rows:
            out.write(json.dumps(row, separators=(",", ":")) + "\n")


def generate(root: Path, fingerprints: int, days: int, rng: np.random.Generator) -> int:
    """Writes the year; returns the number of rows."""
    real = [v for n, v in corpus().items() if n.endswith("#120")]
    items = synthetic_fingerprints(fingerprints, bit_probabilities(real), rng)
    per_day = max(1, fingerprints // days)
    fp_id = track_id = link_id = meta_id = 0
    rows = 0
    merges: list[tuple[int, int]] = []
    merged = 0
    gids: dict[int, str] = {}
    for n in range(days):
        day = START + dt.timedelta(days=n)
        count = per_day if n < days - 1 else fingerprints - per_day * (days - 1)
        streams: dict[str, list[dict[str, Any]]] = {
            s: []
            for s in (
                "track",
                "fingerprint",
                "meta",
                "track_fingerprint",
                "track_mbid",
                "track_meta",
            )
        }
        day_tracks: list[int] = []
        for k in range(count):
            fp_id += 1
            when = stamp(day, k * 7)
            if not day_tracks or rng.random() < 0.6:
                track_id += 1
                day_tracks.append(track_id)
                gids[track_id] = str(uuid.UUID(int=int(rng.integers(1, 2**62))))
                streams["track"].append({"id": track_id, "gid": gids[track_id], "created": when})
            track = day_tracks[-1]
            signed = next(items).view(np.int32)
            streams["fingerprint"].append(
                {"id": fp_id, "fingerprint": signed.tolist(), "length": 120, "created": when}
            )
            streams["track_fingerprint"].append(
                {
                    "id": fp_id,
                    "track_id": track,
                    "fingerprint_id": fp_id,
                    "submission_count": 1,
                    "created": when,
                }
            )
            if rng.random() < 0.8:
                link_id += 1
                link: dict[str, Any] = {
                    "id": link_id,
                    "track_id": track,
                    "mbid": str(uuid.UUID(int=int(rng.integers(1, 2**62)))),
                    "submission_count": 1,
                    "created": when,
                }
                if rng.random() < 0.01:
                    link["disabled"] = True
                streams["track_mbid"].append(link)
            if rng.random() < 0.3:
                meta_id += 1
                streams["meta"].append(
                    {
                        "id": meta_id,
                        "track": f"Title {meta_id}",
                        "artist": f"Artist {meta_id % 997}",
                        "created": when,
                    }
                )
                streams["track_meta"].append(
                    {
                        "id": meta_id,
                        "track_id": track,
                        "meta_id": meta_id,
                        "submission_count": 1,
                        "created": when,
                    }
                )
        # Merges of tracks of earlier days arrive as track updates (0.5 % of the tracks).
        for old, new in merges:
            streams["track"].append(
                {
                    "id": old,
                    "gid": gids[old],
                    "new_id": new,
                    "created": stamp(day, 0),
                    "updated": stamp(day, 86399),
                }
            )
        merges = []
        while len(day_tracks) > 2 and (merged + len(merges)) * 200 < track_id:
            merges.append((day_tracks.pop(), day_tracks[0]))
        merged += len(merges)
        for stream, found in streams.items():
            write(root, day, stream, found)
            rows += len(found)
    return rows


def database_size(dbs: Any, url: str) -> int:
    if url.startswith("sqlite"):
        path = Path(sa.make_url(url).database or "")
        return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))
    with dbs.fingerprint.connect() as conn:
        query = sa.text("SELECT pg_database_size(current_database())")
        return int(conn.execute(query).scalar_one())


def size_of(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--fingerprints", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()

    from earmark.db import migrate
    from earmark.db.engine import Databases
    from earmark.index.client import HttpIndexClient, LocalIndexClient
    from earmark.index.engine import MultiIndex
    from earmark.indexsync import flush_outbox
    from earmark.opendata.export import export_days
    from earmark.opendata.importer import ImportOptions, import_days
    from earmark.opendata.source import DataDirectory

    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs (shared); "
        f"database: {args.db}; {args.fingerprints} fingerprints over {args.days} days"
    )
    with tempfile.TemporaryDirectory(prefix="earmark-bench-") as tmp:
        workdir = Path(tmp)
        started = time.perf_counter()
        rows = generate(
            workdir / "data", args.fingerprints, args.days, np.random.default_rng(args.seed)
        )
        print(
            f"generated {rows} rows ({size_of(workdir / 'data') / 2**20:.0f} MiB of gzip) "
            f"in {time.perf_counter() - started:.0f} s"
        )
        url, drop = fresh_database(args.db, workdir)
        dbs = Databases.single(url)
        server = Http(workdir / "index") if args.db == "postgresql" else None
        engine = None if server else MultiIndex(workdir / "index")
        client: Any = (
            HttpIndexClient(f"http://127.0.0.1:{server.port}")
            if server
            else LocalIndexClient(engine)
        )  # type: ignore[arg-type]
        try:
            migrate.upgrade(dbs)
            empty_bytes = database_size(dbs, url)  # the size of the schema alone
            started = time.perf_counter()
            report = import_days(
                dbs.fingerprint,
                DataDirectory(workdir / "data"),
                ImportOptions(),
                flush=lambda: flush_outbox(dbs, client, INDEX),
            )
            took = time.perf_counter() - started
            print(
                f"import: {report.days} days in {took:.1f} s: {report.rows() / took:.0f} rows/s, "
                f"{report.fingerprints_written / took:.0f} fingerprints/s "
                f"({report.fingerprints_written} fingerprints, {report.rows()} rows; "
                f"problems: {dict(report.problems) or 'none'})"
            )
            db_bytes = database_size(dbs, url) - empty_bytes
            index_bytes = size_of(workdir / "index")
            per_million = 1e6 / max(report.fingerprints_written, 1)
            print(
                "size per million fingerprints: "
                f"database {db_bytes * per_million / 2**30:.2f} GiB, "
                f"index {index_bytes * per_million / 2**30:.2f} GiB"
            )
            started = time.perf_counter()
            written = export_days(
                dbs.fingerprint, workdir / "export", START + dt.timedelta(days=args.days)
            )
            took = time.perf_counter() - started
            print(
                f"export: {len(written)} days in {took:.1f} s ({rows / took:.0f} rows/s), "
                f"{size_of(workdir / 'export') / 2**20:.0f} MiB"
            )
        finally:
            if server is not None and server.proc is not None:
                server.proc.terminate()
                server.proc.wait(30)
            if engine is not None:
                engine.close()
            dbs.dispose()
            if drop is not None:
                drop()


if __name__ == "__main__":
    main()
