"""The benchmark's synthetic mirror (bench/catalog_mirror.py) at a tiny size on SQLite: the
rows it says it wrote are in the tables, the same seed gives the same data, and the catalog
answers for the recordings it followed what the generator made (titles, credits, ISRCs, tracks,
albums, merged ids): a generator that wrote something else would make the benchmark's figures
meaningless."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from earmark.app_catalog import catalog_services, key_cache
from earmark.catalog.app import create_catalog_app
from earmark.musicbrainz.schema import MusicBrainzDatabase
from tests.catalog.conftest import BASE, Keys
from tests.support import bench_module

RECORDINGS = 400
SEED = 5


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Any:
    path = tmp_path_factory.mktemp("bench-mirror") / "musicbrainz.db"
    return bench_module("catalog_mirror").fill(f"sqlite:///{path}", RECORDINGS, SEED)


@pytest.fixture
def bench_client(generated: Any, app_keys: Keys) -> Iterator[TestClient]:
    database = MusicBrainzDatabase.from_url(generated.url)
    services = catalog_services(BASE, mirror=database, keys=key_cache(BASE, app_keys.dbs))
    with TestClient(create_catalog_app(services)) as client:
        yield client
    database.dispose()


def test_the_tables_hold_what_the_generator_wrote(generated: Any) -> None:
    engine = sa.create_engine(generated.url)
    try:
        with engine.connect() as conn:
            for table, count in generated.rows.items():
                found = conn.exec_driver_sql(f'SELECT count(*) FROM "{table}"').scalar()
                assert found == count, table
            indexed = conn.exec_driver_sql("SELECT count(*) FROM catalog_search_track").scalar()
    finally:
        engine.dispose()
    rows = generated.rows
    assert rows["recording"] >= RECORDINGS
    # Shaped like MusicBrainz: recordings on several releases, ISRCs on most recordings.
    assert rows["track"] > 1.3 * rows["recording"]
    assert rows["isrc"] > 0.5 * rows["recording"]
    assert rows["release"] > rows["release_group"]
    assert indexed == rows["track"]


def test_the_same_seed_gives_the_same_mirror(generated: Any, tmp_path: Path) -> None:
    again = bench_module("catalog_mirror").fill(
        f"sqlite:///{tmp_path / 'again.db'}", RECORDINGS, SEED
    )
    assert again.rows == generated.rows
    assert again.isrcs == generated.isrcs
    assert again.expected == generated.expected
    assert again.redirects == generated.redirects


def test_the_catalog_answers_what_was_generated(generated: Any, bench_client: TestClient) -> None:
    expected = generated.expected
    assert any(len(made.artists) > 1 for made in expected)  # a multi-artist credit
    assert any(len(holders) == 2 for holders in generated.isrc_recordings.values())
    for made in expected:
        answer = bench_client.get(f"/lookup/recording/{made.recording}")
        assert answer.status_code == 200, answer.text
        found = answer.json()
        assert found["title"] == made.title
        assert [a["id"] for a in found["artists"]] == list(made.artists)
        assert "".join(a["name"] + a["join_phrase"] for a in found["artists"]) == made.credit
        assert found["isrcs"] == sorted(made.isrcs)
        assert {t["id"] for t in found["tracks"]} == {t.track for t in made.tracks}
        for track in made.tracks:
            shaped = bench_client.get(f"/lookup/track/{track.track}").json()
            assert shaped["recording_id"] == made.recording
            assert (shaped["disc_number"], shaped["position"]) == (track.disc, track.position)
            assert shaped["album"]["id"] == track.release
            assert shaped["album"]["title"] == track.release_title
            assert shaped["album"]["barcode"] == track.barcode
    tracks_of = {made.recording: {t.track for t in made.tracks} for made in expected}
    for code, holders in generated.isrc_recordings.items():
        answer = bench_client.get(f"/lookup/isrc/{code}")
        assert answer.status_code == 200, answer.text
        assert {t["id"] for t in answer.json()} == set().union(*(tracks_of[r] for r in holders))


def test_merged_ids_and_searches_answer(generated: Any, bench_client: TestClient) -> None:
    paths = {"recording": "recording", "release": "album", "artist": "artist"}
    for kind, path in paths.items():
        assert generated.redirects[kind]
        for old, current in generated.redirects[kind][:3]:
            answer = bench_client.get(f"/lookup/{path}/{old}")
            assert answer.status_code == 200, answer.text
            assert answer.json()["id"] == current
    # Every query is typed from a generated title or artist: each finds something.
    for query in generated.queries[:10]:
        answer = bench_client.get("/search/track", params={"q": query, "limit": 5})
        assert answer.status_code == 200, answer.text
        assert answer.json()["results"], query
