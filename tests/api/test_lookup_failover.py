"""/v2/lookup over the index's replicas and shards (setting index_shards): one replica is killed
with SIGKILL between lookups and the API goes on answering, with the answers of a single index;
a rebuild spreads the fingerprints over a new shard layout."""

from __future__ import annotations

import contextlib
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from earmark import indexsync
from earmark.index.client import HttpIndexClient
from earmark.index.engine import MultiIndex
from earmark.index.server import create_app as create_index_app
from earmark.index.shards import ShardedIndexClient
from earmark.search import Searcher
from tests.api.harness import INDEX_NAME, ApiHarness
from tests.api.lookup_helpers import load_songs, post
from tests.index.process import ServerProcess
from tests.support import uvicorn_in_thread


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_lookups_go_on_while_a_replica_is_killed(
    api: ApiHarness, dev_corpus_vectors: Any, tmp_path: Path
) -> None:
    songs = load_songs(dev_corpus_vectors)
    for s in songs.values():
        api.add_track(s.items, s.length)
    queries = [
        {"client": api.client_key, "fingerprint": s.text, "duration": s.length}
        for s in songs.values()
    ]
    single = [post(api, q).json() for q in queries]
    assert all(answer["results"] for answer in single)
    api.engine.get(INDEX_NAME).flush()  # everything in segment files: a copy is the index
    replicas = []
    for n in range(2):
        data = tmp_path / f"replica{n}"
        shutil.copytree(api.index_root, data)
        replicas.append(ServerProcess(data))
    sharded = ShardedIndexClient([[r.url for r in replicas]], timeout=5)
    saved = api.services.searcher
    try:
        for r in replicas:
            r.start()
        api.services.searcher = Searcher(sharded, INDEX_NAME)
        api.services.metrics.add_shards_collector(sharded)
        answers = []
        for round_ in range(8):
            if round_ == 3:
                replicas[0].kill()
            for q in queries:
                response = post(api, q)
                assert response.status_code == 200, response.text
                answers.append(response.json())
        assert answers == single * 8
        stats = {s.url: s for s in sharded.stats()}
        assert stats[replicas[0].url].errors >= 1
        assert stats[replicas[1].url].requests > stats[replicas[0].url].requests
        metrics = api.client.get("/metrics").text
        dead = f'{{replica="{replicas[0].url}",shard="0"}}'
        for family in ("errors", "failovers"):
            found = re.search(
                rf"earmark_index_replica_{family}_total{re.escape(dead)} (\S+)", metrics
            )
            assert found is not None, metrics
            assert float(found.group(1)) == getattr(stats[replicas[0].url], family) >= 1
    finally:
        api.services.searcher = saved
        sharded.close()
        for r in replicas:
            r.kill()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_index_rebuild_spreads_the_fingerprints_over_a_new_shard_layout(
    api: ApiHarness, dev_corpus_vectors: Any, tmp_path: Path
) -> None:
    """Adding a shard: `earmark index rebuild` with the new index_shards re-indexes every
    fingerprint of the database into shard id % S (docs/index-cluster.md)."""
    songs = load_songs(dev_corpus_vectors)
    for s in songs.values():
        api.add_track(s.items, s.length)
    queries = [
        {"client": api.client_key, "fingerprint": s.text, "duration": s.length}
        for s in songs.values()
    ]
    single = [post(api, q).json() for q in queries]
    with contextlib.ExitStack() as stack:
        urls = []
        for n in range(2):
            engine = MultiIndex(tmp_path / f"shard{n}")
            stack.callback(engine.close)
            port = stack.enter_context(uvicorn_in_thread(create_index_app(engine)))
            urls.append(f"http://127.0.0.1:{port}")
        sharded = ShardedIndexClient([[u] for u in urls])
        stack.callback(sharded.close)
        total = api.engine.get(INDEX_NAME).info().stats.num_docs
        assert indexsync.rebuild(api.dbs, sharded, INDEX_NAME) == total
        counts = []
        for n, url in enumerate(urls):
            direct = HttpIndexClient(url)
            stack.callback(direct.close)
            stats = direct.get_index(INDEX_NAME).stats
            assert stats.min_doc_id % 2 == stats.max_doc_id % 2 == n
            counts.append(stats.num_docs)
        assert sum(counts) == total
        assert all(counts)
        saved = api.services.searcher
        api.services.searcher = Searcher(sharded, INDEX_NAME)
        try:
            assert [post(api, q).json() for q in queries] == single
        finally:
            api.services.searcher = saved
