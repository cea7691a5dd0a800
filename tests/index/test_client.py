"""The two client implementations behave the same (the HTTP one over the in-process app)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from earmark.index.client import HttpIndexClient, IndexClient, LocalIndexClient
from earmark.index.engine import (
    Delete,
    FingerprintNotFoundError,
    IndexAlreadyExistsError,
    IndexNotFoundError,
    Insert,
    MultiIndex,
    SetMetadata,
    VersionMismatchError,
)


@pytest.fixture(params=["local", "http"])
def index_client(request, engine: MultiIndex) -> Iterator[IndexClient]:
    if request.param == "local":
        yield LocalIndexClient(engine)
        return
    client = HttpIndexClient(request.getfixturevalue("live_url"))
    yield client
    client.close()


def test_client_roundtrip(index_client: IndexClient) -> None:
    c = index_client
    assert c.create_index("a").generation == 1
    with pytest.raises(IndexAlreadyExistsError):
        c.create_index("a", expect_does_not_exist=True)
    assert c.index_exists("a")
    assert not c.index_exists("b")
    v = c.update(
        "a",
        [Insert(1, np.array([1, 2, 3], dtype=np.uint32)), Insert(2, np.array([3, 4], np.uint32))],
        metadata={"k": "v"},
    )
    assert v == 1
    with pytest.raises(VersionMismatchError):
        c.update("a", [Delete(2)], expected_version=0)
    c.insert("a", 3, [1, 2, 3, 4])
    res = c.search("a", [1, 2, 3, 4])
    assert [(r.id, r.score) for r in res] == [(3, 4), (1, 3), (2, 2)]
    res = c.search("a", [1, 2, 3, 4], limit=1)
    assert [(r.id, r.score) for r in res] == [(3, 4)]
    assert [r.id for r in c.search("a", [4], min_score=1)] == [2, 3]
    c.delete("a", 3)
    with pytest.raises(FingerprintNotFoundError):
        c.get_document("a", 3)
    assert c.get_document("a", 1) == 1
    c.update("a", [SetMetadata((("k", "w"),))])
    info = c.get_index("a")
    assert info.version == 4
    assert dict(info.metadata) == {"k": "w"}
    assert info.stats.max_doc_id == 3
    status = c.status("a")
    assert (status.generation, status.version) == (1, 4)
    assert c.delete_index("a") is True
    assert c.delete_index("a") is False
    with pytest.raises(IndexNotFoundError):
        c.search("a", [1])
    with pytest.raises(IndexNotFoundError):
        c.delete_index("a", expect_exists=True)
