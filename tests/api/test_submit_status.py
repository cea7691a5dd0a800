"""``/v2/submission_status`` (reference §4.3), ``wait`` on submit, and the queue wake-up."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from earmark.api import submit as submit_module
from earmark.db import submissions, tracks
from earmark.importer.decide import import_submission
from earmark.importer.worker import Worker
from earmark.indexsync import flush_outbox
from tests.api.harness import INDEX_NAME, ApiHarness
from tests.api.submit_helpers import error_of, fingerprint, keys, one, post


def status(api: ApiHarness, ids: list[Any], **extra: str) -> Any:
    pairs = [("client", api.client_key), *[("id", i) for i in ids], *extra.items()]
    return post(api, pairs, "/v2/submission_status").json()


def submit_ids(api: ApiHarness, *seeds: int, size: int = 120) -> list[int]:
    pairs = keys(api)
    for n, seed in enumerate(seeds):
        pairs += [
            (f"fingerprint.{n}", fingerprint(seed, size)),
            (f"duration.{n}", "150"),
            (f"track.{n}", f"song {seed}"),
        ]
    return [e["id"] for e in post(api, pairs).json()["submissions"]]


def track_gid(api: ApiHarness, submission_id: int) -> uuid.UUID:
    with api.dbs.read() as conns:
        result = submissions.get_result(conns.ingest, submission_id)
        assert result is not None
        found = tracks.get(conns.fingerprint, result.track_id)
    assert found is not None
    return found.gid


def test_pending_then_imported(api: ApiHarness) -> None:
    first, second = submit_ids(api, 1, 2)
    assert status(api, [first, second]) == {
        "status": "ok",
        "submissions": [{"id": first, "status": "pending"}, {"id": second, "status": "pending"}],
    }
    outcomes = api.import_pending()
    assert [o.status for o in outcomes] == ["imported", "imported"]
    assert status(api, [second, first])["submissions"] == [
        {"id": second, "status": "imported", "result": {"id": str(track_gid(api, second))}},
        {"id": first, "status": "imported", "result": {"id": str(track_gid(api, first))}},
    ]


def test_imported_but_not_yet_indexed_is_still_pending(api: ApiHarness) -> None:
    """``imported`` promises that a lookup finds the fingerprint: while the new fingerprint
    waits in the index outbox (committed, not yet sent to the index), the status stays
    ``pending``."""
    (sub_id,) = submit_ids(api, 7)
    with api.dbs.write() as conns:
        outcome = import_submission(conns, api.searcher, sub_id)
    assert outcome.status == "imported"
    assert outcome.new_fingerprint
    assert status(api, [sub_id])["submissions"] == [{"id": sub_id, "status": "pending"}]
    flush_outbox(api.dbs, api.searcher.index, INDEX_NAME)
    assert status(api, [sub_id])["submissions"] == [
        {"id": sub_id, "status": "imported", "result": {"id": str(track_gid(api, sub_id))}}
    ]


def test_skipped_and_failed_say_why(api: ApiHarness) -> None:
    # 50 distinct items: under the importer's 80, so it is skipped (docs/importer.md).
    short, doomed = submit_ids(api, 3, 4, size=50)[0], submit_ids(api, 5)[0]
    with api.dbs.write() as conns:
        # What the worker does after its last failed attempt.
        assert submissions.record_error(conns.ingest, doomed, "index exploded", max_attempts=1)
    api.import_pending()
    with api.dbs.read() as conns:
        skipped = submissions.get(conns.ingest, short)
    assert skipped is not None
    assert skipped.status == "skipped"
    assert skipped.reason
    assert status(api, [short, doomed])["submissions"] == [
        {"id": short, "status": "skipped", "reason": skipped.reason},
        {"id": doomed, "status": "failed", "reason": "index exploded"},
    ]


def test_ids_unknown_repeated_and_malformed(api: ApiHarness) -> None:
    [real] = submit_ids(api, 6)
    huge = "9" * 30
    ids = [real, "abc", real + 1000, "", "1.5", 0, -4, huge, "9" * 5000, real]
    assert status(api, ids)["submissions"] == [
        {"id": real, "status": "pending"},
        {"id": real + 1000, "status": "unknown"},
        {"id": 0, "status": "unknown"},
        {"id": -4, "status": "unknown"},
        {"id": int(huge), "status": "unknown"},
        {"id": real, "status": "pending"},
    ]


def test_status_request_errors_and_shapes(api: ApiHarness) -> None:
    path = "/v2/submission_status"
    assert error_of(post(api, [("id", "1")], path)) == (
        400,
        2,
        'missing required parameter "client"',
    )
    assert error_of(post(api, [("client", "nope"), ("id", "1")], path))[1] == 4
    assert status(api, []) == {"status": "ok", "submissions": []}
    [sid] = submit_ids(api, 7)
    xml = post(api, [("client", api.client_key), ("id", str(sid)), ("format", "xml")], path)
    assert b"<submissions><submission><id>%d</id><status>pending</status>" % sid in xml.content


# `wait` (Earmark's addition, bounded).


def record_waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The ``seconds`` of every wait a submit starts (the real wait then runs, at most 60 s,
    so that a broken cap fails an assertion instead of holding the suite)."""
    waits: list[float] = []
    wait_for_import = submit_module._wait_for_import

    async def recording(services: Any, ids: Any, seconds: float) -> Any:
        waits.append(seconds)
        return await wait_for_import(services, ids, min(seconds, 60.0))

    monkeypatch.setattr(submit_module, "_wait_for_import", recording)
    return waits


