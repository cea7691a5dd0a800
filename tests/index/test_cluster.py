"""The index as a cluster: three real `earmark run index` processes over real NATS JetStream.

Writes go through two nodes while a bounded load runs; a replica, then a node taking writes, is
killed with SIGKILL in the middle and restarted; another replica is wiped and seeded from a
peer's snapshot. Every node must
then hold exactly the acknowledged writes: the same documents with the same terms as the test's
own model, and a WAL whose commits chain without a gap or an overlap (each stream entry applied
once).
"""

from __future__ import annotations

import http.server
import itertools
import shutil
import threading
from pathlib import Path

import httpx
import numpy as np

from tests.index.cluster import (
    KEEP_WAL,
    Node,
    cluster_prefix,
    commit_chain,
    document_terms,
    random_hashes,
    wait_converged,
)
from tests.serve.process import wait_until

__all__ = ["cluster_prefix"]  # the fixture


class GatedPeer:
    """A peer whose ``_snapshot`` (relayed from ``upstream``) waits for :attr:`release`."""

    def __init__(self, upstream: str) -> None:
        self.asked = threading.Event()
        self.release = threading.Event()
        peer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.endswith("/_snapshot"):
                    peer.asked.set()
                    peer.release.wait(30)
                answer = httpx.get(upstream + self.path, headers={"Accept": "application/json"})
                self.send_response(answer.status_code)
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def __enter__(self) -> GatedPeer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


class Load:
    """A bounded write load: ``batches`` `_update`s of inserts, rewrites and deletes."""

    def __init__(self, nodes: list[Node], batches: int, seed: int = 7) -> None:
        self.nodes = nodes
        self.batches = batches
        self.rng = np.random.default_rng(seed)
        self.model: dict[int, list[int]] = {}
        self.done = 0
        self.last_version = 0
        self.errors: list[str] = []

    def batch(self, n: int) -> None:
        changes: list[dict[str, object]] = []
        applied: dict[int, list[int] | None] = {}
        for _ in range(8):
            doc = int(self.rng.integers(1, 120))
            if doc in self.model and self.rng.random() < 0.2:
                changes.append({"delete": {"id": doc}})
                applied[doc] = None
            else:
                hashes = random_hashes(self.rng)
                changes.append({"insert": {"id": doc, "hashes": hashes}})
                applied[doc] = sorted(hashes)
        # Writes go through more than one node. A node killed under a write leaves its outcome
        # unknown (stored in the stream or not): the same batch then goes through the next
        # node, which makes it applied either way (upserts and deletes repeat safely).
        for attempt in range(len(self.nodes)):
            node = self.nodes[(n + attempt) % len(self.nodes)]
            try:
                r = node.http.post("/main/_update", json={"changes": changes})
                break
            except httpx.TransportError:
                continue
        else:
            self.errors.append(f"batch {n}: no node answered")
            return
        if r.status_code != 200:
            self.errors.append(f"{r.status_code} {r.text}")
            return
        for doc, terms in applied.items():
            if terms is None:
                self.model.pop(doc, None)
            else:
                self.model[doc] = terms
        self.last_version = max(self.last_version, int(r.json()["version"]))
        self.done += 1

    def run(self) -> None:
        for n in range(self.batches):
            self.batch(n)


def _assert_same(nodes: list[Node], model: dict[int, list[int]], version: int) -> None:
    for node in nodes:
        node.stop()
    for node in nodes:
        assert document_terms(node.data_dir, "main") == model, node.data_dir
        chain = commit_chain(node.data_dir, "main")
        # Each entry of the stream lies in exactly one (previous, commit] interval: no entry
        # missing (no gap) and none applied twice (no overlap).
        assert chain[0][0] == 0
        assert all(a[1] == b[0] for a, b in itertools.pairwise(chain)), chain
        assert chain[-1][1] == version


def test_writes_replicate_and_killed_nodes_resume_exactly_once(
    cluster_prefix: str, tmp_path: Path
) -> None:
    writer = Node(tmp_path / "writer", cluster_prefix, *KEEP_WAL)
    replica = Node(tmp_path / "replica", cluster_prefix, *KEEP_WAL)
    killed = Node(tmp_path / "killed", cluster_prefix, *KEEP_WAL)
    nodes = [writer, replica, killed]
    try:
        for node in nodes:
            node.start()
        assert writer.http.put("/main").json() == {"version": 0, "ready": True, "generation": 1}
        wait_until(lambda: all(n.ready("main") for n in nodes), 30, "main on every node")
        load = Load([writer, replica], batches=80)
        thread = threading.Thread(target=load.run)
        thread.start()
        wait_until(lambda: killed.version("main") > 0 and load.done >= 15, 30, "writes applied")
        killed.kill()
        assert thread.is_alive()
        wait_until(lambda: load.done >= 35 or not thread.is_alive(), 60, "writes while down")
        killed.start()
        # Then a node that takes writes is killed under them, and restarted.
        wait_until(lambda: load.done >= 50 or not thread.is_alive(), 60, "more writes")
        writer.kill()
        wait_until(lambda: load.done >= 65 or not thread.is_alive(), 60, "writes while down")
        writer.start()
        thread.join(120)
        assert not load.errors, load.errors
        assert load.done == load.batches
        wait_converged(nodes, "main", load.last_version)
        # A search answers the same everywhere.
        doc, terms = next(iter(load.model.items()))
        answers = [
            n.http.post("/main/_search", json={"query": terms}).json()["results"] for n in nodes
        ]
        assert answers[0][0] == {"id": doc, "score": len(terms)}
        assert answers[1:] == [answers[0], answers[0]]
        status = killed.cluster()["indexes"]["main"]
        assert status["state"] == "FOLLOWING"
        assert status["lag"] == 0
        assert 'earmark_index_replication_lag{index="main"} 0' in killed.http.get("/_metrics").text
        _assert_same(nodes, load.model, load.last_version)
    finally:
        for node in nodes:
            node.close()


def test_a_wiped_replica_bootstraps_from_a_peer_while_writes_go_on(
    cluster_prefix: str, tmp_path: Path
) -> None:
    writer = Node(tmp_path / "writer", cluster_prefix)
    wiped = Node(tmp_path / "wiped", cluster_prefix)
    try:
        writer.start()
        wiped.start()
        writer.http.put("/main")
        load = Load([writer], batches=40, seed=11)
        for n in range(20):
            load.batch(n)
        wait_converged([writer, wiped], "main", load.last_version)
        wiped.kill()
        shutil.rmtree(wiped.data_dir)
        thread = threading.Thread(target=lambda: [load.batch(n) for n in range(20, 40)])
        thread.start()
        with GatedPeer(writer.url) as gate:
            wiped.start("--peers", gate.url)
            # The snapshot is on its way: the index says LOADING and serves no (stale) reads.
            wait_until(lambda: gate.asked.is_set(), 30, "the snapshot asked for")
            health = wiped.http.get("/main/_health")
            assert (health.status_code, health.text) == (503, "LOADING\n")
            search = wiped.http.post("/main/_search", json={"query": [1]})
            assert (search.status_code, search.json()) == (503, {"error": "IndexNotReady"})
            assert wiped.http.get("/main/1").status_code == 503
            gate.release.set()
            thread.join(60)
        assert not load.errors, load.errors
        wait_converged([writer, wiped], "main", load.last_version)
        assert "restored main from" in (wiped.process.stderr if wiped.process else "")
        writer.stop()
        wiped.stop()
        assert document_terms(wiped.data_dir, "main") == load.model
        assert document_terms(writer.data_dir, "main") == load.model
    finally:
        writer.close()
        wiped.close()
