"""Writes on a cluster node: published to JetStream first, then committed here.

Each write is published with ``Nats-Expected-Last-Subject-Sequence`` = the local version of the
index (which is also the entry's ``previous``), and acknowledged to the client only once
JetStream stored it; the node then commits it under its stream sequence, holding the index's
lock so its follower (which skips what is already applied) cannot interleave. A node that is
behind gets "wrong last sequence", waits (bounded) for its follower to catch up and tries once
more. JetStream out of reach: 503 ``ReplicationUnavailable`` before anything is published.
Index creates and deletes go the same way through the lifecycle stream.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence

from nats.js.errors import BadRequestError, NotFoundError

from earmark.index.cluster.feed import (
    CREATE,
    DELETE,
    EXPECTED_LAST_SUBJECT_SEQ,
    WRONG_LAST_SEQUENCE,
    BadEntryError,
    MetaEvent,
    decode_meta,
    encode_entry,
    encode_meta,
)
from earmark.index.cluster.node import NATS_ERRORS, ClusterError, ClusterNode
from earmark.index.cluster.state import State
from earmark.index.engine import (
    Change,
    CreateResult,
    IndexNotFoundError,
    OlderIndexAlreadyExistsError,
    VersionMismatchError,
)
from earmark.index.engine.index import validate_changes
from earmark.index.engine.lineage import check_name, read_lineage

log = logging.getLogger(__name__)
#: Room left in a message for what is not the entry (headers, subject, framing).
_HEADROOM = 1024
#: The widest "previous sequence" an entry can carry, for sizing it before it is known.
_LARGEST_SEQ = 2**63


class ClusterWriter:
    """The write endpoints of a :class:`ClusterNode`."""

    def __init__(self, node: ClusterNode) -> None:
        self.node = node

    def _writable(self) -> None:
        if self.node.config.read_only:
            raise ClusterError("FeedIsReadOnly", "this node is a read-only replica")
        if not self.node.connected:
            self.node.counters["refused"] += 1
            raise ClusterError("ReplicationUnavailable", "NATS JetStream is not reachable")

    async def _publish(self, subject: str, payload: bytes, expected: int) -> int:
        """Store one message if ``expected`` is the subject's last sequence; its sequence."""
        limit = self.node.max_payload
        if len(payload) > limit:  # NATS would refuse it: one stream entry is one message
            raise ClusterError(
                "BodyTooBig", f"a write of {len(payload)} bytes is over NATS max_payload {limit}"
            )
        try:
            ack = await self.node.js.publish(
                subject,
                payload,
                timeout=self.node.config.timeout,
                headers={EXPECTED_LAST_SUBJECT_SEQ: str(expected)},
            )
        except BadRequestError:
            raise
        except NATS_ERRORS as exc:
            self.node.counters["refused"] += 1
            raise ClusterError(
                "ReplicationUnavailable", f"JetStream did not store the write: {exc!r}"
            ) from exc
        self.node.counters["published"] += 1
        return int(ack.seq)

    async def update(
        self, name: str, changes: Sequence[Change], expected_version: int | None = None
    ) -> int:
        """Publish ``changes`` as one entry, then commit them here; the new version.

        A write larger than one NATS message (``max_payload``) goes as several consecutive
        entries, in order, so the end state is the same; should JetStream fail between two,
        the first ones stay applied and the client's retry repeats them harmlessly (inserts
        are upserts). ``expected_version`` needs one entry (413 ``BodyTooBig`` otherwise)."""
        self._writable()
        validate_changes(changes)
        parts = self._parts(list(changes))
        if expected_version is not None and len(parts) > 1:
            raise ClusterError("BodyTooBig", "expected_version with a write over max_payload")
        version = 0
        for part in parts:
            version = await self._commit(name, part, expected_version)
        return version

    def _parts(self, ops: list[Change]) -> list[list[Change]]:
        """``ops`` cut in order into runs that each fit in one NATS message."""
        limit = self.node.max_payload - _HEADROOM
        parts: list[list[Change]] = []
        todo = [ops]
        while todo:
            part = todo.pop()
            if len(encode_entry(_LARGEST_SEQ, part)) <= limit:
                parts.append(part)
            elif len(part) == 1:
                raise ClusterError("BodyTooBig", "one change is over NATS max_payload")
            else:
                half = len(part) // 2
                todo += [part[half:], part[:half]]
        return parts

    async def _commit(self, name: str, ops: list[Change], expected_version: int | None) -> int:
        for attempt in range(2):
            async with self.node.lock(name):
                if self.node.not_ready(name) is State.STOPPED:
                    raise ClusterError("ReplicationStopped", f"replication of {name} stopped")
                index = self.node.engine.get(name)
                if expected_version is None or expected_version == index.version:
                    subject = self.node.feed.data_subject(name, index.generation)
                    entry = encode_entry(index.version, ops)
                    try:
                        seq = await self._publish(subject, entry, index.version)
                    except BadRequestError as exc:
                        if exc.err_code != WRONG_LAST_SEQUENCE:
                            raise ClusterError("ReplicationUnavailable", str(exc)) from exc
                    else:
                        await asyncio.to_thread(index.update, ops, version=seq)
                        return seq
                elif attempt == 1:
                    raise VersionMismatchError()
            if attempt == 0:  # this node may be behind: let its follower catch up, once
                await self._catch_up(name)
        if expected_version is not None:
            raise VersionMismatchError()
        raise ClusterError("ReplicationTimeout", f"{name} on this node is behind the stream")

    async def _catch_up(self, name: str) -> None:
        """Wait (bounded) until this node applied everything the stream holds for ``name``."""
        index = self.node.engine.get(name)
        target = await self.node.last_seq(
            self.node.feed.data_stream, self.node.feed.data_subject(name, index.generation)
        )
        deadline = time.monotonic() + self.node.config.catch_up_wait
        while index.version < target and time.monotonic() < deadline:
            if self.node.not_ready(name) is State.STOPPED:
                return
            await asyncio.sleep(0.02)

    async def create(
        self, name: str, *, expect_does_not_exist: bool = False, generation: int | None = None
    ) -> CreateResult:
        check_name(name)
        async with self.node.meta_lock:
            if self.node.engine.exists(name):  # the engine's answers: idempotent, or a 409
                return await asyncio.to_thread(
                    self.node.engine.create,
                    name,
                    expect_does_not_exist=expect_does_not_exist,
                    generation=generation,
                )
            self._writable()
            subject = self.node.feed.meta_subject(name)
            last = await self._last_event(subject)
            if last is not None and last[1].kind == CREATE:
                raise ClusterError("IndexNotReady", f"{name} is being loaded on this node")
            previous = read_lineage(self.node.engine.root / name)
            prev_gen = max(
                last[1].generation if last else 0, previous.generation if previous else 0
            )
            if generation is not None and generation <= prev_gen:
                raise OlderIndexAlreadyExistsError()
            gen = generation if generation is not None else prev_gen + 1
            meta = encode_meta(MetaEvent(CREATE, gen))
            try:
                await self._publish(subject, meta, last[0] if last else 0)
            except BadRequestError as exc:
                raise ClusterError("ReplicationTimeout", f"concurrent change: {exc}") from exc
            result = await asyncio.to_thread(self.node.engine.create, name, generation=gen)
            self.node.ensure_follower(name, gen, ready=True)
            return result

    async def delete(self, name: str, *, expect_exists: bool = False) -> bool:
        async with self.node.meta_lock:
            if not self.node.engine.exists(name):
                if expect_exists:
                    raise IndexNotFoundError()
                return False
            self._writable()
            generation = self.node.engine.get(name).generation
            subject = self.node.feed.meta_subject(name)
            last = await self._last_event(subject)
            try:
                await self._publish(
                    subject, encode_meta(MetaEvent(DELETE, generation)), last[0] if last else 0
                )
            except BadRequestError as exc:
                raise ClusterError("ReplicationTimeout", f"concurrent change: {exc}") from exc
            await self.node.drop(name)
            # The lineage's entries are of no use to anyone now: give their space back.
            data = self.node.feed.data_subject(name, generation)
            try:
                await self.node.js.purge_stream(self.node.feed.data_stream, subject=data)
            except NATS_ERRORS as exc:
                log.warning("could not purge %s (its entries stay in the stream): %s", data, exc)
            return True

    async def _last_event(self, subject: str) -> tuple[int, MetaEvent] | None:
        try:
            msg = await self.node.js.get_last_msg(self.node.feed.meta_stream, subject)
        except NotFoundError:
            return None
        except NATS_ERRORS as exc:
            raise ClusterError("ReplicationUnavailable", f"JetStream: {exc!r}") from exc
        try:
            return int(msg.seq or 0), decode_meta(msg.data or b"")
        except BadEntryError:
            return int(msg.seq or 0), MetaEvent(DELETE, 1)