def record_looks(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The statuses a waiting submit saw at each of its looks, in order."""
    looks: list[list[str]] = []
    statuses = submit_module._statuses

    def recording(services: Any, ids: Any) -> Any:
        infos = statuses(services, ids)
        looks.append([infos[i].status if i in infos else "unknown" for i in ids])
        return infos

    monkeypatch.setattr(submit_module, "_statuses", recording)
    return looks


def test_wait_without_an_importer_answers_pending_after_the_wait(
    api: ApiHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    waits, looks = record_waits(monkeypatch), record_looks(monkeypatch)
    started = time.monotonic()
    body = post(api, [*one(api), ("wait", "1")]).json()
    elapsed = time.monotonic() - started
    assert [e["status"] for e in body["submissions"]] == ["pending"]
    assert waits == [1.0]
    assert looks
    assert all(look == ["pending"] for look in looks)
    # The wait is the feature: the answer comes no sooner than the second asked for.
    assert elapsed >= 1.0


@pytest.mark.parametrize("wait", ["0", "-3", "x", "1.5", ""])
def test_wait_that_is_not_a_positive_integer_is_ignored(
    api: ApiHarness, monkeypatch: pytest.MonkeyPatch, wait: str
) -> None:
    waits, looks = record_waits(monkeypatch), record_looks(monkeypatch)
    body = post(api, [*one(api), ("wait", wait)]).json()
    assert [e["status"] for e in body["submissions"]] == ["pending"]
    assert waits == []  # answered at once: no wait started, no status looked at
    assert looks == []


def test_wait_is_capped(api: ApiHarness, monkeypatch: pytest.MonkeyPatch) -> None:
    # The cap is 10 s; shortened here so the test stays fast.
    monkeypatch.setattr(submit_module, "MAX_WAIT_SECONDS", 0.5)
    waits = record_waits(monkeypatch)
    body = post(api, [*one(api), ("wait", "9" * 5000)]).json()
    assert [e["status"] for e in body["submissions"]] == ["pending"]
    assert waits == [0.5]


@pytest.fixture
def worker(api: ApiHarness) -> Iterator[Worker]:
    """The real importer running in the app's event loop, sharing its TableQueue."""
    portal = api.client.portal
    assert portal is not None
    # It idles an hour between polls: within a test only a publish can wake it.
    w = Worker(api.dbs, api.searcher, api.services.queue, min_idle=3600.0, max_idle=3600.0)

    def start() -> None:
        w.start()  # its task is awaitable: returning it would make the portal wait for it

    portal.call(start)
    yield w
    portal.call(w.stop)


def test_wait_answers_the_import(
    api: ApiHarness, worker: Worker, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The worker idles an hour between polls: only the publish wakes it within the wait. The
    # long wait is only a failure bound: the answer comes at the first look that sees the
    # import.
    monkeypatch.setattr(submit_module, "MAX_WAIT_SECONDS", 60.0)
    looks = record_looks(monkeypatch)
    time.sleep(0.3)  # let it reach its idle wait
    pairs = [
        *keys(api),
        ("fingerprint.0", fingerprint(8)),
        ("duration.0", "150"),
        ("track.0", "x"),
        ("fingerprint.1", fingerprint(9, size=40)),  # too few items: skipped
        ("duration.1", "150"),
        ("track.1", "y"),
        ("wait", "60"),
    ]
    body = post(api, pairs).json()
    imported, skipped = body["submissions"]
    assert imported == {
        "id": imported["id"],
        "index": "0",
        "status": "imported",
        "result": {"id": str(track_gid(api, imported["id"]))},
    }
    assert skipped["status"] == "skipped"
    assert skipped["index"] == "1"
    assert skipped["reason"]
    # It answered because the import was done, not because the wait ran out.
    assert looks[-1] == ["imported", "skipped"]
    assert all("pending" in look for look in looks[:-1])


def test_publish_wakes_a_waiting_fetch(api: ApiHarness) -> None:
    portal = api.client.portal
    assert portal is not None
    queue = api.services.queue
    fetching = portal.start_task_soon(queue.fetch, 10, 3600.0)
    time.sleep(0.3)  # the fetch found nothing and waits for up to an hour
    assert not fetching.done()
    try:
        [sid] = [e["id"] for e in post(api, one(api)).json()["submissions"]]
        # Only the publish can end the hour's wait; 60 s is the failure bound.
        deliveries = fetching.result(timeout=60)
    finally:
        fetching.cancel()  # a no-op once it returned
    assert len(deliveries) == 1
    with api.dbs.write() as conns:
        assert deliveries[0].claim(conns) == sid
