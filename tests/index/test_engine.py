"""Engine semantics: updates, versions, metadata, search cut-offs (spec §2.3-§3)."""

from __future__ import annotations

from pathlib import Path

import pytest

from earmark.index.engine import (
    Delete,
    FingerprintNotFoundError,
    IndexAlreadyExistsError,
    IndexNotFoundError,
    Insert,
    InvalidFingerprintIdError,
    InvalidIndexNameError,
    MultiIndex,
    NewerIndexAlreadyExistsError,
    OlderIndexAlreadyExistsError,
    SearchParams,
    SetMetadata,
    VersionMismatchError,
)

from .conftest import MANUAL, h


def ids(results: list) -> list[tuple[int, int]]:
    return [(r.id, r.score) for r in results]


def q(index, *terms: int, **kw) -> list[tuple[int, int]]:
    return ids(index.search(SearchParams(h(*terms), **kw)))


@pytest.fixture
def index(engine: MultiIndex):
    engine.create("t")
    return engine.get("t")


@pytest.mark.parametrize("layout", ["memory", "checkpoint", "merged"])
def test_upsert_replaces_old_terms(index, layout: str) -> None:
    index.update([Insert(1, h(1, 2, 3))])
    reshape(index, layout)
    assert index.update([Insert(1, h(3, 4, 5))]) == 2
    reshape(index, layout)
    assert q(index, 1, 2, 3) == [(1, 1)]
    assert q(index, 1, 2) == []
    assert q(index, 3, 4, 5) == [(1, 3)]
    assert index.get_document(1) == 2


def reshape(index, layout: str) -> None:
    if layout == "checkpoint":
        index.flush()
    elif layout == "merged":
        index.flush()
        files = index.snapshot.files
        if len(files) > 1:
            index._merge_files(index.snapshot, 0, len(files))


@pytest.mark.parametrize("layout", ["memory", "checkpoint", "merged"])
def test_delete_hides_older_versions(index, layout: str) -> None:
    index.update([Insert(1, h(1, 2, 3)), Insert(2, h(1, 2, 3))])
    reshape(index, layout)
    index.update([Delete(1)])
    reshape(index, layout)
    assert q(index, 1, 2, 3) == [(2, 3)]
    with pytest.raises(FingerprintNotFoundError):
        index.get_document(1)
    # deleting an id that never existed succeeds
    index.update([Delete(99)])
    index.update([Insert(1, h(7))])
    reshape(index, layout)
    assert q(index, 7) == [(1, 1)]


def test_last_op_in_a_batch_wins(index) -> None:
    index.update([Insert(7, h(1, 2)), Delete(7), Delete(8), Insert(8, h(1, 2))])
    assert q(index, 1, 2) == [(8, 2)]
    with pytest.raises(FingerprintNotFoundError):
        index.get_document(7)
    index.update([Insert(9, h(1)), Insert(9, h(1, 2))])
    assert q(index, 1, 2) == [(8, 2), (9, 2)]


def test_versions_count_commits(index) -> None:
    assert index.update([]) == 1
    assert index.update([SetMetadata((("a", "1"),))]) == 2
    assert index.update([Insert(1, h(1))]) == 3
    assert index.version == 3
    assert index.get_document(1) == 3
    with pytest.raises(VersionMismatchError):
        index.update([Insert(2, h(1))], expected_version=2)
    assert index.version == 3
    assert index.update([Insert(2, h(1))], expected_version=3) == 4


def test_version_of_a_rewritten_document(index) -> None:
    for _ in range(100):
        index.update([Insert(1, h(1, 2, 3))])
    index.flush()
    assert index.get_document(1) == 100


def test_metadata_newest_wins(index) -> None:
    index.update([SetMetadata((("a", "1"), ("b", "2")))])
    index.flush()
    index.update([SetMetadata((("a", "3"),))])
    assert index.info().metadata == {"a": "3", "b": "2"}
    index.update([SetMetadata((("a", "4"),)), SetMetadata((("a", "5"),))])
    assert index.info().metadata == {"a": "5", "b": "2"}


def test_id_zero_rejected(index) -> None:
    with pytest.raises(InvalidFingerprintIdError):
        index.update([Insert(1, h(1)), Insert(0, h(1))])
    with pytest.raises(InvalidFingerprintIdError):
        index.update([Delete(0)])
    assert index.version == 0


def test_stored_duplicates_count_query_duplicates_do_not(index) -> None:
    index.update([Insert(1, h(5, 5, 6))])
    assert q(index, 5) == [(1, 2)]
    assert q(index, 5, 5, 5) == [(1, 2)]
    assert q(index, 5, 6) == [(1, 3)]


