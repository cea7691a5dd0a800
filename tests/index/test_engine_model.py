"""Random histories of updates, checkpoints, merges and restarts against a plain model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from earmark.index.engine import (
    Delete,
    IndexSettings,
    Insert,
    MultiIndex,
    SearchParams,
    SetMetadata,
)
from earmark.index.engine.errors import FingerprintNotFoundError

from .model import ModelIndex

TERMS = st.integers(0, 12)
DOC = st.integers(1, 15)
INSERT = st.builds(
    lambda d, t: Insert(d, np.array(t, dtype=np.uint32)), DOC, st.lists(TERMS, max_size=8)
)
DELETE = st.builds(Delete, DOC)
META = st.builds(
    lambda k, v: SetMetadata(((k, v),)), st.sampled_from("ab"), st.text("xyz", max_size=2)
)
STEP = st.one_of(
    st.tuples(st.just("update"), st.lists(st.one_of(INSERT, INSERT, DELETE, META), max_size=5)),
    st.tuples(st.just("checkpoint"), st.none()),
    st.tuples(st.just("merge"), st.none()),
    st.tuples(st.just("memory_merge"), st.none()),
    st.tuples(st.just("restart"), st.none()),
)


def check(index, model: ModelIndex) -> None:
    assert index.version == model.version
    assert dict(index.info().metadata) == model.metadata
    for query in ([0, 1, 2, 3], list(range(13)), [5, 5, 6], [12]):
        for min_score in (None, 1, 2):
            got = [
                (r.id, r.score)
                for r in index.search(
                    SearchParams(np.array(query, dtype=np.uint32), min_score=min_score)
                )
            ]
            assert got == model.search(query, min_score=min_score), (query, min_score)
    for doc in range(1, 16):
        try:
            version = index.get_document(doc)
        except FingerprintNotFoundError:
            version = None
        assert version == model.versions.get(doc)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=st.lists(STEP, max_size=25))
def test_engine_matches_model(tmp_path_factory, steps) -> None:
    root: Path = tmp_path_factory.mktemp("model")
    cfg = IndexSettings(
        background=False,
        checkpoint_threshold=10**12,
        checkpoint_age_s=0,
        merge_factor=2,
        merge_base_items=1,
        max_file_segments=3,
        max_memory_segments=2,
    )
    engine = MultiIndex(root, cfg)
    try:
        engine.create("m")
        model = ModelIndex()
        for kind, arg in steps:
            index = engine.get("m")
            if kind == "update":
                assert index.update(arg) == model.update(arg)
            elif kind == "checkpoint":
                index.flush()
            elif kind == "merge":
                snap = index.snapshot
                if len(snap.files) >= 2:
                    index._merge_files(snap, 0, len(snap.files))
                index.run_maintenance()
            elif kind == "memory_merge":
                if len(index.snapshot.memory) >= 2:
                    index._merge_memory(index.snapshot)
            else:
                engine.close()
                engine = MultiIndex(root, cfg)
            check(engine.get("m"), model)
    finally:
        engine.close()
