"""The DuckDB backend over the Parquet export answers exactly as the SQL backend.

The same requests (every endpoint; found, not found, merged ids, search ties and pages, batch
with not_found, bad input) go to the catalog over the mirror and over its export; statuses,
headers that matter and JSON bodies must be equal. Then the export's and the start-up's
hostile cases.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from starlette.testclient import TestClient

from earmark.app_catalog import catalog_services, key_cache
from earmark.catalog.app import create_catalog_app
from earmark.cli.main import cli
from earmark.musicbrainz.columnar import MANIFEST, ExportError, export
from earmark.musicbrainz.columnar_read import ColumnarError, ColumnarStore, open_columnar
from earmark.musicbrainz.schema import MusicBrainzDatabase
from tests.catalog.conftest import BASE, Keys, ensure_indexed, services_of
from tests.catalog.data import POLAR_MIX, gids, recording_isrcs, release_gid, shared_isrc
from tests.musicbrainz.support import Mirror
from tests.serve.process import Serve, clean_environment, run_earmark
from tests.support import IN_CI

try:
    import duckdb  # noqa: F401
    import pyarrow  # noqa: F401
except ImportError:  # pragma: no cover - `make install` installs the extra
    if IN_CI:
        raise
    pytest.skip("no columnar extra (pip install '.[columnar]')", allow_module_level=True)

#: Searches with ties (the synthetic titles), prefixes, accents, several terms, pages.
SEARCHES = [
    ("track", {"q": "synthetic recording", "limit": 100}),
    ("track", {"q": "synthetic recording", "limit": 7, "offset": 30}),
    ("track", {"q": "synth", "limit": 50, "offset": 3}),
    ("track", {"q": "moon"}),
    ("track", {"q": "the"}),
    ("track", {"q": "trentemøller the", "limit": 100}),
    ("track", {"q": "zzzz nothing"}),
    ("album", {"q": "Pølar"}),
    ("album", {"q": "synthetic", "limit": 100}),
    ("album", {"q": "xvi reflections classical"}),
    ("artist", {"q": "café"}),
    ("artist", {"q": "synthetic artist", "limit": 100}),
    ("artist", {"q": "tr"}),
]


def _requests(mirror: Mirror) -> list[tuple[str, str, Any]]:
    """(method, path, body-or-params) of every endpoint, found and not found."""
    data = mirror.synthetic
    code, _ = shared_isrc(mirror)
    unknown = data.unknown[0]
    album = release_gid(mirror, POLAR_MIX)
    merged = data.entity_redirects
    old_recording = next(iter(data.redirects))
    found: list[tuple[str, str, Any]] = [
        ("GET", f"/lookup/isrc/{code}", None),
        ("GET", f"/lookup/isrc/{code.lower()[:2]}-{code[2:5]}-{code[5:7]}-{code[7:]}", None),
        ("GET", "/lookup/isrc/ZZ0000000000", None),
        ("GET", f"/lookup/album/{album}", None),
        ("GET", f"/lookup/album/{album}/tracks", None),
        ("GET", f"/lookup/album/{merged['release'][0]}/tracks", None),
        ("GET", f"/lookup/recording/{data.fan_out}", None),
        ("GET", f"/lookup/recording/{old_recording}", None),
        ("GET", f"/lookup/recording/{data.standalone[0]}", None),
        ("GET", f"/lookup/recording/{data.multi_artist[0]}", None),
        ("GET", f"/lookup/recording/{data.nameless_credit}", None),
        ("GET", f"/lookup/release-group/{data.untyped_release_group}", None),
        ("GET", "/lookup/barcode/999999999999999", None),
        ("GET", "/lookup/isrc/not-an-isrc", None),
        ("GET", "/lookup/track/not-a-uuid", None),
        ("GET", "/lookup/barcode/12ab", None),
        ("GET", "/openapi.json", None),
        ("GET", "/no/such/path", None),
    ]
    paths = {
        "artist": "/lookup/artist/{}",
        "release": "/lookup/album/{}",
        "release_group": "/lookup/release-group/{}",
        "track": "/lookup/track/{}",
    }
    for kind, path in paths.items():
        found.append(("GET", path.format(merged[kind][0]), None))
        found.append(("GET", path.format(merged[kind][1]), None))
        found.append(("GET", path.format(unknown), None))
    for table, path in (("track", paths["track"]), ("artist", paths["artist"])):
        found += [("GET", path.format(gid), None) for gid in gids(mirror, table, 5)]
    for release in list(data.barcodes)[:3]:
        found.append(("GET", f"/lookup/barcode/{data.barcodes[release]}", None))
    for release in data.unknown_country_releases[:2]:
        found.append(("GET", f"/lookup/album/{release}", None))
    for recording in data.non_latin[:3]:
        found.append(("GET", f"/lookup/recording/{recording}", None))
    for isrc in recording_isrcs(mirror, 5):
        found.append(("GET", f"/lookup/isrc/{isrc}", None))
    for kind, params in SEARCHES:
        found.append(("GET", f"/search/{kind}", params))
    found += [
        ("GET", "/search/track", {"q": "a"}),
        ("GET", "/search/track", {"q": "moon", "limit": 0}),
        ("GET", "/search/album", {"q": "moon", "offset": -1}),
    ]
    batch = {
        "tracks": [*gids(mirror, "track", 3), unknown, merged["track"][0]],
        "recordings": [data.fan_out, old_recording, unknown],
        "albums": [merged["release"][0], album, unknown],
        "artists": [gids(mirror, "artist", 1)[0].upper(), unknown],
        "isrcs": [code.lower(), "ZZ0000000000"],
    }
    found += [
        ("POST", "/batch/lookup", batch),
        ("POST", "/batch/lookup", {"tracks": [unknown]}),
        ("POST", "/batch/lookup", {"tracks": "not a list"}),
        ("POST", "/batch/lookup", {"isrcs": [str(n) for n in range(401)]}),
        ("POST", "/batch/lookup", {}),
    ]
    return found


@pytest.fixture(scope="module")
def exported(
    sqlite_mirror: Mirror, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Mirror, Path]:
    ensure_indexed(sqlite_mirror)
    directory = tmp_path_factory.mktemp("columnar") / "export"
    export(sqlite_mirror.database, directory)
    return sqlite_mirror, directory


def _client(mirror: MusicBrainzDatabase, keys: Keys, **overrides: object) -> TestClient:
    settings = dataclasses.replace(BASE, **overrides)  # type: ignore[arg-type]
    services = catalog_services(settings, mirror=mirror, keys=key_cache(settings, keys.dbs))
    client = TestClient(create_catalog_app(services))
    client.__enter__()
    return client


@pytest.fixture(scope="module")
def pair(exported: tuple[Mirror, Path], app_keys: Keys) -> Iterator[tuple[TestClient, TestClient]]:
    """(the SQL backend's client, the DuckDB backend's client) over the same mirror."""
    mirror, directory = exported
    sql = _client(mirror.database, app_keys)
    duck = _client(
        mirror.database, app_keys, catalog_backend="duckdb", catalog_parquet_dir=str(directory)
    )
    yield sql, duck
    for client in (sql, duck):
        client.__exit__(None, None, None)
    services_of(duck).store.close()


def _ask(client: TestClient, method: str, path: str, payload: Any) -> tuple[int, Any, str]:
    if method == "POST":
        answer = client.post(path, json=payload)
    else:
        answer = client.get(path, params=payload)
    kind = answer.headers.get("content-type", "")
    body = answer.json() if kind.startswith("application/json") else answer.text
    return answer.status_code, body, answer.headers.get("etag", "")


def test_every_request_gets_the_same_answer(
    exported: tuple[Mirror, Path], pair: tuple[TestClient, TestClient]
) -> None:
    mirror, _ = exported
    sql, duck = pair
    requests = _requests(mirror)
    statuses = set()
    for method, path, payload in requests:
        expected = _ask(sql, method, path, payload)
        found = _ask(duck, method, path, payload)
        assert found == expected, (method, path, payload)
        statuses.add(expected[0])
    # The set covers answers, 404s and 400s; searches with many results (ties, pages).
    assert {200, 400, 404} <= statuses
    ranked = _ask(sql, "GET", "/search/track", {"q": "synthetic recording", "limit": 100})[1]
    assert len(ranked["results"]) == 100


def test_search_ranks_as_fts5_for_every_prefix_of_the_index(
    exported: tuple[Mirror, Path], pair: tuple[TestClient, TestClient]
) -> None:
    """Each kind, each two-letter prefix of its words, each word and word pair of some
    titles: the same page of MBIDs as SQLite's FTS5 (bm25 values compared through the order,
    ties included)."""
    from earmark.musicbrainz.catalog_search import KINDS, search

    mirror, directory = exported
    _, duck = pair
    store = services_of(duck).store
    import pyarrow.parquet as pq

    compared = 0
    with mirror.database.read() as conn, store.read() as reader:
        for kind in KINDS:
            docs = pq.read_table(directory / f"search_{kind}_doc.parquet", columns=["title"])
            titles = docs.column(0).to_pylist()
            words = sorted({word for title in titles for word in title.split()})
            asked = sorted({word[:2] for word in words})
            asked += words[::13]
            asked += [" ".join(title.split()[:2]) for title in titles[::11]]
            for query in asked:
                terms = query.split()
                expected = search(conn, kind, terms, 100, 0).mbids
                assert reader.search(kind, terms, 100, 0).mbids == expected, (kind, query)
                compared += bool(expected)
    assert compared > 100


def test_health_and_metrics_come_from_the_export(pair: tuple[TestClient, TestClient]) -> None:
    sql, duck = pair
    expected, found = sql.get("/health").json(), duck.get("/health").json()
    # The age is counted from now: read a second apart, it may differ by one.
    ages = [body["replication"].pop("age_seconds") for body in (expected, found)]
    assert ages[0] is None or abs(ages[0] - ages[1]) <= 1
    assert found == expected
    assert found["search_index"] is True
    metrics = duck.get("/metrics")
    assert metrics.status_code == 200
    assert "catalog" in metrics.text


def test_a_batch_runs_a_fixed_number_of_statements(
    exported: tuple[Mirror, Path], pair: tuple[TestClient, TestClient]
) -> None:
    mirror, _ = exported
    _, duck = pair
    store = services_of(duck).store
    assert isinstance(store, ColumnarStore)
    filler = [str(uuid.uuid5(uuid.NAMESPACE_URL, f"columnar/{n}")) for n in range(390)]
    counts = set()
    for body in (
        {"tracks": gids(mirror, "track", 1)},
        {"isrcs": recording_isrcs(mirror, 1)},
        {
            "tracks": gids(mirror, "track", 2) + filler,
            "recordings": gids(mirror, "recording", 2),
            "albums": gids(mirror, "release", 2),
            "artists": gids(mirror, "artist", 2),
            "isrcs": recording_isrcs(mirror, 2),
        },
    ):
        before = store.statements
        answer = duck.post("/batch/lookup", json=body)
        assert answer.status_code == 200, answer.text
        counts.add(store.statements - before)
    # The same 13 statements as on SQL (tests/catalog/test_batch.py): a batch has no ETag.
    assert counts == {13}, counts


@pytest.fixture(scope="module")
def pg_pair(
    postgres_mirror: Mirror, app_keys: Keys, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Mirror, TestClient, TestClient]]:
    """The same over the PostgreSQL mirror and an export of it."""
    ensure_indexed(postgres_mirror)
    directory = tmp_path_factory.mktemp("columnar-pg") / "export"
    export(postgres_mirror.database, directory)
    sql = _client(postgres_mirror.database, app_keys)
    duck = _client(
        postgres_mirror.database,
        app_keys,
        catalog_backend="duckdb",
        catalog_parquet_dir=str(directory),
    )
    yield postgres_mirror, sql, duck
    for client in (sql, duck):
        client.__exit__(None, None, None)
    services_of(duck).store.close()


def _matches(answer: tuple[int, Any, str]) -> tuple[int, Any]:
    """A search answer without its order: PostgreSQL ranks with ts_rank, the export as FTS5."""
    status, body, _ = answer
    if status != 200:
        return status, body
    return status, sorted(json.dumps(r, sort_keys=True) for r in body["results"])


def test_an_export_of_postgresql_answers_as_postgresql(
    pg_pair: tuple[Mirror, TestClient, TestClient],
) -> None:
    mirror, sql, duck = pg_pair
    for method, path, payload in _requests(mirror):
        expected = _ask(sql, method, path, payload)
        found = _ask(duck, method, path, payload)
        if path.startswith("/search/") and expected[0] == 200:
            # Same matches when the page holds them all; the order is each ranking's own.
            if len(expected[1]["results"]) < int(payload.get("limit", 20)) and not payload.get(
                "offset"
            ):
                assert _matches(found) == _matches(expected), (path, payload)
            continue
        assert found == expected, (method, path, payload)


# --- the export --------------------------------------------------------------------------


def test_the_export_is_sorted_compressed_and_in_row_groups(exported: tuple[Mirror, Path]) -> None:
    import pyarrow.parquet as pq

    _, directory = exported
    manifest = json.loads((directory / MANIFEST).read_text())
    assert manifest["format"] == 1
    track = pq.ParquetFile(directory / "track.parquet")
    assert track.metadata.num_rows == manifest["tables"]["track"]
    assert track.metadata.row_group(0).column(0).compression == "ZSTD"
    assert track.metadata.row_group(0).column(0).statistics.has_min_max
    recordings = track.read(columns=["recording"]).column(0).to_pylist()
    assert recordings == sorted(recordings)
    tokens = pq.read_table(directory / "search_track_token.parquet", columns=["token"])
    words = tokens.column(0).to_pylist()
    assert words == sorted(words)
    # Only the columns the statements read: no edits_pending, last_updated...
    assert "last_updated" not in track.schema_arrow.names
    # No temporary directory left next to the export.
    assert sorted(p.name for p in directory.parent.iterdir()) == ["export"]


def test_a_new_export_replaces_the_old_one_whole(
    exported: tuple[Mirror, Path], tmp_path: Path
) -> None:
    mirror, directory = exported
    target = tmp_path / "export"
    shutil.copytree(directory, target)
    (target / "stale.parquet").write_bytes(b"old")
    report = export(mirror.database, target)
    assert not (target / "stale.parquet").exists()
    assert report.rows["track"] > 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export"]


def test_the_export_refuses_a_directory_that_is_not_an_export(
    exported: tuple[Mirror, Path], tmp_path: Path
) -> None:
    mirror, _ = exported
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(ExportError, match="not replaced"):
        export(mirror.database, tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_an_export_without_search_index_fails_and_leaves_nothing(tmp_path: Path) -> None:
    database = MusicBrainzDatabase.from_url(f"sqlite:///{tmp_path / 'mb.db'}")
    database.create_schema()
    try:
        with pytest.raises(ExportError, match="earmark catalog index"):
            export(database, tmp_path / "out")
    finally:
        database.dispose()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mb.db"]


# --- start-up errors ---------------------------------------------------------------------


def _damaged(directory: Path, tmp_path: Path, how: str) -> Path:
    target = tmp_path / how
    if how == "missing":
        return target
    if how == "empty":
        target.mkdir()
        return target
    shutil.copytree(directory, target)
    if how == "manifest":
        (target / MANIFEST).write_text("{not json")
    elif how == "truncated":
        data = (target / "track.parquet").read_bytes()
        (target / "track.parquet").write_bytes(data[: len(data) // 2])
    elif how == "garbage":
        (target / "isrc.parquet").write_bytes(b"PAR1" + b"\x00" * 100 + b"PAR1")
    elif how == "file-gone":
        (target / "release.parquet").unlink()
    return target


@pytest.mark.parametrize(
    "how", ["missing", "empty", "manifest", "truncated", "garbage", "file-gone"]
)
def test_a_bad_export_is_a_clear_start_up_error(
    exported: tuple[Mirror, Path], tmp_path: Path, how: str
) -> None:
    _, directory = exported
    with pytest.raises(ColumnarError, match="catalog_parquet_dir"):
        open_columnar(_damaged(directory, tmp_path, how))


def test_no_directory_set_names_the_setting() -> None:
    with pytest.raises(ColumnarError, match="needs catalog_parquet_dir"):
        open_columnar("")


def test_files_gone_after_the_start_are_a_503_not_a_500(
    exported: tuple[Mirror, Path], app_keys: Keys, tmp_path: Path
) -> None:
    mirror, directory = exported
    target = tmp_path / "export"
    shutil.copytree(directory, target)
    client = _client(
        mirror.database, app_keys, catalog_backend="duckdb", catalog_parquet_dir=str(target)
    )
    try:
        track = gids(mirror, "track", 1)[0]
        assert client.get(f"/lookup/track/{track}").status_code == 200
        (target / "track.parquet").unlink()
        (target / "track_gid.parquet").unlink()
        answer = client.get(f"/lookup/track/{track}")
        assert answer.status_code == 503, answer.text
        assert answer.json()["error"]["message"] == "the MusicBrainz mirror is unavailable"
    finally:
        client.__exit__(None, None, None)
        services_of(client).store.close()


def test_run_catalog_refuses_a_damaged_export_in_one_line(
    exported: tuple[Mirror, Path], tmp_path: Path
) -> None:
    _, directory = exported
    env = clean_environment(
        EARMARK_DATA_DIR=str(tmp_path / "data"),
        EARMARK_CATALOG_BACKEND="duckdb",
        EARMARK_CATALOG_PARQUET_DIR=str(_damaged(directory, tmp_path, "truncated")),
        EARMARK_CATALOG_PORT="0",
    )
    done = run_earmark(["run", "catalog"], env=env)
    assert done.returncode != 0
    assert "catalog_parquet_dir" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_export_parquet_command(exported: tuple[Mirror, Path], tmp_path: Path) -> None:
    mirror, _ = exported
    url = mirror.database.engine.url.render_as_string(hide_password=False)
    env = {"EARMARK_MUSICBRAINZ_DATABASE_URL": url, "EARMARK_DATA_DIR": str(tmp_path)}
    target = tmp_path / "export"
    result = CliRunner().invoke(cli, ["catalog", "export-parquet", str(target)], env=env)
    assert result.exit_code == 0, result.output
    assert f"Parquet export written to {target}" in result.output
    assert (target / MANIFEST).is_file()
    # Not an export: refused in one line, the directory untouched.
    result = CliRunner().invoke(cli, ["catalog", "export-parquet", str(tmp_path)], env=env)
    assert result.exit_code == 3
    assert "not replaced" in result.output


def test_serve_answers_the_catalog_from_the_export(
    exported: tuple[Mirror, Path], tmp_path: Path
) -> None:
    """`earmark serve` with catalog_backend = duckdb over a data directory without any mirror:
    /catalog answers from the export's files."""
    mirror, directory = exported
    code, tracks = shared_isrc(mirror)
    env = clean_environment(
        EARMARK_CATALOG_BACKEND="duckdb", EARMARK_CATALOG_PARQUET_DIR=str(directory)
    )
    server = Serve(tmp_path / "data", env)
    try:
        answer = httpx.get(
            f"{server.url}/catalog/lookup/isrc/{code}",
            headers={"X-Api-Key": server.client_key},
            timeout=10,
        )
        assert answer.status_code == 200, answer.text
        assert len(answer.json()) == tracks
        assert all(code in track["isrcs"] for track in answer.json())
        health = httpx.get(f"{server.url}/catalog/health", timeout=10).json()
        assert health["status"] == "ok"
    finally:
        server.stop()
    assert "Traceback" not in server.stderr
