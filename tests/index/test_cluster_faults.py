"""Cluster faults: JetStream out of reach, entries in the stream that do not belong there, and
an index deleted and created again under the nodes."""

from __future__ import annotations

import asyncio
from pathlib import Path

import nats
import numpy as np
from nats.js.errors import NotFoundError

from earmark.index.cluster.feed import encode_entry
from earmark.index.engine import Insert
from earmark.index.engine.types import U32Array
from earmark.index.shards import ShardedIndexClient
from tests.index.cluster import Node, cluster_prefix, wait_converged
from tests.serve.process import wait_until
from tests.services import NATS_URL
from tests.tcp_proxy import TcpProxy

__all__ = ["cluster_prefix"]  # the fixture


def _hashes(*values: int) -> U32Array:
    return np.array(values, dtype=np.uint32)


def _search(node: Node, index: str, *terms: int) -> list[int]:
    r = node.http.post(f"/{index}/_search", json={"query": list(terms)})
    assert r.status_code == 200, r.text
    return [hit["id"] for hit in r.json()["results"]]


def test_jetstream_out_of_reach_refuses_writes_and_keeps_reads(
    cluster_prefix: str, tmp_path: Path
) -> None:
    host, _, port = NATS_URL.removeprefix("nats://").partition(":")
    proxy = TcpProxy((host, int(port or 4222)))
    cut_off = Node(tmp_path / "a", cluster_prefix, nats_url=proxy.url)
    other = Node(tmp_path / "b", cluster_prefix)
    try:
        cut_off.start()
        other.start()
        cut_off.http.put("/main")
        assert cut_off.http.put("/main/1", json={"hashes": [1, 2, 3]}).status_code == 200
        wait_converged([cut_off, other], "main", cut_off.version("main"))
        proxy.cut()
        wait_until(lambda: not cut_off.cluster()["connected"], 30, "the node sees the outage")
        refused = cut_off.http.put("/main/2", json={"hashes": [1, 2, 3]})
        assert refused.status_code == 503
        assert refused.json() == {"error": "ReplicationUnavailable"}
        assert cut_off.http.post("/main/_update", json={"changes": []}).status_code == 503
        metrics = cut_off.http.get("/_metrics").text
        assert "earmark_index_replication_refused_total 2" in metrics
        # Reads go on, from the local index.
        assert _search(cut_off, "main", 1, 2, 3) == [1]
        assert cut_off.http.get("/main/_health").status_code == 200
        assert _search(other, "main", 1, 2, 3) == [1]
        proxy.restore()
        wait_until(
            lambda: cut_off.http.put("/main/3", json={"hashes": [1, 2, 3]}).status_code == 200,
            30,
            "writes after NATS came back",
        )
        # The cut-off node follows the stream again: a write through the other reaches it.
        assert other.http.put("/main/4", json={"hashes": [1, 2, 3]}).status_code == 200
        wait_converged([cut_off, other], "main", other.version("main"))
        # The refused write was never acknowledged and never applied anywhere.
        for node in (cut_off, other):
            assert _search(node, "main", 1, 2, 3) == [1, 3, 4]
    finally:
        cut_off.close()
        other.close()
        proxy.close()


async def _publish_raw(subject: str, payload: bytes) -> None:
    nc = await nats.connect(NATS_URL)
    try:
        await nc.jetstream().publish(subject, payload)
    finally:
        await nc.close()


