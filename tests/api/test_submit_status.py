"""``/v2/submission_status`` (reference §4.3), ``wait`` on submit, and the queue wake-up."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from earmark.api import submit as submit_module
from earmark.db import submissions, tracks
from earmark.importer.worker import Worker
from tests.api.harness import ApiHarness
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


def test_wait_without_an_importer_answers_pending_after_the_wait(api: ApiHarness) -> None:
    started = time.monotonic()
    body = post(api, [*one(api), ("wait", "1")]).json()
    elapsed = time.monotonic() - started
    assert [e["status"] for e in body["submissions"]] == ["pending"]
    assert 0.9 <= elapsed < 5


@pytest.mark.parametrize("wait", ["0", "-3", "x", "1.5", ""])
def test_wait_that_is_not_a_positive_integer_is_ignored(api: ApiHarness, wait: str) -> None:
    started = time.monotonic()
    body = post(api, [*one(api), ("wait", wait)]).json()
    assert [e["status"] for e in body["submissions"]] == ["pending"]
    assert time.monotonic() - started < 0.9


def test_wait_is_capped(api: ApiHarness, monkeypatch: pytest.MonkeyPatch) -> None:
    # The cap is 10 s; shortened here so the test stays fast.
    monkeypatch.setattr(submit_module, "MAX_WAIT_SECONDS", 0.5)
    started = time.monotonic()
    post(api, [*one(api), ("wait", "9" * 5000)])
    assert time.monotonic() - started < 3


@pytest.fixture
def worker(api: ApiHarness) -> Iterator[Worker]:
    """The real importer running in the app's event loop, sharing its TableQueue."""
    portal = api.client.portal
    assert portal is not None
    w = Worker(api.dbs, api.searcher, api.services.queue, min_idle=5.0, max_idle=30.0)

    def start() -> None:
        w.start()  # its task is awaitable: returning it would make the portal wait for it

    portal.call(start)
    yield w
    portal.call(w.stop)


def test_wait_answers_the_import(api: ApiHarness, worker: Worker) -> None:
    # The worker idles 5-30 s between polls: only the publish wakes it within the wait.
    time.sleep(0.3)  # let it reach its idle wait
    pairs = [
        *keys(api),
        ("fingerprint.0", fingerprint(8)),
        ("duration.0", "150"),
        ("track.0", "x"),
        ("fingerprint.1", fingerprint(9, size=40)),  # too few items: skipped
        ("duration.1", "150"),
        ("track.1", "y"),
        ("wait", "8"),
    ]
    started = time.monotonic()
    body = post(api, pairs).json()
    assert time.monotonic() - started < 4
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


def test_publish_wakes_a_waiting_fetch(api: ApiHarness) -> None:
    portal = api.client.portal
    assert portal is not None
    queue = api.services.queue
    fetching = portal.start_task_soon(queue.fetch, 10, 30.0)
    time.sleep(0.3)  # the fetch found nothing and waits for up to 30 s
    assert not fetching.done()
    started = time.monotonic()
    [sid] = [e["id"] for e in post(api, one(api)).json()["submissions"]]
    deliveries = fetching.result(timeout=10)
    assert time.monotonic() - started < 5
    assert len(deliveries) == 1
    with api.dbs.write() as conns:
        assert deliveries[0].claim(conns) == sid
