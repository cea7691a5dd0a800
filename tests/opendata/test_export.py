"""`earmark data export`: the daily layout, determinism, and the round trip into a fresh
instance with identical lookup results."""

from __future__ import annotations

import datetime as dt
import gzip
import json
from pathlib import Path
from typing import Any

from earmark.db.engine import Databases
from earmark.opendata.export import export_days, export_full
from earmark.opendata.layout import STREAMS
from tests.api.harness import ApiHarness
from tests.opendata.scenario import PLAIN_DAY, UNSEPARATED_DAY, write_scenario
from tests.opendata.test_import import lookup, run
from tests.services import SqliteDatabases

TODAY = PLAIN_DAY + dt.timedelta(days=2)


def _fresh(sqlite_databases: SqliteDatabases, tmp_path: Path, name: str) -> ApiHarness:
    return ApiHarness(Databases.single(sqlite_databases.create()), tmp_path / name)


def test_round_trip_gives_identical_lookups(
    api: ApiHarness, tmp_path: Path, dev_corpus_vectors: Any, sqlite_databases: SqliteDatabases
) -> None:
    fp = write_scenario(tmp_path / "upstream", dev_corpus_vectors)
    run(api, tmp_path / "upstream")
    expected = {song: lookup(api, items) for song, items in fp.items()}

    out = tmp_path / "export"
    written = export_days(api.dbs.fingerprint, out, TODAY)
    assert written[0] == dt.date(2024, 12, 4)
    assert written[-1] == TODAY - dt.timedelta(days=1)
    before = {p: p.read_bytes() for p in out.rglob("*.gz")}
    assert len(before) == len(written) * len(STREAMS)
    # A finished day is never written again; a second export is the same, byte for byte.
    assert export_days(api.dbs.fingerprint, out, TODAY) == []
    assert {p: p.read_bytes() for p in out.rglob("*.gz")} == before
    again = tmp_path / "again"
    export_days(api.dbs.fingerprint, again, TODAY)
    assert {p.relative_to(again): p.read_bytes() for p in again.rglob("*.gz")} == {
        p.relative_to(out): data for p, data in before.items()
    }
    listing = json.loads((out / "2024" / "2024-12" / "index.json").read_text())
    assert {"name": "2024-12-05-track-update.jsonl.gz"} in [{"name": e["name"]} for e in listing]
    merged = _lines(out, UNSEPARATED_DAY, "track")
    assert [row.get("new_id") for row in merged] == [1]  # the merge, on the day it happened
    mbids = _lines(out, dt.date(2024, 12, 4), "track_mbid")
    assert [row["id"] for row in mbids] == sorted(row["id"] for row in mbids)
    assert all("disabled" not in row or row["disabled"] is True for row in mbids)

    mirror = _fresh(sqlite_databases, tmp_path, "mirror")
    try:
        run(mirror, out, provenance="earmark-export")
        assert {song: lookup(mirror, items) for song, items in fp.items()} == expected
    finally:
        mirror.close()

    snapshot = tmp_path / "snapshot"
    export_full(api.dbs.fingerprint, snapshot, TODAY)
    fresh = _fresh(sqlite_databases, tmp_path, "fresh")
    try:
        report = run(fresh, snapshot, provenance="earmark-snapshot")
        assert report.days == 1
        assert {song: lookup(fresh, items) for song, items in fp.items()} == expected
    finally:
        fresh.close()


def _lines(root: Path, day: dt.date, stream: str) -> list[dict[str, Any]]:
    path = root / f"{day:%Y}" / f"{day:%Y-%m}" / f"{day.isoformat()}-{stream}-update.jsonl.gz"
    return [json.loads(line) for line in gzip.decompress(path.read_bytes()).splitlines()]
