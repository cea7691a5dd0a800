"""One index server as a member of a cluster that replicates through NATS JetStream.

Every node follows the streams of :mod:`earmark.index.cluster.feed`:

- a **lifecycle follower** reads ``P_META`` (the newest event per index) and reconciles the local
  indexes with it: a create opens the lineage (from a peer's snapshot when ``peers`` are given,
  else empty) and starts its data follower; a delete drops the index. Local indexes the registry
  does not list are dropped at start, as the reference's replicas do (spec §6.2);
- a **data follower** per lineage reads ``P.u.<index>.<gen>`` through a durable pull consumer
  (``<replica_id>-<index>-g<gen>``) and applies each fetched batch as **one** local commit whose
  version is the last entry's stream sequence. The local commit (WAL, fsynced) comes before the
  acknowledgement, and at every start the consumer is re-created at the local version + 1, so
  the local index, not the consumer's ack floor, says where to resume: a node killed between its
  commit and its ack neither skips nor re-applies an entry (nor waits out an ack timeout for
  the redelivery of what was in flight).

Writes (any node that is not ``read_only``; :mod:`earmark.index.cluster.writes`) are
acknowledged to the client only once JetStream stored them. JetStream unreachable: writes get
503 ``ReplicationUnavailable``; reads go on from the local indexes.

An index is **LOADING** (reads answer 503) from the moment its follower starts until it has
applied everything the stream held (a fetch that comes back empty or with nothing pending), so
a restarted or new node serves no stale reads. An entry that cannot be decoded or does not
follow the last applied one stops that index's follower: state **STOPPED**, logged, reported by
``/_health`` and ``/_cluster``; writes to it are refused. Nothing is ever skipped silently.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from dataclasses import dataclass
from pathlib import Path

import nats
import nats.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext, api
from nats.js.errors import BadRequestError, NotFoundError

from earmark.index.cluster.feed import (
    DELETE,
    STREAM_CONFIG_DIFFERS,
    BadEntryError,
    Feed,
    MetaEvent,
    decode_entry,
    decode_meta,
)
from earmark.index.cluster.following import FollowedIndexes, Following
from earmark.index.cluster.peers import restore_from_peers
from earmark.index.cluster.state import IndexReplication, State
from earmark.index.engine import (
    Change,
    EngineError,
    MultiIndex,
)

log = logging.getLogger(__name__)

NATS_ERRORS = (nats.errors.Error, OSError, TimeoutError)
REPLICA_ID_FILE = "replica_id"
#: Seconds a follower waits for entries before it counts itself caught up.
FETCH_WAIT = 1.0
#: Seconds a follower waits for more entries once it has one (they are usually there already).
MORE_WAIT = 0.02
#: Seconds between attempts to re-bind a follower after a NATS failure.
RETRY_WAIT = 1.0


class ClusterError(EngineError):
    """A write the cluster could not take; ``name`` is the error clients see (503s, 403)."""

    def __init__(self, name: str, detail: str) -> None:
        super().__init__(detail)
        self.name = name


@dataclass(frozen=True)
class ClusterConfig:
    nats_url: str
    prefix: str
    replica_id: str = ""  # empty: kept in <data dir>/replica_id, made at the first start
    read_only: bool = False
    peers: tuple[str, ...] = ()
    timeout: float = 5.0  # seconds for one JetStream request (publish, consumer setup)
    batch: int = 256
    stream_replicas: int = 1  # JetStream copies of each stream made by the first node
    catch_up_wait: float = 10.0  # seconds a write waits for this node to catch up


def replica_id_of(data_dir: Path) -> str:
    """This node's stable id: read from ``<data_dir>/replica_id``, made there at first use."""
    path = data_dir / REPLICA_ID_FILE
    if path.exists():
        return path.read_text().strip()
    rid = uuid.uuid4().hex[:12]
    path.write_text(rid + "\n")
    return rid


