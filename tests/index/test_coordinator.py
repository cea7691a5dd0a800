"""`earmark run index --coordinator`: the reference's coordinator protocol (spec §6.3) as a real
process over real NATS JetStream, killed and restarted without losing its changelog."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import msgpack
import nats
import pytest
from nats.js.errors import NotFoundError

from tests.serve.process import Process, clean_environment, earmark_command, free_port, wait_until
from tests.services import NATS_URL, RUN_ID, require_nats

_prefixes = itertools.count()


async def _delete_streams(prefix: str) -> None:
    nc = await nats.connect(NATS_URL)
    try:
        js = nc.jetstream()
        for suffix in ("CMETA", "CLOG", "META", "DATA"):
            with contextlib.suppress(NotFoundError):
                await js.delete_stream(f"{prefix}_{suffix}")
    finally:
        await nc.close()


@pytest.fixture
def coord_prefix() -> Iterator[str]:
    require_nats()
    prefix = f"EMCO{RUN_ID}{next(_prefixes)}"
    yield prefix
    asyncio.run(_delete_streams(prefix))


class Coordinator:
    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.http = httpx.Client(base_url=self.url, timeout=10)
        self.process: Process | None = None

    def start(self) -> Coordinator:
        argv = [*earmark_command(), "run", "index", "--coordinator"]
        argv += ["--cluster-stream", self.prefix, "--port", str(self.port)]
        self.process = Process(argv, clean_environment(EARMARK_NATS_URL=NATS_URL), name="coord")
        process = self.process

        def up() -> bool:
            if process.proc.poll() is not None:
                pytest.fail(f"exited while starting: {process.describe()}")
            try:
                return self.http.get("/_health").status_code == 200
            except httpx.TransportError:
                return False

        wait_until(up, 60, f"{self.url}/_health")
        return self

    def kill(self) -> None:
        if self.process is not None:
            self.process.send(signal.SIGKILL)
            self.process.wait(10)
            self.process = None

    def call(self, method: str, path: str, body: object = None) -> tuple[int, Any]:
        content = None if body is None else msgpack.packb(body)
        r = self.http.request(method, path, content=content)
        if r.headers.get("content-type", "").startswith("application/vnd.msgpack"):
            return r.status_code, msgpack.unpackb(r.content, raw=False)
        return r.status_code, r.text


@pytest.fixture
def coordinator(coord_prefix: str) -> Iterator[Coordinator]:
    c = Coordinator(coord_prefix).start()
    yield c
    c.kill()
    c.http.close()


def _insert(doc: int, hashes: list[int]) -> dict[str, Any]:
    return {"i": {"i": doc, "h": hashes}}


def test_feeds_survive_a_kill(coordinator: Coordinator) -> None:
    """Creates, appends (seqs dense per lineage, one per change) and a delete; then kill -9,
    restart: both feeds read back the same, and appends go on after the last seq."""
    status, created = coordinator.call("PUT", "/_index/songs")
    assert status == 200
    gen = created["g"]
    assert coordinator.call("PUT", "/_index/songs") == (200, {"g": gen})  # idempotent
    _, other = coordinator.call("PUT", "/_index/gone")
    changes = [_insert(1, [1, 2, 3]), {"d": {"i": 7}}, {"s": {"e": [{"k": "a", "v": "b"}]}}]
    assert coordinator.call("POST", f"/_changelog/songs/{gen}", {"c": changes}) == (200, {"i": 3})
    # expected: the optimistic check against the last seq
    assert coordinator.call("POST", f"/_changelog/songs/{gen}", {"c": [], "e": 2})[0] == 409
    assert coordinator.call("POST", f"/_changelog/songs/{gen}", {"c": [_insert(2, [4])], "e": 3})[
        1
    ] == {"i": 4}
    _, deleted = coordinator.call("DELETE", "/_index/gone")
    before_meta = coordinator.call("GET", "/_meta")
    before_log = coordinator.call("GET", f"/_changelog/songs/{gen}?after=0")
    assert before_meta == (
        200,
        {
            "o": [
                {"p": gen, "k": "create", "i": "songs"},
                {"p": other["g"], "k": "create", "i": "gone"},
                {"p": deleted["p"], "k": "delete", "i": "gone"},
            ],
            "r": 1000,
        },
    )
    assert [e["i"] for e in before_log[1]["e"]] == [1, 2, 3, 4]
    assert before_log[1]["e"][1] == {"i": 2, "c": {"d": {"i": 7}}}

    coordinator.kill()
    coordinator.start()
    assert coordinator.call("GET", "/_meta") == before_meta
    assert coordinator.call("GET", f"/_changelog/songs/{gen}?after=0") == before_log
    # paging: a full page says "ask again now"
    assert coordinator.call("GET", f"/_changelog/songs/{gen}?after=1&max=2")[1] == {
        "e": before_log[1]["e"][1:3],
        "r": 0,
    }
    assert coordinator.call("POST", f"/_changelog/songs/{gen}", {"c": [_insert(3, [5])]}) == (
        200,
        {"i": 5},
    )
    # a recreated index is a new lineage with a newer generation
    _, again = coordinator.call("PUT", "/_index/gone")
    assert again["g"] > deleted["p"]
    assert coordinator.call("GET", f"/_changelog/gone/{other['g']}")[0] == 404


def _bootstrapped(coordinator: Coordinator, path: str) -> tuple[int, set[int]]:
    """``(position, live document ids)`` of a ``/_bootstrap`` stream, replayed."""
    r = coordinator.http.get(path)
    assert r.status_code == 200, r.text
    unpacker = msgpack.Unpacker(raw=False)
    unpacker.feed(r.content)
    items = list(unpacker)
    assert items[-1] == []
    docs: set[int] = set()
    for batch in items[1:-1]:
        for change in batch:
            ((kind, body),) = change.items()
            if kind == "i":
                docs.add(body["i"])
            elif kind == "d":
                docs.discard(body["i"])
    return items[0]["p"], docs


def test_truncate_and_bootstrap(coordinator: Coordinator) -> None:
    gen = coordinator.call("PUT", "/_index/t")[1]["g"]
    for doc in range(1, 6):
        coordinator.call("POST", f"/_changelog/t/{gen}", {"c": [_insert(doc, [doc, 100])]})
    assert _bootstrapped(coordinator, f"/_bootstrap/t/{gen}") == (5, {1, 2, 3, 4, 5})

    assert coordinator.call("POST", f"/_truncate/t/{gen}?floor=3") == (200, {})
    assert coordinator.call("GET", f"/_changelog/t/{gen}?after=2")[0] == 410
    _, page = coordinator.call("GET", f"/_changelog/t/{gen}?after=3")
    assert [e["i"] for e in page["e"]] == [4, 5]
    # the dropped entries were folded into a base: the bootstrap stream is still the corpus
    coordinator.call("POST", f"/_changelog/t/{gen}", {"c": [{"d": {"i": 4}}, _insert(2, [7])]})
    assert coordinator.call("POST", f"/_truncate/t/{gen}?floor=6") == (200, {})
    assert _bootstrapped(coordinator, f"/_bootstrap/t/{gen}") == (7, {1, 3, 5, 2})
    coordinator.kill()
    coordinator.start()
    assert coordinator.call("GET", f"/_changelog/t/{gen}?after=5")[0] == 410
    _, page = coordinator.call("GET", f"/_changelog/t/{gen}?after=6")
    assert [e["i"] for e in page["e"]] == [7]
    assert _bootstrapped(coordinator, f"/_bootstrap/t/{gen}") == (7, {1, 3, 5, 2})


HOSTILE: list[tuple[str, str, bytes | None]] = [
    ("POST", "/_changelog/x/1", b"\xc1"),  # not msgpack
    ("POST", "/_changelog/x/1", b""),
    ("POST", "/_changelog/x/1", msgpack.packb([1, 2])),
    ("POST", "/_changelog/x/1", msgpack.packb({"c": "nope"})),
    ("POST", "/_changelog/x/1", msgpack.packb({"c": [{"i": {"i": 0, "h": [1]}}]})),
    ("POST", "/_changelog/x/1", msgpack.packb({"c": [{"i": {"i": 1, "h": [-1]}}]})),
    ("POST", "/_changelog/x/1", msgpack.packb({"c": [{"z": {}}]})),
    ("POST", "/_changelog/x/1", msgpack.packb({"c": [], "e": -5})),
    ("POST", "/_changelog/x/1", msgpack.packb({"c": [], "zz": 1})),
    ("POST", "/_changelog/x/1", b"\x91" * 100_000),  # deep nesting
    ("POST", "/_changelog/x/notanumber", msgpack.packb({"c": []})),
    ("POST", "/_changelog/x/99999999999999999999999", msgpack.packb({"c": []})),
    ("POST", "/_changelog/bad.name/1", msgpack.packb({"c": []})),
    ("POST", "/_changelog/nosuch/1", msgpack.packb({"c": []})),
    ("GET", "/_changelog/x/1?after=-1", None),
    ("GET", "/_changelog/x/1?max=abc", None),
    ("GET", "/_changelog/nosuch/1", None),
    ("GET", "/_meta?after=x", None),
    ("GET", "/_meta?max=99999999999999999999999", None),
    ("PUT", "/_index/bad.name", None),
    ("DELETE", "/_index/nosuch", None),
    ("GET", "/_bootstrap/x/abc", None),
    ("GET", "/_bootstrap/nosuch/1", None),
    ("POST", "/_truncate/x/1", None),  # floor missing
    ("POST", "/_truncate/x/1?floor=x", None),
    ("POST", "/_truncate/nosuch/1?floor=1", None),
    ("GET", "/_nothing", None),
]


def test_hostile_requests_get_clear_errors(coordinator: Coordinator) -> None:
    assert coordinator.call("PUT", "/_index/x") == (200, {"g": 1})
    for method, path, body in HOSTILE:
        r = coordinator.http.request(method, path, content=body)
        assert r.status_code in (400, 404, 409, 410), (method, path, r.status_code, r.text)
        assert r.text.strip(), (method, path)
        assert "Traceback" not in r.text, (method, path, r.text)
    r = coordinator.http.post("/_changelog/x/1", content=b"\x80" * (17 << 20))
    assert r.status_code == 413
    # nothing of that was stored
    assert coordinator.call("GET", "/_changelog/x/1")[1] == {"e": [], "r": 1000}


class Replica:
    """`earmark run index --coordinator-url`: a replica node of the coordinator."""

    def __init__(self, data_dir: Path, coordinator: Coordinator, *extra: str) -> None:
        self.extra = extra
        self.data_dir = data_dir
        self.coordinator = coordinator
        self.port = free_port()
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=15)
        self.process: Process | None = None

    def start(self) -> Replica:
        argv = [*earmark_command(), "run", "index", "--dir", str(self.data_dir)]
        argv += ["--port", str(self.port), "--coordinator-url", self.coordinator.url]
        argv += self.extra
        self.process = Process(argv, clean_environment(), name=f"replica:{self.port}")
        process = self.process

        def up() -> bool:
            if process.proc.poll() is not None:
                pytest.fail(f"exited while starting: {process.describe()}")
            try:
                return self.http.get("/_health").status_code == 200
            except httpx.TransportError:
                return False

        wait_until(up, 60, f"replica {self.port}")
        return self

    def close(self) -> None:
        if self.process is not None:
            self.process.send(signal.SIGKILL)
            self.process.wait(10)
        self.http.close()

    def version(self, index: str) -> int:
        r = self.http.get(f"/{index}")
        return int(r.json()["version"]) if r.status_code == 200 else -1

    def hits(self, index: str, query: list[int]) -> list[int]:
        r = self.http.post(f"/{index}/_search", json={"query": query})
        assert r.status_code == 200, r.text
        return [hit["id"] for hit in r.json()["results"]]


@pytest.fixture
def replicas(coordinator: Coordinator, tmp_path: Path) -> Iterator[list[Replica]]:
    nodes = [Replica(tmp_path / f"r{i}", coordinator).start() for i in range(2)]
    yield nodes
    for node in nodes:
        node.close()


def test_writes_through_a_replica(coordinator: Coordinator, replicas: list[Replica]) -> None:
    """Read-your-writes on the replica that took the write; the other one follows; the
    coordinator killed and restarted loses nothing and the replicas go on."""
    a, b = replicas
    created = a.http.put("/songs")
    assert created.status_code == 200, created.text
    assert created.json()["generation"] == coordinator.call("PUT", "/_index/songs")[1]["g"]
    r = a.http.post(
        "/songs/_update", json={"changes": [{"insert": {"id": 1, "hashes": [10, 11, 12]}}]}
    )
    assert r.status_code == 200, r.text
    version = r.json()["version"]
    assert version == 1
    # applied on `a` when the call returned: no waiting
    assert a.version("songs") == 1
    assert a.hits("songs", [10, 11, 12]) == [1]
    wait_until(lambda: b.version("songs") == 1, 15, "b follows")
    assert b.hits("songs", [10, 11, 12]) == [1]

    # through the other replica, with the optimistic check: a stale one is refused
    stale = b.http.post("/songs/_update", json={"changes": [], "expected_version": 0})
    assert (stale.status_code, stale.json()) == (409, {"error": "VersionMismatch"})
    put = b.http.put("/songs/2", json={"hashes": [20, 21]})
    assert put.status_code == 200, put.text
    assert b.hits("songs", [20, 21]) == [2]
    wait_until(lambda: a.version("songs") == 2, 15, "a follows")

    coordinator.kill()
    down = a.http.put("/songs/3", json={"hashes": [30]})
    assert down.status_code == 503
    assert down.json() == {"error": "ReplicationUnavailable"}
    assert a.hits("songs", [20, 21]) == [2]  # reads go on
    coordinator.start()
    r = a.http.post("/songs/_update", json={"changes": [{"insert": {"id": 3, "hashes": [30]}}]})
    assert (r.status_code, r.json()) == (200, {"version": 3})
    wait_until(lambda: b.version("songs") == 3, 15, "b follows after the restart")
    assert [a.hits("songs", [h]) for h in (10, 20, 30)] == [[1], [2], [3]]
    assert [b.hits("songs", [h]) for h in (10, 20, 30)] == [[1], [2], [3]]

    # lifecycle through a replica: a generation is the coordinator's to give
    refused = a.http.put("/other", json={"generation": 7})
    assert (refused.status_code, refused.json()) == (400, {"error": "GenerationNotAllowed"})
    assert b.http.delete("/songs").json() == {"deleted": True}
    assert b.http.get("/songs").status_code == 404
    wait_until(lambda: a.http.get("/songs").status_code == 404, 15, "a drops the index")


def test_a_new_replica_bootstraps_below_retention(coordinator: Coordinator, tmp_path: Path) -> None:
    """The feed truncated past 0: a new replica without peers is filled from /_bootstrap and
    follows the feed from its position on (spec §6.4)."""
    a = Replica(tmp_path / "first", coordinator).start()
    assert a.http.put("/main").status_code == 200
    for doc in (1, 2):
        assert a.http.put(f"/main/{doc}", json={"hashes": [doc * 10, 99]}).status_code == 200
    gen = coordinator.call("PUT", "/_index/main")[1]["g"]
    assert coordinator.call("POST", f"/_truncate/main/{gen}?floor=2") == (200, {})
    c = Replica(tmp_path / "late", coordinator).start()
    try:
        wait_until(lambda: c.version("main") == 2, 15, "the late replica bootstrapped")
        assert [c.hits("main", [h]) for h in (10, 20)] == [[1], [2]]
        assert a.http.put("/main/3", json={"hashes": [30]}).status_code == 200
        wait_until(lambda: c.version("main") == 3, 15, "the late replica follows")
        assert c.hits("main", [30]) == [3]
    finally:
        c.close()
        a.close()


def test_a_write_not_applied_in_time(coordinator: Coordinator, tmp_path: Path) -> None:
    """A replica that cannot apply a write within --replication-timeout-ms answers 503
    ReplicationTimeout; the write was appended all the same and shows up once applied."""
    r = Replica(tmp_path / "slow", coordinator, "--replication-timeout-ms", "1").start()
    try:
        coordinator.call("PUT", "/_index/main")  # not through `r`: that would time out too
        wait_until(lambda: r.version("main") == 0, 15, "the replica has the index")
        answers = []
        for doc in range(1, 6):  # the follower may pick one up within the 1 ms: try a few
            answer = r.http.put(f"/main/{doc}", json={"hashes": [doc]})
            answers.append((answer.status_code, answer.json()))
            if answer.status_code == 503:
                break
        assert answers[-1] == (503, {"error": "ReplicationTimeout"}), answers
        wait_until(lambda: r.version("main") == len(answers), 15, "the write applied")
        assert r.hits("main", [len(answers)]) == [len(answers)]
    finally:
        r.close()
