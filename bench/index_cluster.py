"""Benchmark of the index as a cluster (docs/index-cluster.md) over a real NATS JetStream.

    .venv/bin/python bench/index_cluster.py [--docs 100000] [--rate 5000] [--seconds 10]

1. **Ingest** ``--docs`` documents (120 terms, bench/index.py's generator) through a writer
   node while one replica follows; documents/s acknowledged (each batch stored in JetStream,
   then committed on the writer).
2. **Replication lag** at a steady ``--rate`` documents/s for ``--seconds``: writes of
   ``--lag-batch`` documents (250) on a fixed schedule; a poller reads the replica's version
   every 10 ms (more often, the poller itself starves the replica of CPU on two cores); a
   write's lag is the time from its acknowledgement to the first poll that shows it applied.
3. **Bootstrap** of a new node holding nothing: from a peer's snapshot (``--peers``), and by
   replaying the stream; seconds until its ``/bench/_health`` answers 200.
4. **Searches/s** (2 client threads) and p50 latency: one node directly (the plain HTTP
   client), one node through the sharded client (the routing layer's own cost), 2 replicas
   of one shard, and 2 shards of half the documents each.
5. **Sizing**: RSS and disk of a node, JetStream bytes per document.

The streams get a fresh prefix and are deleted at the end (NATS: ``EARMARK_BENCH_NATS_URL``,
default nats://127.0.0.1:4222). The machine's 2 cores are shared by every process here (and
by whatever else runs): the nodes compete with each other and with the client.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
import nats
import numpy as np
from nats.js.errors import NotFoundError

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from earmark.index.client import HttpIndexClient  # noqa: E402
from earmark.index.engine import Insert  # noqa: E402
from earmark.index.shards import ShardedIndexClient  # noqa: E402
from index import disk_bytes, generate_docs, make_queries, pct, rss_mib  # noqa: E402

NATS_URL = os.environ.get("EARMARK_BENCH_NATS_URL", "nats://127.0.0.1:4222")
INDEX = "bench"
BATCH = 1000


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Node:
    def __init__(self, data: Path, prefix: str | None, *extra: str) -> None:
        self.data = data
        self.port = _free_port()
        cmd = [sys.executable, "-m", "earmark.cli.run_index", "--dir", str(data)]
        cmd += ["--port", str(self.port)]
        if prefix:
            cmd += ["--cluster-stream", prefix]
        env = {**os.environ, "EARMARK_NATS_URL": NATS_URL}
        self.started = time.perf_counter()
        self.proc = subprocess.Popen([*cmd, *extra], env=env, stderr=subprocess.DEVNULL)
        self.url = f"http://127.0.0.1:{self.port}"
        self.http = httpx.Client(base_url=self.url, timeout=120)

    def wait(self, path: str = "/_health") -> float:
        """Seconds from the start until ``path`` answers 200."""
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"node on {self.port} exited")
            try:
                if self.http.get(path).status_code == 200:
                    return time.perf_counter() - self.started
            except httpx.TransportError:
                pass
            time.sleep(0.01)

    def version(self) -> int:
        return int(self.http.get(f"/{INDEX}").json().get("version", -1))

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(60)
        self.http.close()


def ingest(client: HttpIndexClient | ShardedIndexClient, docs: np.ndarray) -> float:
    start = time.perf_counter()
    for b in range(0, docs.shape[0], BATCH):
        client.update(INDEX, [Insert(b + i + 1, row) for i, row in enumerate(docs[b : b + BATCH])])
    return docs.shape[0] / (time.perf_counter() - start)


def replication_lag(
    writer: HttpIndexClient,
    replica: Node,
    docs: np.ndarray,
    rate: int,
    seconds: float,
    per_batch: int,
) -> dict[str, float]:
    """Lag of every write at a steady ``rate`` documents/s (batches of ``per_batch``)."""
    interval = per_batch / rate
    batches = int(seconds * rate / per_batch)
    acks: list[tuple[int, float]] = []
    seen: list[tuple[float, int]] = []
    done = threading.Event()

    def poll() -> None:
        with httpx.Client(base_url=replica.url, timeout=10) as c:
            while not done.is_set():
                v = int(c.get(f"/{INDEX}").json()["version"])
                seen.append((time.perf_counter(), v))
                time.sleep(0.01)

    poller = threading.Thread(target=poll)
    poller.start()
    start = time.perf_counter()
    base = int(docs.shape[0])
    for n in range(batches):
        due = start + n * interval
        if (wait := due - time.perf_counter()) > 0:
            time.sleep(wait)
        rows = docs[(n * per_batch) % base : (n * per_batch) % base + per_batch]
        first = base + n * per_batch + 1
        v = writer.update(INDEX, [Insert(first + i, r) for i, r in enumerate(rows)])
        acks.append((v, time.perf_counter()))
    achieved = batches * per_batch / (time.perf_counter() - start)
    # (below ``rate`` when the writes themselves take longer than the schedule allows)
    last = acks[-1][0]
    while not seen or seen[-1][1] < last:
        time.sleep(0.01)
    done.set()
    poller.join()
    lags = []
    j = 0
    for v, t in acks:
        while seen[j][1] < v:
            j += 1
        lags.append(max(0.0, seen[j][0] - t))
    return {
        "rate_docs_per_s": achieved,
        "lag_p50_ms": pct(lags, 50),
        "lag_p99_ms": pct(lags, 99),
        "lag_max_ms": max(lags) * 1000,
    }


def searches(
    search: Callable[[np.ndarray], object], queries: np.ndarray, threads: int = 2
) -> dict[str, float]:
    latencies: list[list[float]] = [[] for _ in range(threads)]

    def worker(k: int) -> None:
        for i in range(k, queries.shape[0], threads):
            t0 = time.perf_counter()
            search(queries[i])
            latencies[k].append(time.perf_counter() - t0)

    start = time.perf_counter()
    pool = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    wall = time.perf_counter() - start
    flat = [x for lat in latencies for x in lat]
    return {"searches_per_s": len(flat) / wall, "p50_ms": pct(flat, 50), "p99_ms": pct(flat, 99)}


async def _stream_bytes(prefix: str) -> int:
    nc = await nats.connect(NATS_URL)
    try:
        info = await nc.jetstream().stream_info(f"{prefix}_DATA")
        return int(info.state.bytes)
    finally:
        await nc.close()


async def _delete_streams(prefix: str) -> None:
    nc = await nats.connect(NATS_URL)
    try:
        js = nc.jetstream()
        for s in (f"{prefix}_META", f"{prefix}_DATA"):
            with contextlib.suppress(NotFoundError):
                await js.delete_stream(s)
    finally:
        await nc.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--docs", type=int, default=100_000)
    ap.add_argument("--rate", type=int, default=5000, help="documents/s of the lag test")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--lag-batch", type=int, default=250, help="documents per write (lag test)")
    ap.add_argument("--queries", type=int, default=1000)
    args = ap.parse_args()

    prefix = f"EMBENCH{uuid.uuid4().hex[:8]}"
    tmp = Path(tempfile.mkdtemp(prefix="earmark-cluster-bench-"))
    docs = generate_docs(args.docs)
    picks, queries = make_queries(docs, args.queries)
    del picks
    out: dict[str, object] = {"docs": args.docs}
    nodes: list[Node] = []
    clients: list[HttpIndexClient | ShardedIndexClient] = []
    try:
        writer = Node(tmp / "writer", prefix)
        replica = Node(tmp / "replica", prefix, "--read-only")
        nodes += [writer, replica]
        writer.wait()
        replica.wait()
        direct = HttpIndexClient(writer.url)
        clients.append(direct)
        direct.create_index(INDEX)
        out["ingest_docs_per_s"] = ingest(direct, docs)
        t0 = time.perf_counter()
        while replica.version() < writer.version():
            time.sleep(0.01)
        out["replica_catch_up_after_ingest_s"] = time.perf_counter() - t0
        out["lag"] = replication_lag(direct, replica, docs, args.rate, args.seconds, args.lag_batch)
        total = args.docs + int(args.seconds * args.rate)
        out["jetstream_bytes_per_doc"] = asyncio.run(_stream_bytes(prefix)) / total
        for name, extra in (("peer_snapshot", ("--peers", writer.url)), ("stream_replay", ())):
            node = Node(tmp / f"boot-{name}", prefix, "--read-only", *extra)
            nodes.append(node)
            out[f"bootstrap_{name}_s"] = node.wait(f"/{INDEX}/_health")
            node.stop()
        time.sleep(12)  # the writer merges its segments down once idle (10 s)
        out["node_rss_mib"] = rss_mib(writer.proc.pid)
        out["node_disk_mib"] = disk_bytes(writer.data) / 2**20
        out["node_docs"] = total

        def search_with(
            client: HttpIndexClient | ShardedIndexClient,
        ) -> Callable[[np.ndarray], object]:
            return lambda q: client.search(INDEX, q, limit=10)

        one_routed = ShardedIndexClient([[writer.url]])
        two_replicas = ShardedIndexClient([[writer.url, replica.url]])
        clients += [one_routed, two_replicas]
        # Direct and routed in turns, the better of two runs each: background merges and
        # other work on the machine move single runs by more than the routing costs.
        runs: dict[str, list[dict[str, float]]] = {"direct": [], "routed": []}
        for _ in range(2):
            runs["direct"].append(searches(search_with(direct), queries))
            runs["routed"].append(searches(search_with(one_routed), queries))
        for kind, found in runs.items():
            out[f"search_1_node_{kind}"] = min(found, key=lambda r: r["p50_ms"])
        out["search_2_replicas"] = searches(search_with(two_replicas), queries)
        for n in nodes:
            n.stop()
        # Two standalone shards holding half the documents each (id % 2).
        shards = [Node(tmp / f"shard{i}", None) for i in range(2)]
        nodes += shards
        for s in shards:
            s.wait()
        two_shards = ShardedIndexClient([[s.url] for s in shards])
        clients.append(two_shards)
        two_shards.create_index(INDEX)
        ingest(two_shards, docs)
        time.sleep(12)
        out["search_2_shards"] = searches(search_with(two_shards), queries)
        direct_p50 = out["search_1_node_direct"]["p50_ms"]  # type: ignore[index]
        routed_p50 = out["search_1_node_routed"]["p50_ms"]  # type: ignore[index]
        out["routing_overhead_p50_pct"] = (routed_p50 / direct_p50 - 1) * 100
    finally:
        for c in clients:
            c.close()
        for n in nodes:
            n.stop()
        asyncio.run(_delete_streams(prefix))
        shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
