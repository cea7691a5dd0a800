"""Outages make a lookup answer error 13 (HTTP 503, Retry-After), never a false "no match".

A client told "no result" stores that (beets, Picard, Lidarr); one told "try again later"
retries. The index, the fingerprint database and the MusicBrainz mirror are each made
unreachable for real: a closed port, a deleted index, a database path that cannot be opened.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from earmark.db.engine import Databases
from earmark.index.client import HttpIndexClient
from earmark.musicbrainz.schema import MusicBrainzDatabase
from earmark.search import Searcher
from tests.api.harness import INDEX_NAME, ApiHarness
from tests.api.lookup_helpers import (
    SONGS,
    Song,
    error_of,
    lookup_counts,
    ok,
    post,
    song,
)

UNAVAILABLE = (503, 13, "service currently unavailable, try again later")


@pytest.fixture(scope="module")
def breeze(dev_corpus_vectors: Any) -> Song:
    return song(dev_corpus_vectors, SONGS["breeze"])


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _query(api: ApiHarness, fingerprint: Song, **extra: Any) -> dict[str, Any]:
    return {
        "client": api.client_key,
        "fingerprint": fingerprint.text,
        "duration": fingerprint.length,
        **extra,
    }


def _assert_unavailable(response: Any) -> None:
    assert error_of(response) == UNAVAILABLE
    assert int(response.headers["retry-after"]) >= 1


def _unreachable_url(dbs: Databases, tmp_path: Path) -> str:
    """The fingerprint database's URL pointed where no database answers."""
    url = dbs.fingerprint.url
    if url.get_backend_name() == "sqlite":
        # A directory cannot be opened as a database file.
        return url.set(database=str(tmp_path)).render_as_string(hide_password=False)
    return url.set(host="127.0.0.1", port=_closed_port()).render_as_string(hide_password=False)


@contextmanager
def _swapped(api: ApiHarness, name: str, value: Any) -> Iterator[None]:
    saved = getattr(api.services, name)
    setattr(api.services, name, value)
    try:
        yield
    finally:
        setattr(api.services, name, saved)


def test_index_server_down_is_error_13(api: ApiHarness, breeze: Song) -> None:
    gid = api.add_track(breeze.items, breeze.length)
    lookup_counts(api)
    down = HttpIndexClient(f"http://127.0.0.1:{_closed_port()}", timeout=2)
    try:
        with _swapped(api, "searcher", Searcher(down, INDEX_NAME)):
            _assert_unavailable(post(api, _query(api, breeze)))
            _assert_unavailable(post(api, _query(api, breeze, batch="1", format="json")))
            xml = post(api, _query(api, breeze, format="xml"))
            assert xml.status_code == 503
            assert b"<code>13</code>" in xml.content
            v1 = post(
                api,
                {"client": api.client_key, "fingerprint": breeze.text, "length": breeze.length},
                "/lookup",
            )
            assert v1.status_code == 503
            assert b"<code>13</code>" in v1.content
            # A trackid lookup does not need the index.
            assert ok(api, {"client": api.client_key, "trackid": str(gid)})["results"] == [
                {"id": str(gid), "score": 1.0}
            ]
    finally:
        down.close()
    # Failed lookups are not counted as misses.
    assert lookup_counts(api) == (1, 0)
    assert ok(api, _query(api, breeze))["results"] == [{"id": str(gid), "score": 1.0}]


def test_a_lost_index_is_error_13(api: ApiHarness, breeze: Song) -> None:
    api.add_track(breeze.items, breeze.length)
    assert api.searcher.index.delete_index(INDEX_NAME, expect_exists=True)
    _assert_unavailable(post(api, _query(api, breeze)))


def test_an_index_never_created_on_an_empty_catalogue_is_no_match(
    api: ApiHarness, breeze: Song
) -> None:
    """A fresh service has no index until its first import: that is "no match", not 13."""
    assert not api.searcher.index.index_exists(INDEX_NAME)
    assert ok(api, _query(api, breeze)) == {"status": "ok", "results": []}


def test_fingerprint_database_down_is_error_13(
    api: ApiHarness, breeze: Song, tmp_path: Path
) -> None:
    api.add_track(breeze.items, breeze.length)
    broken = Databases.single(_unreachable_url(api.dbs, tmp_path))
    try:
        with _swapped(api, "dbs", broken):
            _assert_unavailable(post(api, _query(api, breeze)))
            _assert_unavailable(
                post(
                    api,
                    {"client": api.client_key, "trackid": "5f7a5a6e-0b0b-4c6b-8f6e-111111111111"},
                )
            )
    finally:
        broken.dispose()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_mirror_down_is_error_13_when_metadata_is_asked(
    api: ApiHarness, breeze: Song, tmp_path: Path
) -> None:
    gid = api.add_track(breeze.items, breeze.length, mbids=[uuid.uuid4()])
    mirror = MusicBrainzDatabase.from_url(f"sqlite:///{tmp_path}")
    try:
        with _swapped(api, "mirror", mirror):
            # Without meta the mirror is not read.
            assert ok(api, _query(api, breeze))["results"] == [{"id": str(gid), "score": 1.0}]
            _assert_unavailable(post(api, _query(api, breeze, meta="recordings")))
    finally:
        mirror.dispose()
