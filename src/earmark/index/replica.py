"""`earmark run index --coordinator-url URL`: a replica of the reference's coordinator protocol
(spec §6.2, §6.3), against `earmark run index --coordinator` or any server of that protocol.

- A **meta follower** polls ``GET /_meta`` and reconciles the local indexes with it: a create
  opens the lineage (generation = the op's ``pos``) and starts its data follower; a delete
  drops the index. Local indexes the feed does not list are dropped at start.
- A **data follower** per lineage polls ``GET /_changelog/<index>/<gen>?after=<version>`` and
  applies each page as **one** local commit whose version is its last seq, so a restarted
  replica resumes from its own last commit. It paces itself with the answer's ``r``
  (retry_after_ms), and is woken at once by a write of this node. Entries that do not follow
  the applied version densely, an undecodable page, or 410 (below retention: bootstrapping
  from peers is not built) stop that index: STOPPED, as the JetStream followers do.
- **Writes** (``_update``, ``PUT``/``DELETE /<index>/<id>``) are appended to the coordinator
  (``expected_version`` as its optimistic check) and answered once this node applied them
  (read-your-writes), bounded by ``ryw_timeout`` → 503 ``ReplicationTimeout``. Creates and
  deletes go through ``PUT``/``DELETE /_index/<name>`` and wait the same way. A coordinator
  answering 403 gives ``FeedIsReadOnly``; ``PUT /<index>`` with a generation gets 400
  ``GenerationNotAllowed``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import msgpack

from earmark.index import codec
from earmark.index.cluster.changelog import change_to_wire
from earmark.index.cluster.following import FollowedIndexes, Following
from earmark.index.cluster.node import ClusterError
from earmark.index.cluster.peers import restore_from_peers
from earmark.index.cluster.state import IndexReplication, State
from earmark.index.codec import IndexApiError, IndexFormat
from earmark.index.engine import (
    Change,
    CreateResult,
    EngineError,
    IndexAlreadyExistsError,
    IndexNotFoundError,
    MultiIndex,
    VersionMismatchError,
)
from earmark.index.engine.index import validate_changes
from earmark.index.engine.lineage import check_name

log = logging.getLogger(__name__)
logging.getLogger("httpx").setLevel(logging.WARNING)  # not a line per poll of the feeds
PAGE = 256
#: The largest /_bootstrap stream read (it is held in memory and applied as one commit).
MAX_BODY = 1 << 30
RETRY_WAIT = 1.0
MSGPACK = "application/vnd.msgpack"


@dataclass(frozen=True)
class ReplicaConfig:
    coordinator_url: str
    ryw_timeout: float = 30.0  # seconds a write waits to be applied here
    timeout: float = 10.0  # seconds for one request to the coordinator
    peers: tuple[str, ...] = ()  # snapshot donors when the feed is below retention


class _Followed(Following):
    def __init__(self, name: str, generation: int) -> None:
        super().__init__(name, generation)
        self.stream_version: int | None = None
        self.wake = asyncio.Event()


class _BelowRetentionError(Exception):
    """410: the feed no longer holds the entries after this node's version."""


class _UnavailableError(Exception):
    """The coordinator did not answer (connection error, timeout, 5xx)."""