def test_bad_entries_stop_the_index_and_say_so(cluster_prefix: str, tmp_path: Path) -> None:
    node = Node(tmp_path / "a", cluster_prefix)
    try:
        node.start()
        for name in ("good", "garbled", "gap"):
            assert node.http.put(f"/{name}").status_code == 200
            assert node.http.put(f"/{name}/1", json={"hashes": [7, 8]}).status_code == 200
        version = node.version("gap")
        asyncio.run(_publish_raw(f"{cluster_prefix}.u.garbled.1", b"\xc1 not msgpack"))
        # A well-formed entry that claims to follow an entry the stream never held.
        entry = encode_entry(version + 1000, [Insert(2, _hashes(7, 8))])
        asyncio.run(_publish_raw(f"{cluster_prefix}.u.gap.1", entry))
        wait_until(lambda: len(_stopped(node)) == 2, 30, "both indexes stopped")
        assert node.http.get("/_health").status_code == 503
        status = node.cluster()["indexes"]
        assert status["good"]["state"] == "FOLLOWING"
        assert status["garbled"]["state"] == "STOPPED"
        assert "undecodable" in status["garbled"]["error"]
        assert status["gap"]["state"] == "STOPPED"
        assert "missing or out of order" in status["gap"]["error"]
        for name in ("garbled", "gap"):
            health = node.http.get(f"/{name}/_health")
            assert (health.status_code, health.text) == (503, "STOPPED\n")
            search = node.http.post(f"/{name}/_search", json={"query": [7, 8]})
            assert search.json() == {"error": "IndexNotReady"}
            write = node.http.put(f"/{name}/3", json={"hashes": [7]})
            assert write.json() == {"error": "ReplicationStopped"}
        # Nothing of the bad entries was applied; the good index still answers.
        assert node.cluster()["indexes"]["gap"]["version"] == version
        assert _search(node, "good", 7, 8) == [1]
        assert node.http.put("/good/2", json={"hashes": [7, 8]}).status_code == 200
        # One write is one NATS message: over the server's max_payload it is refused whole.
        huge = {"hashes": list(range(400_000))}
        refused = node.http.put("/good/9", json=huge)
        assert (refused.status_code, refused.json()) == (413, {"error": "BodyTooBig"})
        assert node.http.get("/good/9").status_code == 404
        # A write of many changes over max_payload goes as consecutive entries, in order.
        many = [{"insert": {"id": i, "hashes": list(range(i, i + 100))}} for i in range(10, 3010)]
        many.append({"delete": {"id": 10}})
        big = node.http.post("/good/_update", json={"changes": many})
        assert big.status_code == 200, big.text
        first = node.http.get("/good/11").json()["version"]
        assert first < node.http.get("/good/3009").json()["version"] == big.json()["version"]
        assert node.http.get("/good/10").status_code == 404
        assert node.cluster()["indexes"]["good"]["lag"] == 0
        too_big = {"changes": many, "expected_version": big.json()["version"]}
        refused = node.http.post("/good/_update", json=too_big)
        assert (refused.status_code, refused.json()) == (413, {"error": "BodyTooBig"})
        assert "replication of index gap stopped" in _stderr_after_stop(node)
    finally:
        node.close()


def _stopped(node: Node) -> list[str]:
    return [n for n, s in node.cluster()["indexes"].items() if s["state"] == "STOPPED"]


def _stderr_after_stop(node: Node) -> str:
    process = node.process
    assert process is not None
    node.stop()
    return process.stderr


async def _last_seq(stream: str, subject: str) -> int:
    nc = await nats.connect(NATS_URL)
    try:
        return int((await nc.jetstream().get_last_msg(stream, subject)).seq or 0)
    except NotFoundError:
        return 0
    finally:
        await nc.close()


def test_delete_and_recreate_reach_every_node(cluster_prefix: str, tmp_path: Path) -> None:
    nodes = [Node(tmp_path / "a", cluster_prefix), Node(tmp_path / "b", cluster_prefix)]
    a, b = nodes
    try:
        for node in nodes:
            node.start()
        a.http.put("/main")
        a.http.put("/main/1", json={"hashes": [4, 5]})
        wait_converged(nodes, "main", a.version("main"))
        assert asyncio.run(_last_seq(f"{cluster_prefix}_DATA", f"{cluster_prefix}.u.main.1")) > 0
        assert a.http.delete("/main").json() == {"deleted": True}
        wait_until(lambda: b.http.head("/main").status_code == 404, 30, "the delete on b")
        # The deleted lineage's entries are purged from the stream.
        assert asyncio.run(_last_seq(f"{cluster_prefix}_DATA", f"{cluster_prefix}.u.main.1")) == 0
        assert b.http.put("/main").json() == {"version": 0, "ready": True, "generation": 2}
        b.http.put("/main/2", json={"hashes": [4, 5]})
        wait_converged(nodes, "main", b.version("main"))
        for node in nodes:
            assert node.http.get("/main/_status").json()["generation"] == 2
            assert _search(node, "main", 4, 5) == [2]
    finally:
        for node in nodes:
            node.close()


def test_a_read_only_replica_passes_the_sharded_clients_writes_on(
    cluster_prefix: str, tmp_path: Path
) -> None:
    writer = Node(tmp_path / "w", cluster_prefix)
    replica = Node(tmp_path / "r", cluster_prefix, "--read-only")
    # The read-only replica listed first: writes still reach the writer.
    client = ShardedIndexClient([[replica.url, writer.url]])
    try:
        writer.start()
        replica.start()
        refused = replica.http.put("/main")
        assert (refused.status_code, refused.json()) == (403, {"error": "FeedIsReadOnly"})
        # Refused as read-only before the index is looked up: a replica that has not followed
        # an index's creation yet must not answer 404 (the sharded client would not go on).
        update = replica.http.post(
            "/not-yet/_update", json={"changes": [{"insert": {"id": 5, "hashes": [1]}}]}
        )
        put = replica.http.put("/not-yet/5", json={"hashes": [1]})
        for answer in (update, put):
            assert (answer.status_code, answer.json()) == (403, {"error": "FeedIsReadOnly"})
        client.create_index("main")
        version = client.update("main", [Insert(5, _hashes(1, 2, 3))])
        wait_converged([writer, replica], "main", version)
        assert [r.id for r in client.search("main", [1, 2, 3])] == [5]
        assert {s.url: s.errors for s in client.stats()} == {replica.url: 0, writer.url: 0}
    finally:
        client.close()
        writer.close()
        replica.close()
