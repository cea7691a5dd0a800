"""``/v2/lookup`` batches (reference §3.1, §3.4): ``.N`` suffixes, swallowed errors, limits;
``trackid`` queries, merged tracks; hit/miss counting (§3.5) and rate limits.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import sqlalchemy as sa

from earmark.db import tracks
from earmark.db.tables import track as track_table
from earmark.ratelimit import Rates
from earmark.ratelimit.window import budget
from tests.api.harness import ApiHarness
from tests.api.lookup_helpers import (
    Song,
    error_of,
    load_songs,
    lookup_counts,
    ok,
    post,
    user_agent_requests,
)

M1 = uuid.UUID("5f7a5a6e-0b0b-4c6b-8f6e-111111111111")
M2 = uuid.UUID("0c3b6f4e-2a2a-4d4d-9e9e-222222222222")


@pytest.fixture(scope="module")
def songs(dev_corpus_vectors: Any) -> dict[str, Song]:
    return load_songs(dev_corpus_vectors)


# Batch.


def test_batch_answers_every_query_in_suffix_order(api: ApiHarness, songs: dict[str, Song]) -> None:
    breeze, boss, disko = songs["breeze"], songs["boss"], songs["disko"]
    gid_breeze = api.add_track(breeze.items, breeze.length)
    gid_boss = api.add_track(boss.items, boss.length)
    params = [
        ("client", api.client_key),
        ("batch", "1"),
        ("fingerprint.10", boss.text),
        ("duration.10", boss.length),
        ("fingerprint.2", disko.text),  # no match
        ("duration.2", disko.length),
        ("fingerprint", breeze.text),
        ("duration", breeze.length),
        ("fingerprint.3", breeze.text),
        ("duration.3", "0"),  # swallowed
        ("trackid.4", str(gid_boss)),
    ]
    body = ok(api, params)
    assert body == {
        "status": "ok",
        "fingerprints": [
            {"index": None, "results": [{"id": str(gid_breeze), "score": 1.0}]},
            {"index": 2, "results": []},
            {"index": 4, "results": [{"id": str(gid_boss), "score": 1.0}]},
            {"index": 10, "results": [{"id": str(gid_boss), "score": 1.0}]},
        ],
    }


@pytest.mark.parametrize("batch", ["1", "2", "-1", " 1 "])
def test_batch_is_any_nonzero_integer(api: ApiHarness, songs: dict[str, Song], batch: str) -> None:
    breeze = songs["breeze"]
    body = ok(
        api,
        {
            "client": api.client_key,
            "batch": batch,
            "fingerprint": breeze.text,
            "duration": breeze.length,
        },
    )
    assert body == {"status": "ok", "fingerprints": [{"index": None, "results": []}]}


@pytest.mark.parametrize("batch", ["0", "", "yes", "1.0"])
def test_batch_off(api: ApiHarness, songs: dict[str, Song], batch: str) -> None:
    breeze = songs["breeze"]
    body = ok(
        api,
        {
            "client": api.client_key,
            "batch": batch,
            "fingerprint": breeze.text,
            "duration": breeze.length,
        },
    )
    assert body == {"status": "ok", "results": []}


def test_batch_errors_are_swallowed_unless_nothing_parsed(
    api: ApiHarness, songs: dict[str, Song]
) -> None:
    breeze = songs["breeze"]
    gid = api.add_track(breeze.items, breeze.length)
    good = [("fingerprint.5", breeze.text), ("duration.5", breeze.length)]
    base = [("client", api.client_key), ("batch", "1")]
    # An error before a good query, and after one, is dropped.
    before = ok(api, [*base, ("fingerprint.1", "!!"), ("duration.1", "9"), *good])
    assert before["fingerprints"] == [{"index": 5, "results": [{"id": str(gid), "score": 1.0}]}]
    after = ok(api, [*base, *good, ("trackid.9", "nope")])
    assert after["fingerprints"] == before["fingerprints"]
    # Nothing parsed: the last query's error, not the first's.
    response = post(
        api, [*base, ("fingerprint.1", "!!"), ("duration.1", "9"), ("fingerprint.2", breeze.text)]
    )
    assert error_of(response) == (400, 2, 'missing required parameter "duration.2"')


@pytest.mark.parametrize(
    ("fingerprints", "trackids", "allowed"),
    [(20, 0, True), (21, 0, False), (0, 100, True), (0, 101, False), (20, 100, True)],
)
def test_batch_limits(
    api: ApiHarness, songs: dict[str, Song], fingerprints: int, trackids: int, allowed: bool
) -> None:
    breeze = songs["breeze"]
    gid = api.add_track(breeze.items, breeze.length)
    params: list[tuple[str, Any]] = [("client", api.client_key), ("batch", "1")]
    for i in range(fingerprints):
        params += [(f"fingerprint.{i}", breeze.text), (f"duration.{i}", breeze.length)]
    for i in range(trackids):
        params.append((f"trackid.{1000 + i}", str(gid)))
    response = post(api, params)
    if allowed:
        fps = response.json()["fingerprints"]
        assert len(fps) == fingerprints + trackids
        assert all(f["results"] == [{"id": str(gid), "score": 1.0}] for f in fps)
    else:
        assert error_of(response) == (413, 19, "request too large")


def test_batch_limits_count_only_the_queries_used(api: ApiHarness, songs: dict[str, Song]) -> None:
    """21 fingerprint queries of which one does not parse: 20 are used, which is allowed."""
    breeze = songs["breeze"]
    params: list[tuple[str, Any]] = [("client", api.client_key), ("batch", "1")]
    for i in range(21):
        params += [
            (f"fingerprint.{i}", breeze.text if i != 7 else "!!"),
            (f"duration.{i}", breeze.length),
        ]
    body = ok(api, params)
    assert len(body["fingerprints"]) == 20
    assert 7 not in [f["index"] for f in body["fingerprints"]]


# trackid.


def test_trackid_lookup(api: ApiHarness, songs: dict[str, Song]) -> None:
    breeze = songs["breeze"]
    gid = api.add_track(breeze.items, breeze.length)
    assert ok(api, {"client": api.client_key, "trackid": str(gid)})["results"] == [
        {"id": str(gid), "score": 1.0}
    ]
    # The gid is echoed as sent.
    assert ok(api, {"client": api.client_key, "trackid": str(gid).upper()})["results"] == [
        {"id": str(gid).upper(), "score": 1.0}
    ]
    unknown = str(uuid.uuid4())
    assert ok(api, {"client": api.client_key, "trackid": unknown})["results"] == []
    # trackid takes precedence over a fingerprint at the same suffix, even a broken one.
    params = {"client": api.client_key, "trackid": str(gid), "fingerprint": "!!", "duration": "0"}
    assert ok(api, params)["results"] == [{"id": str(gid), "score": 1.0}]


def test_trackid_of_a_merged_track_echoes_it_with_the_survivors_links(
    api: ApiHarness, songs: dict[str, Song]
) -> None:
    """There is no track-merge function in the data layer yet (merges are the reference's
    manual curation): the test puts the track table in the state a merge leaves (``new_id``
    pointing at the survivor, the survivor holding the links), as the data-layer tests do."""
    breeze, boss = songs["breeze"], songs["boss"]
    old = api.add_track(breeze.items, breeze.length, mbids=[M1])
    survivor = api.add_track(boss.items, boss.length, mbids=[M2])
    with api.dbs.write() as conns:
        survivor_track = tracks.get_by_gid(conns.fingerprint, survivor)
        assert survivor_track is not None
        conns.fingerprint.execute(
            sa.update(track_table).where(track_table.c.gid == old).values(new_id=survivor_track.id)
        )
    body = ok(api, {"client": api.client_key, "trackid": str(old), "meta": "recordingids"})
    assert body["results"] == [{"id": str(old), "score": 1.0, "recordings": [{"id": str(M2)}]}]
    batch = ok(
        api,
        [
            ("client", api.client_key),
            ("batch", "1"),
            ("meta", "recordingids"),
            ("trackid.0", str(old)),
            ("trackid.1", str(survivor)),
        ],
    )
    assert [f["results"] for f in batch["fingerprints"]] == [
        [{"id": str(old), "score": 1.0, "recordings": [{"id": str(M2)}]}],
        [{"id": str(survivor), "score": 1.0, "recordings": [{"id": str(M2)}]}],
    ]


# Counting (reference §3.5).


def test_single_lookups_count_once_per_request(api: ApiHarness, songs: dict[str, Song]) -> None:
    breeze, boss = songs["breeze"], songs["boss"]
    api.add_track(breeze.items, breeze.length)
    lookup_counts(api), user_agent_requests(api)  # drain the setup's
    ok(api, {"client": api.client_key, "fingerprint": breeze.text, "duration": breeze.length})
    assert lookup_counts(api) == (1, 0)
    ok(api, {"client": api.client_key, "fingerprint": boss.text, "duration": boss.length})
    assert lookup_counts(api) == (0, 1)
    # Several suffixed queries without batch: still one lookup.
    ok(
        api,
        [
            ("client", api.client_key),
            ("fingerprint.0", boss.text),
            ("duration.0", boss.length),
            ("fingerprint.1", breeze.text),
            ("duration.1", breeze.length),
        ],
    )
    assert lookup_counts(api) == (0, 1)
    assert user_agent_requests(api) == 3


def test_batch_lookups_count_once_per_query(api: ApiHarness, songs: dict[str, Song]) -> None:
    breeze, boss = songs["breeze"], songs["boss"]
    gid = api.add_track(breeze.items, breeze.length)
    lookup_counts(api), user_agent_requests(api)
    ok(
        api,
        [
            ("client", api.client_key),
            ("batch", "1"),
            ("fingerprint.0", boss.text),
            ("duration.0", boss.length),
            ("fingerprint.1", breeze.text),
            ("duration.1", breeze.length),
            ("trackid.2", str(gid)),
            ("trackid.3", str(uuid.uuid4())),
            ("trackid.4", "broken"),  # swallowed: not counted
        ],
    )
    assert lookup_counts(api) == (2, 2)
    # The user agent is counted once per request.
    assert user_agent_requests(api) == 1


def test_rate_limited_lookup_is_error_14_and_validation_comes_first(
    dbs: Any, tmp_path: Any, songs: dict[str, Song]
) -> None:
    rate = 1.0
    h = ApiHarness(dbs, tmp_path / "index", rates=Rates(application=rate, global_=0, ip=0))
    try:
        breeze = songs["breeze"]
        query = {"client": h.client_key, "fingerprint": breeze.text, "duration": breeze.length}
        # Invalid requests are refused before the limiter and use none of its budget.
        for _ in range(5):
            assert error_of(post(h, {**query, "duration": "0"}))[1] == 2
        allowed = int(budget(rate))
        responses = [post(h, query) for _ in range(allowed + 1)]
        assert [r.status_code for r in responses[:-1]] == [200] * allowed
        assert error_of(responses[-1])[:2] == (429, 14)
        assert int(responses[-1].headers["retry-after"]) >= 1
    finally:
        h.close()