class ClusterNode(FollowedIndexes[Following]):
    def __init__(self, engine: MultiIndex, config: ClusterConfig) -> None:
        self.engine = engine
        self.config = config
        self.feed = Feed(config.prefix)
        self.replica_id = config.replica_id or replica_id_of(engine.root)
        self._nc: Client | None = None
        self._js: JetStreamContext | None = None
        self.followed: dict[str, Following] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self.meta_lock = asyncio.Lock()
        self._meta_task: asyncio.Task[None] | None = None
        self._meta_next = 1  # the first lifecycle event the follower has not read
        self.counters = {"published": 0, "applied_batches": 0, "refused": 0}

    # -- lifecycle ------------------------------------------------------------------------

    @property
    def js(self) -> JetStreamContext:
        if self._js is None:
            raise ClusterError("ReplicationUnavailable", "not connected to NATS")
        return self._js

    @property
    def max_payload(self) -> int:
        """The largest message the NATS server takes (its ``max_payload``, 1 MiB by default)."""
        return self._nc.max_payload if self._nc is not None else 0

    @property
    def connected(self) -> bool:
        return self._nc is not None and self._nc.is_connected

    async def start(self) -> None:
        """Connect (the server must be reachable now), make the streams, reconcile and follow."""
        servers = [u.strip() for u in self.config.nats_url.split(",") if u.strip()]
        self._nc = await nats.connect(
            servers=servers,
            name=f"earmark-index-{self.replica_id}",
            connect_timeout=self.config.timeout,
            max_reconnect_attempts=-1,  # an index server outlives NATS restarts
            reconnect_time_wait=0.5,
            error_cb=_log_nats_error,
        )
        self._js = self._nc.jetstream(timeout=self.config.timeout)
        replicas = self.config.stream_replicas
        for config in (self.feed.meta_config(replicas), self.feed.data_config(replicas)):
            await _ensure_stream(self._js, config)
        await self._reconcile()
        self._meta_task = asyncio.create_task(self._follow_meta(), name="index-meta-follower")

    async def close(self) -> None:
        tasks = [f.task for f in self.followed.values() if f.task is not None]
        if self._meta_task is not None:
            tasks.append(self._meta_task)
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._nc is not None:
            with contextlib.suppress(*NATS_ERRORS):
                await self._nc.close()
        self._nc = self._js = None

    # -- lifecycle events -----------------------------------------------------------------

    async def _registry(self) -> dict[str, tuple[int, MetaEvent]]:
        """The newest lifecycle event of every index: ``name → (meta sequence, event)``."""
        info = await self.js.stream_info(self.feed.meta_stream)
        self._meta_next = info.state.last_seq + 1
        found: dict[str, tuple[int, MetaEvent]] = {}
        if not info.state.messages:
            return found
        sub = await self.js.subscribe(
            self.feed.meta_subjects,
            ordered_consumer=True,
            deliver_policy=api.DeliverPolicy.ALL,
        )
        try:
            last = info.state.last_seq
            while True:
                msg = await sub.next_msg(timeout=self.config.timeout)
                seq = msg.metadata.sequence.stream
                name = self.feed.index_of_meta_subject(msg.subject)
                try:
                    found[name] = (seq, decode_meta(msg.data))
                except BadEntryError as exc:
                    log.error("lifecycle event %d of %s ignored: %s", seq, name, exc)
                if seq >= last or msg.metadata.num_pending == 0:
                    break
        finally:
            with contextlib.suppress(*NATS_ERRORS):
                await sub.unsubscribe()
        return found

    async def _reconcile(self) -> None:
        registry = await self._registry()
        async with self.meta_lock:
            for name in self.engine.names():
                entry = registry.get(name)
                if entry is None or entry[1].kind == DELETE:
                    log.warning("dropping local index %s: the cluster does not list it", name)
                    await asyncio.to_thread(self.engine.delete, name)
            for name, (_seq, event) in sorted(registry.items()):
                await self._apply_meta(name, event)

    async def _follow_meta(self) -> None:
        while True:
            try:
                sub = await self.js.subscribe(
                    self.feed.meta_subjects,
                    ordered_consumer=True,
                    deliver_policy=api.DeliverPolicy.BY_START_SEQUENCE,
                    config=api.ConsumerConfig(opt_start_seq=self._meta_next),
                )
                async for msg in sub.messages:
                    self._meta_next = msg.metadata.sequence.stream + 1
                    name = self.feed.index_of_meta_subject(msg.subject)
                    try:
                        event = decode_meta(msg.data)
                    except BadEntryError as exc:
                        log.error("lifecycle event of %s ignored: %s", name, exc)
                        continue
                    async with self.meta_lock:
                        await self._apply_meta(name, event)
            except asyncio.CancelledError:
                raise
            except (*NATS_ERRORS, ClusterError) as exc:
                log.warning("lifecycle follower: %s; retrying", exc)
                await asyncio.sleep(RETRY_WAIT)
                # Events missed meanwhile: the registry holds the newest one per index.
                with contextlib.suppress(*NATS_ERRORS, ClusterError):
                    await self._reconcile()

    async def _apply_meta(self, name: str, event: MetaEvent) -> None:
        """Make the local index ``name`` agree with its newest event (under the meta lock)."""
        local = self.engine.get(name).generation if self.engine.exists(name) else None
        if event.kind == DELETE:
            if local is not None and local <= event.generation:
                await self.drop(name)
            return
        if local == event.generation:
            self.ensure_follower(name, event.generation)
            return
        if local is not None:
            if local > event.generation:
                return  # an old event; the newer lineage is already here
            await self.drop(name)
        self.ensure_follower(name, event.generation)

    async def drop(self, name: str) -> None:
        follower = self.followed.pop(name, None)
        if follower is not None and follower.task is not None:
            follower.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await follower.task
        if follower is not None:
            with contextlib.suppress(*NATS_ERRORS):
                await self.js.delete_consumer(
                    self.feed.data_stream,
                    self.feed.consumer_name(self.replica_id, name, follower.generation),
                )
        await asyncio.to_thread(self.engine.delete, name)

    def ensure_follower(self, name: str, generation: int, *, ready: bool = False) -> None:
        current = self.followed.get(name)
        if current is not None and current.generation == generation:
            return
        follower = Following(name, generation)
        if ready:
            follower.state = State.FOLLOWING
        self.followed[name] = follower
        follower.task = asyncio.create_task(self._follow(follower), name=f"follow-{name}")

    # -- data followers -------------------------------------------------------------------

    def lock(self, name: str) -> asyncio.Lock:
        lock = self._locks.get(name)
        if lock is None:
            lock = self._locks[name] = asyncio.Lock()
        return lock

    async def _open_local(self, f: Following) -> None:
        if self.engine.exists(f.name):
            return
        if self.config.peers:
            restored = await asyncio.to_thread(
                restore_from_peers, self.engine, f.name, f.generation, self.config.peers
            )
            if restored is not None:
                return
        await asyncio.to_thread(self.engine.create, f.name, generation=f.generation)

    async def _bind(self, f: Following) -> JetStreamContext.PullSubscription:
        durable = self.feed.consumer_name(self.replica_id, f.name, f.generation)
        version = self.engine.get(f.name).version
        with contextlib.suppress(NotFoundError):
            await self.js.delete_consumer(self.feed.data_stream, durable)
        await self.js.add_consumer(
            self.feed.data_stream,
            api.ConsumerConfig(
                durable_name=durable,
                filter_subject=self.feed.data_subject(f.name, f.generation),
                deliver_policy=api.DeliverPolicy.BY_START_SEQUENCE,
                opt_start_seq=version + 1,
                ack_policy=api.AckPolicy.ALL,
                ack_wait=30.0,
                max_ack_pending=-1,
            ),
        )
        return await self.js.pull_subscribe_bind(durable, stream=self.feed.data_stream)

    async def _follow(self, f: Following) -> None:
        try:
            await self._open_local(f)
        except EngineError as exc:
            self.stop_following(f, f"cannot open the index: {exc}")
            return
        while True:
            try:
                psub = await self._bind(f)
                while True:
                    try:
                        msgs = await self._fetch(psub)
                    except nats.errors.TimeoutError:
                        f.pending = 0
                        if f.state is State.LOADING:
                            f.state = State.FOLLOWING
                            log.info("index %s caught up", f.name)
                        continue
                    await self._apply(f, msgs)
            except asyncio.CancelledError:
                raise
            except BadEntryError as exc:
                self.stop_following(f, str(exc))
                return
            except (*NATS_ERRORS, ClusterError) as exc:
                log.warning("follower of %s: %r; re-binding", f.name, exc)
                await asyncio.sleep(RETRY_WAIT)
            except EngineError as exc:  # deleted under us, or a local failure
                if not self.engine.exists(f.name):
                    return
                self.stop_following(f, f"local commit failed: {exc!r}")
                return

    async def _fetch(self, psub: JetStreamContext.PullSubscription) -> list[Msg]:
        """The entries there are, up to a batch, as soon as there is one.

        nats-py's fetch of a batch, once it has to wait, waits for the whole batch or its
        timeout: under a trickle of writes that would hold each entry back for up to
        ``FETCH_WAIT``. So: wait for one entry (unless some arrived after an earlier fetch
        gave up), then take what else is there within ``MORE_WAIT``."""
        msgs: list[Msg] = []
        if psub.pending_msgs == 0:
            msgs = await psub.fetch(1, timeout=FETCH_WAIT)
        with contextlib.suppress(nats.errors.TimeoutError):
            msgs += await psub.fetch(self.config.batch - len(msgs), timeout=MORE_WAIT)
        if not msgs:
            raise nats.errors.TimeoutError
        return msgs

    async def _apply(self, f: Following, msgs: list[Msg]) -> None:
        """One local commit for a fetched batch; its valid prefix if an entry is bad."""
        bad: BadEntryError | None = None
        async with self.lock(f.name):
            index = self.engine.get(f.name)
            previous = index.version
            changes: list[Change] = []
            last = 0
            for msg in msgs:
                seq = msg.metadata.sequence.stream
                if seq <= index.version:
                    continue  # committed by this node's own write, before its follower saw it
                try:
                    follows, entry = decode_entry(msg.data)
                    if follows != previous:
                        raise BadEntryError(
                            f"entry {seq} follows {follows}, but the last applied entry is "
                            f"{previous}: entries are missing or out of order"
                        )
                except BadEntryError as exc:
                    bad = exc
                    break
                changes.extend(entry)
                previous = last = seq
            if last:
                await asyncio.to_thread(index.update, changes, version=last)
                self.counters["applied_batches"] += 1
        if bad is not None:
            raise bad
        await msgs[-1].ack()
        f.pending = msgs[-1].metadata.num_pending
        if f.pending == 0 and f.state is State.LOADING:
            f.state = State.FOLLOWING
            log.info("index %s caught up at %d", f.name, self.engine.get(f.name).version)

    async def last_seq(self, stream: str, subject: str) -> int:
        try:
            msg = await self.js.get_last_msg(stream, subject)
        except NotFoundError:
            return 0
        return int(msg.seq or 0)

    # -- reads ----------------------------------------------------------------------------

    async def report(self) -> list[IndexReplication]:
        rows = []
        for name, f in sorted(self.followed.items()):
            version = self.local_version(name)
            stream_version: int | None = None
            if self.connected:
                try:
                    stream_version = await self.last_seq(
                        self.feed.data_stream, self.feed.data_subject(name, f.generation)
                    )
                except (*NATS_ERRORS, ClusterError):
                    stream_version = None
            rows.append(
                IndexReplication(
                    name, f.generation, f.state, version, stream_version, f.pending, f.error
                )
            )
        return rows


async def _ensure_stream(js: JetStreamContext, config: api.StreamConfig) -> None:
    """Create the stream if it is missing. One that exists is left as it is: an operator may
    have made it with other limits or replicas (docs/index-cluster.md)."""
    try:
        await js.add_stream(config)
    except BadRequestError as exc:
        if exc.err_code != STREAM_CONFIG_DIFFERS:
            raise
        log.info("stream %s exists with its own configuration; used as it is", config.name)


async def _log_nats_error(exc: Exception) -> None:
    log.warning("NATS: %s", exc)
