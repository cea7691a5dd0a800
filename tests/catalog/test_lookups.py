"""The catalog's lookups on SQLite and PostgreSQL: shapes, orders, merged ids, 404s."""

from __future__ import annotations

from starlette.testclient import TestClient

from earmark.musicbrainz.sample import SAMPLE_RECORDING
from tests.catalog.data import POLAR_MIX, XVI, release_gid, shared_isrc
from tests.musicbrainz.support import Mirror


def _album_order_key(album: dict[str, object]) -> tuple[int, int, int, str]:
    """The documented order: earliest first release event (unknown parts after known ones),
    then the album's MBID."""
    parts = [int(p) for p in str(album["date"] or "10001").split("-")]
    year, month, day = (parts + [13, 32][len(parts) - 1 :])[:3]
    return (year, month, day, str(album["id"]))


def test_isrc_lookup_returns_every_track_with_album_and_artists(
    client: TestClient, indexed: Mirror
) -> None:
    code, track_count = shared_isrc(indexed)
    answer = client.get(f"/lookup/isrc/{code}")
    assert answer.status_code == 200
    tracks = answer.json()
    assert len(tracks) == track_count > 1
    for track in tracks:
        assert code in track["isrcs"]
        assert track["album"]["id"] == track["album_id"]
        assert track["artists"], track
        assert set(track) >= {"id", "title", "position", "disc_number", "duration_ms"}
    # Earliest release first, then the album id (documented order).
    keys = [_album_order_key(t["album"]) for t in tracks]
    assert keys == sorted(keys)
    # Case and hyphens of the ISRC do not matter.
    spaced = f"{code[:2]}-{code[2:5]}-{code[5:7]}-{code[7:]}".lower()
    assert client.get(f"/lookup/isrc/{spaced}").json() == tracks


def test_isrc_lookup_of_an_unknown_isrc_is_an_empty_list(client: TestClient) -> None:
    answer = client.get("/lookup/isrc/ZZ0000000000")
    assert answer.status_code == 200
    assert answer.json() == []


def test_album_lookup_of_the_real_sample(client: TestClient, indexed: Mirror) -> None:
    album_id = release_gid(indexed, POLAR_MIX)
    album = client.get(f"/lookup/album/{album_id}").json()
    assert album["id"] == album_id
    assert album["title"] == POLAR_MIX
    assert album["type"] == "Album"
    assert album["secondary_types"] == ["Compilation"]
    assert (album["date"], album["country"]) == ("2007-03-23", "GB")
    assert (album["medium_count"], album["track_count"]) == (2, 25)
    assert album["artists"][0]["name"] == "Trentemøller"
    assert album["status"] == "Promotion"
    assert (album["label"], album["catalog_number"]) == ("King Biscuit Recordings", "KBCD109")
    xvi = client.get(f"/lookup/album/{release_gid(indexed, XVI)}").json()
    assert (xvi["barcode"], xvi["status"], xvi["catalog_number"]) == (
        "0028948022205",
        "Official",
        "4802220",
    )
    assert client.get("/lookup/barcode/0028948022205").json() == [xvi]


def test_album_tracks_are_in_disc_then_position_order(client: TestClient, indexed: Mirror) -> None:
    album_id = release_gid(indexed, POLAR_MIX)
    tracks = client.get(f"/lookup/album/{album_id}/tracks").json()
    assert len(tracks) == 25
    order = [(t["disc_number"], t["position"]) for t in tracks]
    assert order == sorted(order)
    assert {t["disc_number"] for t in tracks} == {1, 2}
    assert all(t["album_id"] == album_id and "album" not in t for t in tracks)


