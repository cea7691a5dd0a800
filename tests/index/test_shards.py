"""The sharded index client over real index servers (uvicorn in threads over real engines)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from earmark.app import open_index
from earmark.errors import ConfigError
from earmark.index.client import HttpIndexClient
from earmark.index.engine import Insert, MultiIndex, VersionMismatchError
from earmark.index.server import create_app
from earmark.index.shards import ShardedIndexClient, parse_shards, shard_of
from earmark.settings import load_settings
from tests.support import uvicorn_in_thread

from .conftest import MANUAL


@contextlib.contextmanager
def servers(root: Path, n: int) -> Iterator[list[str]]:
    with contextlib.ExitStack() as stack:
        urls = []
        for i in range(n):
            engine = MultiIndex(root / f"s{i}", MANUAL)
            stack.callback(engine.close)
            port = stack.enter_context(uvicorn_in_thread(create_app(engine)))
            urls.append(f"http://127.0.0.1:{port}")
        yield urls


def _load(client: ShardedIndexClient, rng: np.random.Generator) -> list[np.ndarray]:
    client.create_index("main")
    docs = [rng.integers(0, 3000, 40).astype(np.uint32) for _ in range(600)]
    for start in range(0, len(docs), 100):
        batch = [Insert(i + 1, docs[i]) for i in range(start, start + 100)]
        client.update("main", batch)
    client.update("main", [], metadata={"k": "v"})
    return docs


def test_three_shards_answer_as_one_index(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    with servers(tmp_path, 4) as urls:
        one = ShardedIndexClient([urls[:1]])
        three = ShardedIndexClient([[u] for u in urls[1:]])
        try:
            docs = _load(one, np.random.default_rng(1))
            _load(three, np.random.default_rng(1))
            # Every shard holds exactly its documents (id % 3).
            for n, url in enumerate(urls[1:]):
                direct = HttpIndexClient(url)
                info = direct.get_index("main")
                assert info.stats.num_docs == sum(1 for i in range(1, 601) if i % 3 == n)
                assert info.metadata == {"k": "v"}
                direct.close()
            assert three.get_index("main").stats.num_docs == 600
            for _ in range(40):
                doc = docs[int(rng.integers(0, len(docs)))]
                query = np.concatenate([doc[:25], rng.integers(0, 3000, 15).astype(np.uint32)])
                for kw in ({}, {"limit": 3}, {"min_score": 2, "score_pct": 0}, {"limit": 100}):
                    expected = one.search("main", query, **kw)  # type: ignore[arg-type]
                    assert three.search("main", query, **kw) == expected  # type: ignore[arg-type]
                    assert expected
            assert three.get_document("main", 7) > 0
            three.delete("main", 7)
            assert not [r for r in three.search("main", docs[6]) if r.id == 7]
        finally:
            one.close()
            three.close()


def test_failover_to_the_next_replica_and_back_off(tmp_path: Path) -> None:
    with servers(tmp_path, 2) as urls:
        alive = urls[1]
        dead = "http://127.0.0.1:1"  # nothing listens on port 1
        client = ShardedIndexClient([[dead, alive]], timeout=2)
        direct = HttpIndexClient(alive)
        try:
            direct.create_index("main")
            direct.update("main", [Insert(1, np.arange(10, dtype=np.uint32))])
            for _ in range(5):
                assert [r.id for r in client.search("main", range(10))] == [1]
            stats = {s.url: s for s in client.stats()}
            # The dead replica was tried once, then left alone during its back-off.
            assert stats[dead].errors == 1
            assert stats[dead].failovers == 1
            assert stats[alive].requests == 5
            assert stats[alive].errors == 0
        finally:
            client.close()
            direct.close()


def test_shard_rule_and_settings_parsing() -> None:
    assert [shard_of(i, 3) for i in range(1, 7)] == [1, 2, 0, 1, 2, 0]
    assert parse_shards("http://a/, http://b;http://c") == (("http://a", "http://b"), ("http://c",))
    for bad in ("", "http://a;;http://b", " ; "):
        with pytest.raises(ValueError, match="empty shard"):
            parse_shards(bad)


def test_expected_version_needs_one_shard(tmp_path: Path) -> None:
    with servers(tmp_path, 2) as urls:
        one = ShardedIndexClient([urls[:1]])
        two = ShardedIndexClient([[u] for u in urls])
        try:
            one.create_index("main")
            v = one.update("main", [Insert(1, np.arange(3, dtype=np.uint32))])
            with pytest.raises(VersionMismatchError):
                one.update("main", [], expected_version=v + 5)
            with pytest.raises(ValueError, match="single shard"):
                two.update("main", [], expected_version=1)
        finally:
            one.close()
            two.close()


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("http://a:6080;;http://b:6080", "an empty shard"),
        ("http://a:6080,ftp://b", "not an http"),
        ("http://a:99999", "out of range"),
        ("http://a:6080;http://b:x", "not a number"),
    ],
)
def test_a_bad_index_shards_setting_is_a_config_error(value: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        _open_index(value)


def _open_index(shards: str) -> None:
    open_index(load_settings(environ={"EARMARK_INDEX_SHARDS": shards}).settings).close()
