"""``POST /batch/lookup``: answers, not_found, merged ids, and a fixed number of statements."""

from __future__ import annotations

import uuid

from starlette.testclient import TestClient

from tests.catalog.data import gids, recording_isrcs, shared_isrc
from tests.musicbrainz.support import Mirror
from tests.support import statements_run


def test_batch_answers_every_list_and_lists_the_unknown(
    client: TestClient, indexed: Mirror
) -> None:
    code, tracks = shared_isrc(indexed)
    track_id = gids(indexed, "track", 1)[0]
    old_release, new_release = indexed.synthetic.entity_redirects["release"]
    artist = gids(indexed, "artist", 1)[0]
    unknown = indexed.synthetic.unknown[0]
    body = {
        "tracks": [track_id, unknown],
        "recordings": [indexed.synthetic.fan_out],
        "albums": [old_release],
        "artists": [artist.upper()],
        "isrcs": [code.lower(), "ZZ0000000000"],
    }
    answer = client.post("/batch/lookup", json=body)
    assert answer.status_code == 200, answer.text
    found = answer.json()
    assert found["tracks"][track_id]["id"] == track_id
    assert found["recordings"][indexed.synthetic.fan_out]["albums"]
    # Keyed by the id asked; the answer is the current entity.
    assert found["albums"][old_release]["id"] == new_release
    assert found["artists"][artist]["id"] == artist
    assert len(found["isrcs"][code]) == tracks
    assert found["not_found"] == {
        "tracks": [unknown],
        "recordings": [],
        "albums": [],
        "artists": [],
        "isrcs": ["ZZ0000000000"],
    }


def _batch(count: int, indexed: Mirror) -> dict[str, list[str]]:
    """``count`` ids spread over every list (a quarter of them unknown MBIDs)."""
    per = max(1, count // 5)
    lists = {
        "tracks": gids(indexed, "track", per),
        "recordings": gids(indexed, "recording", per),
        "albums": gids(indexed, "release", per),
        "artists": gids(indexed, "artist", per),
        "isrcs": recording_isrcs(indexed, per),
    }
    filler = [str(uuid.uuid5(uuid.NAMESPACE_URL, f"catalog-test/{n}")) for n in range(count)]
    lists["tracks"] += filler[: count - sum(len(v) for v in lists.values())]
    return {key: values for key, values in lists.items() if values}


def test_the_statement_count_does_not_depend_on_the_batch(
    client: TestClient, indexed: Mirror
) -> None:
    engine = indexed.database.engine
    counts = {}
    for size, body in (
        (1, {"tracks": gids(indexed, "track", 1)}),
        (1, {"isrcs": recording_isrcs(indexed, 1)}),
        (400, _batch(400, indexed)),
    ):
        assert sum(len(v) for v in body.values()) == size
        with statements_run(engine, _is_read) as seen:
            answer = client.post("/batch/lookup", json=body)
        assert answer.status_code == 200, answer.text
        counts[(size, tuple(body))] = len(seen)
    # 4 MBID resolutions, ISRCs, tracks, recordings, their ISRCs, releases, release events,
    # labels, artists, artist credits (earmark.musicbrainz.catalog).
    assert set(counts.values()) == {13}, counts


def _is_read(statement: str) -> bool:
    return statement.lstrip().upper().startswith(("SELECT", "WITH", "("))
