"""Search: ranked, case- and accent-insensitive, deterministic, paged, on an index."""

from __future__ import annotations

import sqlalchemy as sa
from starlette.testclient import TestClient

from earmark.musicbrainz.catalog_search import fold, table_name, terms
from tests.catalog.data import POLAR_MIX
from tests.musicbrainz.support import Mirror


def _ids(client: TestClient, kind: str, **params: object) -> list[str]:
    answer = client.get(f"/search/{kind}", params=params)
    assert answer.status_code == 200, answer.text
    return [result["id"] for result in answer.json()["results"]]


def test_fold_spells_out_letters_and_drops_marks() -> None:
    assert fold("Trentemøller: The Pølar Mix") == "trentemoller the polar mix"
    assert fold("Beyoncé") == fold("BEYONCE") == fold("Beyonce\u0301") == "beyonce"
    assert fold("Straße Æon Łódź") == "strasse aeon lodz"
    assert terms("  !! ") == []


def test_accents_and_case_do_not_matter(client: TestClient) -> None:
    for spelled in ("Pølar", "polar", "POLAR", "pólar"):
        albums = client.get("/search/album", params={"q": spelled}).json()["results"]
        assert [a["title"] for a in albums] == [POLAR_MIX], spelled
    # A combining accent in the data ("Cafe\u0301") is found with and without it.
    plain = _ids(client, "artist", q="cafe")
    assert plain
    assert _ids(client, "artist", q="Café") == plain == _ids(client, "artist", q="CAFÉ")


def test_tracks_rank_title_matches_and_carry_their_album(client: TestClient) -> None:
    results = client.get("/search/track", params={"q": "moon"}).json()["results"]
    assert results[0]["title"] == "Moon"
    assert results[0]["album"]["title"] == "XVI Reflections on Classical Music"
    artists = client.get("/search/artist", params={"q": "trentemøller"}).json()["results"]
    assert artists[0]["name"] == "Trentemøller"


def test_order_is_deterministic_and_pages_follow_it(client: TestClient) -> None:
    everything = _ids(client, "track", q="synthetic recording", limit=100)
    assert len(everything) == 100
    assert _ids(client, "track", q="synthetic recording", limit=100) == everything
    pages = [
        _ids(client, "track", q="synthetic recording", limit=25, offset=offset)
        for offset in (0, 25, 50, 75)
    ]
    assert [mbid for page in pages for mbid in page] == everything
    answer = client.get("/search/track", params={"q": "synthetic recording", "limit": 3}).json()
    assert (answer["query"], answer["limit"], answer["offset"]) == ("synthetic recording", 3, 0)
    assert client.get("/search/album", params={"q": "zzzz nothing"}).json()["results"] == []


def test_the_search_reads_the_index_not_the_table(client: TestClient, indexed: Mirror) -> None:
    """The plan of the search statement uses the full-text index (FTS5 / GIN)."""
    with indexed.database.read() as conn:
        if conn.dialect.name == "sqlite":
            table = table_name("track")
            plan = " ".join(
                str(row[-1])
                for row in conn.exec_driver_sql(
                    f"EXPLAIN QUERY PLAN SELECT rowid FROM {table} WHERE {table} MATCH 'moon*'"
                )
            )
            assert "VIRTUAL TABLE INDEX" in plan, plan
        else:
            schema = indexed.database.schema_name
            # The test table is small enough for a sequential scan to be cheaper: forbid it to
            # see that the index can serve the statement.
            conn.exec_driver_sql("SET enable_seqscan = off")
            try:
                plan = " ".join(
                    str(row[0])
                    for row in conn.execute(
                        sa.text(
                            f"EXPLAIN SELECT id FROM {schema}.{table_name('track')} "
                            "WHERE document @@ to_tsquery('simple', 'moon:*')"
                        )
                    )
                )
            finally:
                conn.exec_driver_sql("RESET enable_seqscan")
            assert "catalog_search_track_idx_document" in plan, plan


def test_refresh_follows_a_renamed_artist(client: TestClient, indexed: Mirror) -> None:
    """catalog_search.refresh re-indexes the entities a change touched (replication uses it)."""
    from earmark.musicbrainz.catalog_search import refresh
    from earmark.musicbrainz.schema import execute, tables

    artist = tables().artist
    with indexed.database.read() as conn:
        row_id, gid, name = execute(
            conn, sa.select(artist.c.id, artist.c.gid, artist.c.name).order_by(artist.c.id.desc())
        ).first()
    assert _ids(client, "artist", q="Zyxwvut Renamed") == []
    try:
        with indexed.database.write() as conn:
            execute(
                conn, artist.update().where(artist.c.id == row_id).values(name="Zyxwvut Renamed")
            )
            refresh(conn, "artist", [row_id])
        assert _ids(client, "artist", q="zyxwvut renamed") == [str(gid)]
    finally:
        with indexed.database.write() as conn:
            execute(conn, artist.update().where(artist.c.id == row_id).values(name=name))
            refresh(conn, "artist", [row_id])
    assert _ids(client, "artist", q="Zyxwvut Renamed") == []
