"""``/v2/lookup`` with ``meta=catalog`` (Earmark extension): each recording's ISRCs and catalog
tracks, from one catalog load per response, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import sqlalchemy as sa

from earmark.musicbrainz import catalog_render
from earmark.musicbrainz.catalog import CatalogQuery, load
from earmark.musicbrainz.schema import execute, tables
from tests.api.harness import ApiHarness
from tests.api.lookup_helpers import Song, ok, song
from tests.api.test_lookup_meta import CORPUS
from tests.musicbrainz.support import Mirror
from tests.support import statements_run


@pytest.fixture
def mirror_data(api_mb: ApiHarness, request: pytest.FixtureRequest) -> Mirror:
    """The mirror behind ``api_mb``."""
    name = "sqlite_mirror" if api_mb.dbs.app.dialect.name == "sqlite" else "postgres_mirror"
    found: Mirror = request.getfixturevalue(name)
    return found


def _recording_with_isrc(mirror: Mirror) -> tuple[str, list[str], set[str]]:
    """A recording with an ISRC and tracks: (MBID, its ISRCs, its track MBIDs), read directly."""
    mb = tables()
    with mirror.database.read() as conn:
        row = execute(
            conn,
            sa.select(mb.recording.c.id, mb.recording.c.gid)
            .where(
                mb.recording.c.id.in_(sa.select(mb.isrc.c.recording)),
                mb.recording.c.id.in_(sa.select(mb.track.c.recording)),
            )
            .order_by(mb.recording.c.id)
            .limit(1),
        ).one()
        codes = execute(
            conn, sa.select(mb.isrc.c.isrc).where(mb.isrc.c.recording == row.id)
        ).scalars()
        tracks = execute(
            conn, sa.select(mb.track.c.gid).where(mb.track.c.recording == row.id)
        ).scalars()
        return str(row.gid), sorted(c.strip() for c in codes), {str(t) for t in tracks}


def _sort_name(mirror: Mirror, artist_gid: str) -> str:
    artist = tables().artist
    with mirror.database.read() as conn:
        found = execute(
            conn, sa.select(artist.c.sort_name).where(artist.c.gid == uuid.UUID(artist_gid))
        ).scalar_one()
    return str(found)


def _lookup(api: ApiHarness, songs: list[Song], meta: str) -> list[Any]:
    params: list[tuple[str, Any]] = [("client", api.client_key), ("batch", "1"), ("meta", meta)]
    for i, found in enumerate(songs):
        params += [(f"fingerprint.{i}", found.text), (f"duration.{i}", found.length)]
    body = ok(api, params)
    return [answer["results"][0] for answer in body["fingerprints"]]


def test_catalog_adds_isrcs_and_tracks_to_known_recordings(
    api_mb: ApiHarness, mirror_data: Mirror, dev_corpus_vectors: Any
) -> None:
    mbid, codes, track_ids = _recording_with_isrc(mirror_data)
    old, new = next(iter(mirror_data.synthetic.redirects.items()))
    unknown = mirror_data.synthetic.unknown[0]
    breeze = song(dev_corpus_vectors, CORPUS[0])
    api_mb.add_track(
        breeze.items, breeze.length, mbids=[uuid.UUID(m) for m in (mbid, old, unknown)]
    )
    [result] = _lookup(api_mb, [breeze], "catalog")
    by_id = {entry["id"]: entry for entry in result["recordings"]}
    assert set(by_id) == {mbid, new, unknown}
    known = by_id[mbid]
    # catalog implies recordings: the full recording is there.
    assert known["title"]
    assert known["isrcs"] == codes
    assert {t["id"] for t in known["catalog_tracks"]} == track_ids
    for track in known["catalog_tracks"]:
        assert track["recording_id"] == mbid
        assert track["isrcs"] == codes
        assert track["album"]["id"] == track["album_id"]
        assert "barcode" in track["album"]
        for credited in [*track["artists"], *track["album"]["artists"]]:
            assert credited["sort_name"] == _sort_name(mirror_data, credited["id"]), credited
    # The merged MBID is answered as its current recording, with its catalog data.
    assert "catalog_tracks" in by_id[new]
    # MusicBrainz does not know it: no catalog data, as no other metadata.
    assert by_id[unknown] == {"id": unknown}


def test_catalog_tracks_are_the_catalog_apis_isrc_answer(
    api_mb: ApiHarness, mirror_data: Mirror, dev_corpus_vectors: Any
) -> None:
    """The same track objects the catalog's ``/lookup/isrc/{isrc}`` answers (its load and
    shaping), when the ISRC belongs to this recording only."""
    mbid, codes, _tracks = _recording_with_isrc(mirror_data)
    breeze = song(dev_corpus_vectors, CORPUS[0])
    api_mb.add_track(breeze.items, breeze.length, mbids=[uuid.UUID(mbid)])
    [result] = _lookup(api_mb, [breeze], "catalog")
    [entry] = result["recordings"]
    with mirror_data.database.read() as conn:
        data = load(conn, CatalogQuery(isrcs=[codes[0]]))
    by_isrc = catalog_render.tracks(data, data.isrc_tracks[codes[0]])
    mine = {t["id"] for t in entry["catalog_tracks"]}
    assert mine
    assert [t for t in by_isrc if t["id"] in mine] == entry["catalog_tracks"]


def test_catalog_statement_count_is_fixed(
    api_mb: ApiHarness, mirror_data: Mirror, dev_corpus_vectors: Any
) -> None:
    """One catalog load per response, whatever the number of results and recordings: the
    statements meta=catalog adds to meta=recordings are the same for 1 and 3 results."""
    songs = [song(dev_corpus_vectors, name) for name in CORPUS[:3]]
    recordings = mirror_data.synthetic.recordings
    for i, found in enumerate(songs):
        mbids = recordings[i * 4 : i * 4 + 1 + i * 3]
        api_mb.add_track(found.items, found.length, mbids=[uuid.UUID(m) for m in mbids])
    engine = mirror_data.database.engine
    added = {}
    for count in (1, 3):
        seen = {}
        for meta in ("recordings", "catalog"):
            with statements_run(engine) as statements:
                results = _lookup(api_mb, songs[:count], meta)
            assert len(results) == count
            seen[meta] = len(statements)
        added[count] = seen["catalog"] - seen["recordings"]
    # 4 MBID resolutions, ISRCs, tracks, recordings, their ISRCs, releases, release events,
    # labels, artists, artist credits (earmark.musicbrainz.catalog, fixed=True).
    assert added == {1: 13, 3: 13}


def test_catalog_without_a_mirror_gives_ids_only(api: ApiHarness, dev_corpus_vectors: Any) -> None:
    breeze = song(dev_corpus_vectors, CORPUS[0])
    mbid = uuid.uuid5(uuid.NAMESPACE_URL, "catalog-no-mirror")
    api.add_track(breeze.items, breeze.length, mbids=[mbid])
    [result] = _lookup(api, [breeze], "catalog")
    assert result["recordings"] == [{"id": str(mbid)}]


def test_catalog_with_other_and_hostile_meta_words(
    api_mb: ApiHarness, mirror_data: Mirror, dev_corpus_vectors: Any
) -> None:
    mbid, codes, _tracks = _recording_with_isrc(mirror_data)
    breeze = song(dev_corpus_vectors, CORPUS[0])
    api_mb.add_track(breeze.items, breeze.length, mbids=[uuid.UUID(mbid)])
    # Repeated, mixed with other flags and junk: still one set of catalog data.
    [result] = _lookup(api_mb, [breeze], "catalog catalog isrcs releasegroups <x>")
    [entry] = result["recordings"]
    assert entry["isrcs"] == codes
    assert entry["catalog_tracks"]
    assert entry["releasegroups"]
    # Flags are case-sensitive as in the reference: CATALOG is an unknown word.
    assert _lookup(api_mb, [breeze], "CATALOG")[0] == {"id": result["id"], "score": 1.0}
    # m2 wins over every other flag (the legacy format has no catalog data).
    [m2] = _lookup(api_mb, [breeze], "2")
    assert "catalog_tracks" not in m2["recordings"][0]