class CoordinatorReplica(FollowedIndexes[_Followed]):
    """A replica node: the same face to the API as :class:`ClusterNode` + its writer."""

    def __init__(self, engine: MultiIndex, config: ReplicaConfig) -> None:
        self.engine = engine
        self.config = config
        self.replica_id = f"replica-{uuid.uuid4().hex[:8]}"
        self.counters = {"published": 0, "applied_batches": 0, "refused": 0}
        self._http = httpx.AsyncClient(
            base_url=config.coordinator_url.rstrip("/"), timeout=config.timeout
        )
        self.followed: dict[str, _Followed] = {}
        self._meta_pos = 0
        self._meta_task: asyncio.Task[None] | None = None
        self._meta_wake = asyncio.Event()
        self.connected = False
        self.prefix = config.coordinator_url

    # -- the coordinator -----------------------------------------------------------------

    async def _call(self, method: str, path: str, body: object = None) -> Any:
        content = None if body is None else msgpack.packb(body, use_bin_type=True)
        headers = {"content-type": MSGPACK} if content is not None else {}
        try:
            r = await self._http.request(method, path, content=content, headers=headers)
        except httpx.HTTPError as exc:
            self.connected = False
            raise _UnavailableError(repr(exc)) from exc
        self.connected = True
        if r.status_code == 200:
            try:
                return msgpack.unpackb(r.content, raw=False)
            except (ValueError, msgpack.UnpackException) as exc:
                raise _UnavailableError(f"undecodable answer to {path}: {exc!r}") from exc
        if r.status_code == 409:
            raise VersionMismatchError()
        if r.status_code == 404:
            raise IndexNotFoundError()
        if r.status_code == 403:
            raise ClusterError("FeedIsReadOnly", "the coordinator's feed is read-only")
        if r.status_code == 410:
            raise _BelowRetentionError(path)
        if r.status_code == 400:
            raise IndexApiError("BadRequest", f"coordinator: {r.text.strip()[:200]}")
        raise _UnavailableError(f"{method} {path}: {r.status_code} {r.text.strip()[:200]}")

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self) -> None:
        """Read the whole meta feed, drop what it does not list, follow the rest."""
        live: dict[str, int] = {}
        while True:
            try:
                page = await self._call("GET", f"/_meta?after={self._meta_pos}&max=1024")
            except _UnavailableError as exc:
                log.warning("coordinator: %s; retrying", exc)
                await asyncio.sleep(RETRY_WAIT)
                continue
            for op in page["o"]:
                self._meta_pos = int(op["p"])
                if op["k"] == "create":
                    live[op["i"]] = int(op["p"])
                else:
                    live.pop(op["i"], None)
            if len(page["o"]) < 1024:
                break
        for name in self.engine.names():
            if live.get(name) != self.engine.get(name).generation:
                log.warning("dropping local index %s: the coordinator does not list it", name)
                await asyncio.to_thread(self.engine.delete, name)
        for name, generation in sorted(live.items()):
            self._follow(name, generation)
        self._meta_task = asyncio.create_task(self._follow_meta(), name="replica-meta")

    async def close(self) -> None:
        tasks = [lin.task for lin in self.followed.values() if lin.task is not None]
        if self._meta_task is not None:
            tasks.append(self._meta_task)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self._http.aclose()

    async def _follow_meta(self) -> None:
        while True:
            wait = RETRY_WAIT
            try:
                page = await self._call("GET", f"/_meta?after={self._meta_pos}")
                for op in page["o"]:
                    if op["k"] == "create":
                        if self.followed.get(op["i"]) is not None:
                            await self._drop(op["i"])
                        self._follow(op["i"], int(op["p"]))
                    else:
                        await self._drop(op["i"])
                    self._meta_pos = int(op["p"])
                wait = int(page["r"]) / 1000
            except (_UnavailableError, EngineError, KeyError, TypeError, ValueError) as exc:
                log.warning("meta feed: %r; retrying", exc)
            self._meta_wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._meta_wake.wait(), wait)

    def _follow(self, name: str, generation: int) -> None:
        lineage = _Followed(name, generation)
        self.followed[name] = lineage
        lineage.task = asyncio.create_task(self._follow_data(lineage), name=f"replica-{name}")

    async def _drop(self, name: str) -> None:
        lineage = self.followed.pop(name, None)
        if lineage is not None and lineage.task is not None:
            lineage.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await lineage.task
        if self.engine.exists(name):
            await asyncio.to_thread(self.engine.delete, name)

    async def _follow_data(self, lin: _Followed) -> None:
        """Follow one lineage. The local index is made at the first page the feed gives, so
        a feed below retention bootstraps a node that has nothing yet (spec §6.4)."""
        path = f"/_changelog/{lin.name}/{lin.generation}"
        while True:
            wait = RETRY_WAIT
            version = self.engine.get(lin.name).version if self.engine.exists(lin.name) else 0
            try:
                page = await self._call("GET", f"{path}?after={version}&max={PAGE}")
                entries = page["e"]
                wait = int(page["r"]) / 1000
                if not self.engine.exists(lin.name):
                    await asyncio.to_thread(self.engine.create, lin.name, generation=lin.generation)
                if entries:
                    await self._apply(lin, entries)
                if len(entries) < PAGE and lin.state is State.LOADING:
                    lin.state = State.FOLLOWING
                    log.info(
                        "index %s caught up at %d", lin.name, self.engine.get(lin.name).version
                    )
            except EngineError as exc:
                self.stop_following(lin, f"cannot open or update the index: {exc!r}")
                return
            except _BelowRetentionError:
                try:
                    await self._bootstrap(lin)
                except (ClusterError, EngineError, IndexApiError, _BelowRetentionError) as exc:
                    why = f"below the feed's retention and no bootstrap: {exc!r}"
                    self.stop_following(lin, why)
                    return
                wait = 0
            except ClusterError as exc:  # a bad page: never diverge silently
                self.stop_following(lin, str(exc))
                return
            except (_UnavailableError, IndexNotFoundError) as exc:
                log.warning("changelog of %s: %r; retrying", lin.name, exc)
            lin.wake.clear()
            if wait:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(lin.wake.wait(), wait)

    async def _apply(self, lin: _Followed, entries: list[Any]) -> None:
        index = self.engine.get(lin.name)
        expected = index.version + 1
        raw: list[Any] = []
        try:
            for entry in entries:
                if int(entry["i"]) != expected:
                    raise ClusterError(
                        "ReplicationStopped",
                        f"entry {entry['i']} after {expected - 1}: missing or out of order",
                    )
                raw.append(entry["c"])
                expected += 1
            changes = codec.parse_changes(raw, IndexFormat.MSGPACK)
            validate_changes(changes)
        except (IndexApiError, EngineError, KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, ClusterError):
                raise
            raise ClusterError("ReplicationStopped", f"bad changelog page: {exc!r}") from exc
        await asyncio.to_thread(index.update, changes, version=expected - 1)
        self.counters["applied_batches"] += 1

    async def _bootstrap(self, lin: _Followed) -> None:
        """Spec §6.4: from the peer with the freshest snapshot of this lineage, else from the
        coordinator's ``/_bootstrap`` stream (applied as one commit at its position)."""
        lin.state = State.LOADING
        if self.engine.exists(lin.name):  # entries this node has not applied are gone
            raise ClusterError("ReplicationStopped", "wipe this node's copy and restart it")
        if self.config.peers:
            restored = await asyncio.to_thread(
                restore_from_peers, self.engine, lin.name, lin.generation, self.config.peers
            )
            if restored is not None:
                return
        try:
            r = await self._http.get(f"/_bootstrap/{lin.name}/{lin.generation}")
        except httpx.HTTPError as exc:
            raise _UnavailableError(repr(exc)) from exc
        if r.status_code != 200:
            raise ClusterError("ReplicationStopped", f"/_bootstrap: {r.status_code}")
        unpacker = msgpack.Unpacker(raw=False, max_buffer_size=MAX_BODY)
        unpacker.feed(r.content)
        items = list(unpacker)
        if len(items) < 2 or not isinstance(items[0], dict) or items[-1] != []:
            raise ClusterError("ReplicationStopped", "/_bootstrap stream cut short")
        position = codec.u64(items[0].get("p"), "position")
        raw = [change for batch in items[1:-1] for change in batch]
        changes = codec.parse_changes(raw, IndexFormat.MSGPACK)
        await asyncio.to_thread(self.engine.create, lin.name, generation=lin.generation)
        await asyncio.to_thread(self.engine.get(lin.name).update, changes, version=position)
        log.info("bootstrapped %s from the coordinator at %d", lin.name, position)

    # -- reads ---------------------------------------------------------------------------

    async def report(self) -> list[IndexReplication]:
        rows = []
        for name, lin in sorted(self.followed.items()):
            rows.append(
                IndexReplication(
                    name, lin.generation, lin.state, self.local_version(name), None, 0, lin.error
                )
            )
        return rows

    # -- writes --------------------------------------------------------------------------

    async def _wait(self, ready: Any, what: str) -> None:
        deadline = time.monotonic() + self.config.ryw_timeout
        while not ready():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ClusterError("ReplicationTimeout", f"{what} not applied here in time")
            # Never sleep past the deadline: a write applied after it is a timeout.
            await asyncio.sleep(min(0.01, remaining))

    def _lineage(self, name: str) -> _Followed:
        lin = self.followed.get(name)
        if lin is None:
            raise IndexNotFoundError()
        if lin.state is State.STOPPED:
            raise ClusterError("ReplicationStopped", f"replication of {name} stopped")
        return lin

    async def update(
        self, name: str, changes: Sequence[Change], expected_version: int | None = None
    ) -> int:
        validate_changes(changes)
        lin = self._lineage(name)
        body: dict[str, Any] = {"c": [change_to_wire(c) for c in changes]}
        if expected_version is not None:
            body["e"] = expected_version
        try:
            answer = await self._call("POST", f"/_changelog/{name}/{lin.generation}", body)
        except _UnavailableError as exc:
            self.counters["refused"] += 1
            raise ClusterError("ReplicationUnavailable", f"coordinator: {exc}") from exc
        self.counters["published"] += 1
        seq = int(answer["i"])
        lin.wake.set()

        def applied() -> bool:
            if self.followed.get(name) is not lin:
                raise IndexNotFoundError()  # the lineage was replaced meanwhile
            return self.engine.exists(name) and self.engine.get(name).version >= seq

        await self._wait(applied, f"write {seq} of {name}")
        return seq

    async def create(
        self, name: str, *, expect_does_not_exist: bool = False, generation: int | None = None
    ) -> CreateResult:
        check_name(name)
        if generation is not None:
            raise IndexApiError("GenerationNotAllowed")
        if expect_does_not_exist and self.engine.exists(name):
            raise IndexAlreadyExistsError()
        try:
            gen = int((await self._call("PUT", f"/_index/{name}"))["g"])
        except _UnavailableError as exc:
            raise ClusterError("ReplicationUnavailable", f"coordinator: {exc}") from exc
        self._meta_wake.set()

        def ready() -> bool:
            lin = self.followed.get(name)
            if lin is None or lin.generation != gen or lin.state is State.LOADING:
                return False  # create-your-writes: readable here once this returns
            return self.engine.exists(name)

        await self._wait(ready, f"index {name}")
        index = self.engine.get(name)
        return CreateResult(index.version, self.not_ready(name) is None, index.generation)

    async def delete(self, name: str, *, expect_exists: bool = False) -> bool:
        if not self.engine.exists(name) and name not in self.followed:
            if expect_exists:
                raise IndexNotFoundError()
            return False
        try:
            pos = int((await self._call("DELETE", f"/_index/{name}"))["p"])
        except IndexNotFoundError:
            if expect_exists:
                raise
            return False
        except _UnavailableError as exc:
            raise ClusterError("ReplicationUnavailable", f"coordinator: {exc}") from exc
        self._meta_wake.set()
        await self._wait(lambda: self._meta_pos >= pos, f"delete of {name}")
        return True
