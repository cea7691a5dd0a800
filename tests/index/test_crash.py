"""kill -9 while a client streams updates and merges run: acknowledged updates survive,
an unacknowledged one is either whole or absent."""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from earmark.index.client import HttpIndexClient
from earmark.index.engine import Delete, EngineError, Insert, MultiIndex, SearchParams

from .conftest import MANUAL
from .model import ModelIndex
from .process import ServerProcess

DOCS = 400
CYCLES = 20


def update_for(version: int) -> list[Insert | Delete]:
    """The content of the commit that gets `version`: a pure function of it, so the expected
    state after any number of commits can be recomputed."""
    rng = random.Random(version)
    ids = rng.sample(range(1, DOCS + 1), 11)
    changes: list[Insert | Delete] = [
        Insert(d, np.array([version * 16 + i for i in range(6)] + [d + 10**6], dtype=np.uint32))
        for d in ids[:10]
    ]
    changes.append(Delete(ids[10]))
    return changes


def expected_state(version: int) -> ModelIndex:
    model = ModelIndex()
    for v in range(1, version + 1):
        model.update(update_for(v))
    return model


def verify(data: Path, acked: int) -> int:
    """Open the data dir in-process (recovery included) and compare with the model."""
    engine = MultiIndex(data, MANUAL)
    try:
        index = engine.get("t")
        version = index.version
        assert acked <= version <= acked + 1, (acked, version)
        model = expected_state(version)
        for doc in range(1, DOCS + 1):
            try:
                got = index.get_document(doc)
            except EngineError:
                got = None
            assert got == model.versions.get(doc), doc
        for doc, hashes in list(model.docs.items())[:50]:
            res = index.search(SearchParams(np.array(hashes, dtype=np.uint32), limit=1))
            assert [(r.id, r.score) for r in res] == [(doc, 7)]
        return version
    finally:
        engine.close()


@pytest.mark.slow
def test_kill_9_while_streaming_updates(tmp_path: Path) -> None:
    data = tmp_path / "data"
    # Small thresholds so that checkpoints and merges run all the time.
    server = ServerProcess(
        data,
        "--checkpoint-threshold",
        "800",
        "--checkpoint-age-ms",
        "200",
        "--max-segments",
        "3",
        "--idle-merge-ms",
        "300",
    )
    server.start()
    setup = HttpIndexClient(server.url)
    setup.create_index("t")
    setup.close()
    acked = 0
    rng = random.Random(1)
    try:
        for _cycle in range(CYCLES):
            stop = threading.Event()
            state = {"acked": acked}

            def stream(url: str, st: dict[str, int] = state, ev: threading.Event = stop) -> None:
                client = HttpIndexClient(url, timeout=5)
                try:
                    while not ev.is_set():
                        v = st["acked"] + 1
                        client.update("t", update_for(v), expected_version=v - 1)
                        st["acked"] = v
                except Exception:  # the server died under us: the update is unacknowledged
                    pass
                finally:
                    client.close()

            writer = threading.Thread(target=stream, args=(server.url,))
            writer.start()
            time.sleep(rng.uniform(0.2, 0.6))
            server.kill()
            stop.set()
            writer.join(10)
            acked = state["acked"]
            acked = verify(data, acked)
            server.start()
        assert acked > CYCLES * 5
    finally:
        server.kill()
    engine = MultiIndex(data, MANUAL)
    try:  # checkpoints ran (and so did merges, with at most 3 file segments allowed)
        print("acknowledged updates:", acked, "segments:", len(engine.get("t").snapshot.files))
        assert engine.get("t").snapshot.file_version > 0
    finally:
        engine.close()
