"""The lookup search on real fingerprints: index candidates, rescoring, modes, the outbox."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa

from earmark import indexsync
from earmark.chromaprint.compare import compare2
from earmark.db import fingerprints, tables
from earmark.db.engine import Databases, write_transaction
from earmark.index.client import HttpIndexClient, LocalIndexClient
from earmark.index.engine import IndexSettings, MultiIndex
from earmark.search import Match, Searcher, SearchUnavailableError, best_per_track

INDEX = "main"


def _items(vectors: Any, name: str) -> np.ndarray:
    return np.array(vectors["fingerprints"][name]["raw_unsigned"], dtype=np.uint32)


@pytest.fixture
def index(tmp_path: Path) -> Iterator[LocalIndexClient]:
    engine = MultiIndex(tmp_path / "index", IndexSettings(background=False))
    yield LocalIndexClient(engine)
    engine.close()


def _store(dbs: Databases, items: np.ndarray, length: int, track_id: int | None = None) -> int:
    """A fingerprint row (new track unless given) with its outbox row, as the importer writes."""
    with write_transaction(dbs.fingerprint) as conn:
        if track_id is None:
            track_id = conn.execute(
                sa.insert(tables.track).values(gid=uuid.uuid4()).returning(tables.track.c.id)
            ).scalar_one()
        fp_id = conn.execute(
            sa.insert(tables.fingerprint)
            .values(fingerprint=items, length=length, track_id=track_id, submission_count=1)
            .returning(tables.fingerprint.c.id)
        ).scalar_one()
        fingerprints.outbox_add(conn, fp_id)
    return int(fp_id)


@pytest.fixture
def catalogue(dbs: Databases, dev_corpus_vectors: Any, index: LocalIndexClient) -> dict[str, int]:
    """Every default (#120) corpus fingerprint stored and indexed: name → fingerprint id."""
    ids = {
        name: _store(dbs, _items(dev_corpus_vectors, name), 120)
        for name in dev_corpus_vectors["fingerprints"]
        if name.endswith("#120")
    }
    assert indexsync.flush_outbox(dbs, index, INDEX) == len(ids)
    with dbs.fingerprint.connect() as conn:
        assert fingerprints.outbox_size(conn) == 0
    return ids


def _search(dbs: Databases, index: Any, items: np.ndarray, duration: int, **kw: Any) -> list[Match]:
    with dbs.fingerprint.connect() as conn:
        return Searcher(index, INDEX).search(conn, items, duration, **kw)


def test_distorted_copies_find_their_original(
    dbs: Databases, index: LocalIndexClient, catalogue: dict[str, int], dev_corpus_vectors: Any
) -> None:
    distorted = [n for n in dev_corpus_vectors["fingerprints"] if "#whole-" in n]
    assert distorted
    for name in distorted:
        original = name.split("#")[0] + "#120"
        matches = _search(dbs, index, _items(dev_corpus_vectors, name), 121)
        assert matches, name
        assert matches[0].fingerprint_id == catalogue[original], name
        assert all(m.score > 0.4 for m in matches)
        assert matches == sorted(matches, key=lambda m: (-m.score, m.fingerprint_id))
        assert len(matches) <= 10


def test_scores_are_compare2_with_offset_80(
    dbs: Databases, index: LocalIndexClient, catalogue: dict[str, int], dev_corpus_vectors: Any
) -> None:
    pairs = [
        p
        for p in dev_corpus_vectors["pairs"]
        if p["b"] in catalogue and 0.45 < p["compare2_maxoffset_80"] < 0.99
    ]
    assert pairs
    for pair in pairs[:5]:
        matches = _search(dbs, index, _items(dev_corpus_vectors, pair["a"]), 120)
        by_id = {m.fingerprint_id: m.score for m in matches}
        expected = compare2(
            _items(dev_corpus_vectors, pair["b"]), _items(dev_corpus_vectors, pair["a"]), 80
        )
        assert expected == pytest.approx(pair["compare2_maxoffset_80"], abs=1e-5)
        assert by_id[catalogue[pair["b"]]] == pytest.approx(expected)


def test_duration_window(
    dbs: Databases, index: LocalIndexClient, catalogue: dict[str, int], dev_corpus_vectors: Any
) -> None:
    name = next(iter(catalogue))
    items = _items(dev_corpus_vectors, name)
    assert _search(dbs, index, items, 127)  # 7 s away: kept
    assert not _search(dbs, index, items, 128)  # 8 s away: filtered
    assert _search(dbs, index, items, 135, max_duration_diff=15)


def test_min_score_and_limit(
    dbs: Databases, index: LocalIndexClient, catalogue: dict[str, int], dev_corpus_vectors: Any
) -> None:
    name = next(iter(catalogue))
    items = _items(dev_corpus_vectors, name)
    assert _search(dbs, index, items, 120, min_score=0.99)[0].score == pytest.approx(1.0)
    assert _search(dbs, index, items, 120, limit=1) == _search(dbs, index, items, 120)[:1]


def test_unrelated_fingerprint_finds_nothing(
    dbs: Databases, index: LocalIndexClient, catalogue: dict[str, int], acoustid_fixtures: Any
) -> None:
    items = np.array(acoustid_fixtures["fingerprints"]["1A"]["raw_signed"])
    assert _search(dbs, index, items, 260) == []


def test_empty_and_silent_queries(dbs: Databases, index: LocalIndexClient) -> None:
    assert _search(dbs, index, np.zeros(0, dtype=np.uint32), 10) == []
    silence = np.full(500, 627964279, dtype=np.uint32)
    assert _search(dbs, index, silence, 60) == []


def test_slow_mode_sees_fingerprints_not_yet_indexed(
    dbs: Databases, index: LocalIndexClient, dev_corpus_vectors: Any
) -> None:
    name = next(n for n in dev_corpus_vectors["fingerprints"] if n.endswith("#120"))
    items = _items(dev_corpus_vectors, name)
    fp_id = _store(dbs, items, 120)  # written, not flushed to the index
    assert _search(dbs, index, items, 120, mode="fast") == []
    slow = _search(dbs, index, items, 120, mode="slow", min_score=0.75, limit=None)
    assert [m.fingerprint_id for m in slow] == [fp_id]
    indexsync.flush_outbox(dbs, index, INDEX)
    assert [m.fingerprint_id for m in _search(dbs, index, items, 120)] == [fp_id]


def test_index_unavailable(dbs: Databases, dev_corpus_vectors: Any) -> None:
    """Lookups answer without the index (no candidates); the importer must retry instead."""
    items = _items(dev_corpus_vectors, next(iter(dev_corpus_vectors["fingerprints"])))
    down = HttpIndexClient("http://127.0.0.1:9", timeout=0.5)
    try:
        assert _search(dbs, down, items, 120) == []
        with pytest.raises(SearchUnavailableError):
            _search(dbs, down, items, 120, mode="slow")
    finally:
        down.close()


def test_best_per_track_keeps_first_of_each_track() -> None:
    gid = uuid.uuid4()
    matches = [
        Match(3, 1, gid, 0.9, 120),
        Match(5, 2, uuid.uuid4(), 0.8, 120),
        Match(4, 1, gid, 0.7, 120),
    ]
    assert [m.fingerprint_id for m in best_per_track(matches)] == [3, 5]


def test_rebuild_indexes_everything_again(
    dbs: Databases, index: LocalIndexClient, catalogue: dict[str, int], dev_corpus_vectors: Any
) -> None:
    extra = _store(dbs, _items(dev_corpus_vectors, next(iter(catalogue))), 100)
    seen: list[int] = []
    assert indexsync.rebuild(dbs, index, INDEX, batch=7, progress=seen.append) == len(catalogue) + 1
    assert sum(seen) == len(catalogue) + 1
    with dbs.fingerprint.connect() as conn:
        assert fingerprints.outbox_size(conn) == 0
    name = next(iter(catalogue))
    found = {m.fingerprint_id for m in _search(dbs, index, _items(dev_corpus_vectors, name), 100)}
    assert extra in found


def test_slow_mode_refuses_a_lost_index(
    dbs: Databases, index: LocalIndexClient, catalogue: dict[str, int], dev_corpus_vectors: Any
) -> None:
    """Fingerprints were indexed, then the index vanished: importing now would duplicate."""
    index.delete_index(INDEX)
    items = _items(dev_corpus_vectors, next(iter(catalogue)))
    assert _search(dbs, index, items, 120) == []  # a lookup just finds nothing
    with pytest.raises(SearchUnavailableError, match="index rebuild"):
        _search(dbs, index, items, 120, mode="slow")


def test_slow_mode_refuses_when_the_index_is_far_behind(
    dbs: Databases,
    index: LocalIndexClient,
    dev_corpus_vectors: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import earmark.search

    monkeypatch.setattr(earmark.search, "MAX_UNINDEXED", 2)
    names = [n for n in dev_corpus_vectors["fingerprints"] if n.endswith("#120")][:3]
    for name in names:
        _store(dbs, _items(dev_corpus_vectors, name), 120)
    with pytest.raises(SearchUnavailableError, match="behind"):
        _search(dbs, index, _items(dev_corpus_vectors, names[0]), 120, mode="slow")
    indexsync.flush_outbox(dbs, index, INDEX)
    assert _search(dbs, index, _items(dev_corpus_vectors, names[0]), 120, mode="slow")