def test_default_min_score_uses_raw_query_length(index) -> None:
    index.update([Insert(1, h(1))])
    assert q(index, *([1] * 20)) == [(1, 1)]  # ceil(20/20) = 1
    assert q(index, *([1] * 21)) == []  # ceil(21/20) = 2 > 1
    assert q(index, *([1] * 21), min_score=1) == [(1, 1)]


def test_score_pct_is_relative_to_best_kept(index) -> None:
    terms = list(range(1, 101))
    index.update([Insert(1, h(*terms)), Insert(2, h(*terms[:9])), Insert(3, h(*terms[:10]))])
    assert q(index, *terms) == [(1, 100), (3, 10)]
    assert q(index, *terms, score_pct=0) == [(1, 100), (3, 10), (2, 9)]
    # once doc 1 is deleted the best kept result changes, and with it the threshold
    index.update([Delete(1)])
    assert q(index, *terms, min_score=1) == [(3, 10), (2, 9)]


def test_limit_clamped_and_ties_by_id(index) -> None:
    index.update([Insert(i, h(1, 2)) for i in range(200, 0, -1)])
    assert [r[0] for r in q(index, 1, 2, limit=0)] == [1]
    assert [r[0] for r in q(index, 1, 2, limit=1000)] == list(range(1, 101))
    assert [r[0] for r in q(index, 1, 2)] == list(range(1, 41))


def test_long_posting_lists_are_counted_exactly(index) -> None:
    # The reference stops after ~1000 docs per term in file segments (§3.2); we do not.
    index.update([Insert(i, h(1, 2, i + 10)) for i in range(1, 3001)])
    index.update([Insert(5000, h(1, 2, 3))])
    index.flush()
    res = q(index, 1, 2, 3, limit=100, min_score=3)
    assert res == [(5000, 3)]
    res = q(index, 1, 2, 2999 + 10, limit=100)
    assert res[0] == (2999, 3)


def test_empty_query_and_empty_hashes(index) -> None:
    index.update([Insert(1, h())])
    assert index.get_document(1) == 1
    assert q(index) == []
    assert q(index, 1) == []


def test_timeout_zero_means_none(index) -> None:
    index.update([Insert(1, h(1))])
    assert q(index, 1, timeout_ms=0) == [(1, 1)]


def test_stats(index) -> None:
    assert index.info().stats.num_segments == 0
    index.update([Insert(1, h(1)), SetMetadata((("foo", "bar"),))])
    info = index.info()
    assert info.version == 1
    assert (info.stats.min_doc_id, info.stats.max_doc_id) == (1, 1)
    assert (info.stats.num_segments, info.stats.num_docs) == (1, 1)


def test_index_lifecycle_and_generations(engine: MultiIndex) -> None:
    with pytest.raises(InvalidIndexNameError):
        engine.create("bad name")
    with pytest.raises(InvalidIndexNameError):
        engine.create("x" * 256)
    assert engine.create("_foo").generation == 1
    r = engine.create("a")
    assert (r.version, r.ready, r.generation) == (0, True, 1)
    engine.get("a").update([Insert(1, h(1))])
    assert engine.create("a").version == 1  # idempotent
    with pytest.raises(IndexAlreadyExistsError):
        engine.create("a", expect_does_not_exist=True)
    with pytest.raises(NewerIndexAlreadyExistsError):
        engine.create("a", generation=2)
    assert engine.create("a", generation=1).generation == 1
    assert engine.delete("a") is True
    assert engine.delete("a") is False
    with pytest.raises(IndexNotFoundError):
        engine.delete("a", expect_exists=True)
    with pytest.raises(IndexNotFoundError):
        engine.get("a")
    assert engine.create("a").generation == 2
    assert q(engine.get("a"), 1) == []  # old data never reappears
    engine.delete("a")
    with pytest.raises(OlderIndexAlreadyExistsError):
        engine.create("a", generation=2)
    assert engine.create("a", generation=7).generation == 7


def test_reopen_keeps_generations_and_data(tmp_path: Path) -> None:
    engine = MultiIndex(tmp_path, MANUAL)
    engine.create("a")
    engine.delete("a")
    engine.create("a")
    engine.get("a").update([Insert(1, h(1, 2))])
    engine.create("b")
    engine.get("b").update([Insert(2, h(3))])
    engine.get("b").flush()
    engine.get("b").update([Insert(3, h(3))])
    engine.close()
    engine = MultiIndex(tmp_path, MANUAL)
    try:
        assert engine.names() == ["a", "b"]
        assert engine.get("a").generation == 2
        assert q(engine.get("a"), 1, 2) == [(1, 2)]
        assert q(engine.get("b"), 3) == [(2, 1), (3, 1)]
        assert engine.get("b").version == 2
    finally:
        engine.close()