def test_recording_lookup_has_isrcs_albums_and_tracks(client: TestClient, indexed: Mirror) -> None:
    answer = client.get(f"/lookup/recording/{SAMPLE_RECORDING}").json()
    assert answer["id"] == SAMPLE_RECORDING
    assert answer["title"] == "Moon"
    assert answer["duration_ms"] == 367000
    assert [a["title"] for a in answer["albums"]] == ["XVI Reflections on Classical Music"]
    assert len(answer["tracks"]) == 1
    # Credits carry each artist's sort name (Picard's artist sort), the rest unchanged.
    assert answer["artists"] == [
        {
            "id": answer["artists"][0]["id"],
            "name": "Alva Noto & Ryuichi Sakamoto",
            "join_phrase": "",
            "sort_name": "Noto, Alva + Sakamoto, Ryuichi",
        }
    ]
    assert answer["tracks"][0]["artists"][0]["sort_name"] == "Noto, Alva + Sakamoto, Ryuichi"
    fan_out = client.get(f"/lookup/recording/{indexed.synthetic.fan_out}").json()
    albums = fan_out["albums"]
    assert len(albums) >= 20
    assert [_album_order_key(a) for a in albums] == sorted(_album_order_key(a) for a in albums)


def test_track_artist_release_group_lookups(client: TestClient, indexed: Mirror) -> None:
    album = client.get(f"/lookup/album/{release_gid(indexed, POLAR_MIX)}").json()
    group = client.get(f"/lookup/release-group/{album['release_group_id']}").json()
    assert group["id"] == album["release_group_id"]
    assert album["id"] in [a["id"] for a in group["albums"]]
    assert group["first_release_date"] == "2007-03-23"
    artist_id = album["artists"][0]["id"]
    artist = client.get(f"/lookup/artist/{artist_id}").json()
    assert artist["id"] == artist_id
    assert artist["name"] == "Trentemøller"
    assert set(artist["life_span"]) == {"begin", "end", "ended"}
    track = client.get(f"/lookup/album/{album['id']}/tracks").json()[0]
    single = client.get(f"/lookup/track/{track['id']}").json()
    assert single["album"]["id"] == album["id"]
    assert {k: v for k, v in single.items() if k != "album"} == track
    untyped = client.get(f"/lookup/release-group/{indexed.synthetic.untyped_release_group}")
    assert untyped.json()["type"] is None


def test_merged_ids_answer_with_the_current_entity(client: TestClient, indexed: Mirror) -> None:
    merged = indexed.synthetic.entity_redirects
    paths = {
        "artist": "/lookup/artist/{}",
        "release": "/lookup/album/{}",
        "release_group": "/lookup/release-group/{}",
        "track": "/lookup/track/{}",
    }
    for kind, (old, new) in merged.items():
        answer = client.get(paths[kind].format(old))
        assert answer.status_code == 200, (kind, answer.text)
        assert answer.json()["id"] == new, kind
    old, new = next(iter(indexed.synthetic.redirects.items()))
    assert client.get(f"/lookup/recording/{old}").json()["id"] == new
    tracks = client.get(f"/lookup/album/{merged['release'][0]}/tracks").json()
    assert tracks
    assert all(t["album_id"] == merged["release"][1] for t in tracks)


def test_barcode_lookup(client: TestClient, indexed: Mirror) -> None:
    release, code = next(iter(indexed.synthetic.barcodes.items()))
    albums = client.get(f"/lookup/barcode/{code}").json()
    assert release in [a["id"] for a in albums]
    assert all(a["barcode"] == code for a in albums)
    assert client.get("/lookup/barcode/999999999999999").json() == []


def test_unknown_ids_are_404_in_the_envelope(client: TestClient, indexed: Mirror) -> None:
    unknown = indexed.synthetic.unknown[0]
    for path in (
        "/lookup/track/{}",
        "/lookup/recording/{}",
        "/lookup/album/{}",
        "/lookup/album/{}/tracks",
        "/lookup/release-group/{}",
        "/lookup/artist/{}",
    ):
        answer = client.get(path.format(unknown))
        assert answer.status_code == 404, path
        body = answer.json()
        assert body["status"] == "error"
        assert body["error"]["code"] == 25
        assert unknown in body["error"]["message"]
