"""Index cluster nodes as real processes (`earmark run index --cluster-stream`) for the tests.

Each node keeps its port across restarts; the streams of a test get a prefix of their own and
are deleted at the end (:func:`cluster_prefix`).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import signal
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import nats
import numpy as np
import pytest
from nats.js.errors import NotFoundError

from earmark.index.engine import IndexSettings, MultiIndex
from earmark.index.engine.wal import decode_record
from tests.serve.process import Process, clean_environment, earmark_command, free_port, wait_until
from tests.services import NATS_URL, RUN_ID, require_nats

_prefixes = itertools.count()
#: No checkpoints, merges or idle merges: every commit of a test stays a WAL record.
KEEP_WAL = (
    "--checkpoint-threshold",
    "1000000000",
    "--checkpoint-age-ms",
    "0",
    "--idle-merge-ms",
    "0",
)


async def _delete_streams(prefix: str) -> None:
    nc = await nats.connect(NATS_URL)
    try:
        js = nc.jetstream()
        for stream in (f"{prefix}_META", f"{prefix}_DATA"):
            with contextlib.suppress(NotFoundError):
                await js.delete_stream(stream)
    finally:
        await nc.close()


@pytest.fixture
def cluster_prefix() -> Iterator[str]:
    """A stream prefix no other test or run uses; its streams are deleted afterwards."""
    require_nats()
    prefix = f"EMIDX{RUN_ID}{next(_prefixes)}"
    yield prefix
    asyncio.run(_delete_streams(prefix))


class Node:
    """One `earmark run index` of a cluster; ``start`` again after ``kill`` on the same port."""

    def __init__(self, data_dir: Path, prefix: str, *extra: str, nats_url: str = NATS_URL) -> None:
        self.data_dir = data_dir
        self.prefix = prefix
        self.extra = extra
        self.nats_url = nats_url
        self.port = free_port()
        self.process: Process | None = None
        self.http = httpx.Client(base_url=self.url, timeout=10)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, *more: str) -> Node:
        argv = [
            *earmark_command(),
            "run",
            "index",
            "--dir",
            str(self.data_dir),
            "--port",
            str(self.port),
            "--cluster-stream",
            self.prefix,
            *self.extra,
            *more,
        ]
        env = clean_environment(EARMARK_NATS_URL=self.nats_url)
        self.process = Process(argv, env, name=f"index:{self.port}")
        process = self.process

        def up() -> bool:
            if process.proc.poll() is not None:
                pytest.fail(f"exited while starting: {process.describe()}")
            return self.http.get("/_health").status_code in (200, 503)

        wait_until(up, 60, f"{self.url}/_health")
        return self

    def kill(self) -> None:
        """``kill -9``: nothing is flushed, closed or acknowledged any more."""
        if self.process is not None:
            self.process.send(signal.SIGKILL)
            self.process.wait(10)
            self.process = None

    def stop(self) -> None:
        if self.process is not None:
            self.process.send(signal.SIGTERM)
            self.process.wait(30)
            self.process = None

    def close(self) -> None:
        self.kill()
        self.http.close()

    def version(self, index: str) -> int:
        r = self.http.get(f"/{index}")
        return int(r.json()["version"]) if r.status_code == 200 else -1

    def ready(self, index: str) -> bool:
        return self.http.get(f"/{index}/_health").status_code == 200

    def cluster(self) -> dict[str, Any]:
        data: dict[str, Any] = self.http.get("/_cluster").json()
        return data


def wait_converged(nodes: list[Node], index: str, version: int, timeout: float = 30) -> None:
    wait_until(
        lambda: all(n.ready(index) and n.version(index) == version for n in nodes),
        timeout,
        f"every node at version {version} of {index}",
    )


def document_terms(data_dir: Path, index: str) -> dict[int, list[int]]:
    """Every live document of ``index`` in a (stopped) node's data dir, with its sorted terms."""
    engine = MultiIndex(data_dir, IndexSettings(background=False))
    try:
        docs: dict[int, list[int]] = {}
        seen: set[int] = set()
        for seg in reversed(engine.get(index).snapshot.segments):
            for pos, doc in enumerate(seg.doc_ids.tolist()):
                if doc in seen:
                    continue
                seen.add(doc)
                if bool(seg.doc_alive[pos]):
                    docs[doc] = sorted(seg.terms[seg.postings == doc].tolist())
        return docs
    finally:
        engine.close()


def commit_chain(data_dir: Path, index: str) -> list[tuple[int, int]]:
    """``(previous, commit id)`` of every WAL record of ``index``'s live generation, in order."""
    (generation,) = [d for d in (data_dir / index).iterdir() if d.is_dir()]
    chain: list[tuple[int, int]] = []
    head = struct.Struct("<II")
    for path in sorted((generation / "wal").glob("*.wal")):
        data = path.read_bytes()
        pos = 0
        while pos + head.size <= len(data):
            length, _crc = head.unpack_from(data, pos)
            commit, previous, _changes = decode_record(
                data[pos + head.size : pos + head.size + length]
            )
            chain.append((previous, commit))
            pos += head.size + length
    return chain


def random_hashes(rng: np.random.Generator, n: int = 30) -> list[int]:
    return [int(x) for x in rng.integers(0, 1 << 20, n)]
