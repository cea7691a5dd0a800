"""The reference's coordinator changelog (spec §6.1, §6.3), kept in NATS JetStream.

The reference's built-in coordinator holds its feeds in memory; this one keeps them in two
JetStream streams (prefix ``P``), so a coordinator restarted (or killed) loses nothing:

- ``P_CMETA`` on subject ``P.cm``: the global **meta feed**, one message per create or delete
  (``{"k": "create" | "delete", "i": name}``), never truncated. An op's ``pos`` is its stream
  sequence, and a create's ``pos`` is the new lineage's generation, as in the reference. Every
  op is published with ``Nats-Expected-Last-Sequence``, so two coordinators cannot interleave.
- ``P_CLOG`` on subjects ``P.cl.<index>.<gen>``: the **data feed** of one lineage. One message
  per append (or per part of an append over NATS ``max_payload``), payload
  ``[first seq, [change, ...]]`` with the changes in the reference's msgpack shape; the dense
  per-lineage ``seq`` of change ``j`` is ``first + j``. Headers carry ``first`` and the count so
  a restart rebuilds the seq → message map from headers alone. ``P.cf.<index>.<gen>`` holds the
  retention floor set by ``/_truncate`` (the newest message wins), and ``P.cb.<index>.<gen>``
  the **base**: the lineage's state at that floor (the newest insert of every live document and
  the metadata, folded from the entries the truncation dropped), so ``/_bootstrap`` still gives
  the whole corpus (base, then the entries kept) while the stream gives the space back.

The seq → message map of a lineage is built lazily (at its first read or append after a start).
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgpack
from nats.js import JetStreamContext, api
from nats.js.errors import BadRequestError, NotFoundError

from earmark.index.cluster.feed import WRONG_LAST_SEQUENCE
from earmark.index.engine import Change
from earmark.index.engine.types import Delete, Insert, SetMetadata

CREATE = "create"
DELETE = "delete"
EXPECTED_LAST_SEQ = "Nats-Expected-Last-Sequence"
EXPECTED_LAST_SUBJECT_SEQ = "Nats-Expected-Last-Subject-Sequence"
FIRST_HEADER = "Earmark-First"
COUNT_HEADER = "Earmark-Count"
#: The most entries one read returns (the reference's ``max_read_entries``).
MAX_READ = 1024
DEFAULT_READ = 256
#: Room left in a message for what is not the changes (headers, subject, framing).
_HEADROOM = 1024


class ChangelogError(Exception):
    """A request the changelog refuses; ``status`` is the HTTP status (400, 404, 409, 410)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class MetaOp:
    pos: int
    kind: str
    name: str


@dataclass
class _Lineage:
    """Where a lineage's seqs are: parallel lists of first seq, count and stream sequence."""

    firsts: list[int] = field(default_factory=list)
    counts: list[int] = field(default_factory=list)
    stream_seqs: list[int] = field(default_factory=list)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    floor: int = 0  # the retention floor: entries up to it are in the base only

    @property
    def last(self) -> int:
        return self.firsts[-1] + self.counts[-1] - 1 if self.firsts else self.floor

    @property
    def last_stream_seq(self) -> int:
        return self.stream_seqs[-1] if self.stream_seqs else 0

    def add(self, first: int, count: int, stream_seq: int) -> None:
        self.firsts.append(first)
        self.counts.append(count)
        self.stream_seqs.append(stream_seq)


def change_to_wire(change: Change) -> dict[str, Any]:
    """A change in the reference's msgpack shape (``{i: {i, h}}``, ``{d: {i}}``, ``{s: {e}}``)."""
    if isinstance(change, Insert):
        return {"i": {"i": change.id, "h": change.hashes.tolist()}}
    if isinstance(change, Delete):
        return {"d": {"i": change.id}}
    if isinstance(change, SetMetadata):
        return {"s": {"e": [{"k": k, "v": v} for k, v in change.entries]}}
    raise TypeError(change)


def _pack(obj: object) -> bytes:
    data: bytes = msgpack.packb(obj, use_bin_type=True)
    return data


class Changelog:
    """The coordinator's feeds over one JetStream connection (see the module docstring)."""

    def __init__(self, js: JetStreamContext, prefix: str, *, max_payload: int) -> None:
        self.js = js
        self.prefix = prefix
        self.max_payload = max_payload
        self.meta_stream = f"{prefix}_CMETA"
        self.log_stream = f"{prefix}_CLOG"
        self.ops: list[MetaOp] = []
        self.live: dict[str, int] = {}  # index name → live generation
        self._lineages: dict[tuple[str, int], _Lineage] = {}
        self.meta_lock = asyncio.Lock()

    # -- start -------------------------------------------------------------------------------

    async def open(self, replicas: int = 1) -> None:
        """Create the streams if missing and read the whole meta feed back."""
        for config in (
            api.StreamConfig(
                name=self.meta_stream,
                subjects=[f"{self.prefix}.cm"],
                storage=api.StorageType.FILE,
                num_replicas=replicas,
            ),
            api.StreamConfig(
                name=self.log_stream,
                subjects=[f"{self.prefix}.{kind}.*.*" for kind in ("cl", "cf", "cb")],
                storage=api.StorageType.FILE,
                num_replicas=replicas,
            ),
        ):
            with contextlib.suppress(BadRequestError):  # exists: used as it is
                await self.js.add_stream(config)
        self.ops, self.live = [], {}
        async for seq, _headers, data in self._scan(self.meta_stream, f"{self.prefix}.cm"):
            raw = msgpack.unpackb(data, raw=False)
            self._record(MetaOp(seq, raw["k"], raw["i"]))

    def _record(self, op: MetaOp) -> None:
        self.ops.append(op)
        if op.kind == CREATE:
            self.live[op.name] = op.pos
        else:
            self.live.pop(op.name, None)

    async def _scan(
        self, stream: str, subject: str, *, headers_only: bool = False
    ) -> AsyncIterator[tuple[int, dict[str, str], bytes]]:
        """Every message of ``subject`` in order: ``(stream seq, headers, data)``."""
        try:
            last = await self.js.get_last_msg(stream, subject)
        except NotFoundError:
            return
        end = int(last.seq or 0)
        sub = await self.js.subscribe(
            subject,
            ordered_consumer=True,
            deliver_policy=api.DeliverPolicy.ALL,
            headers_only=headers_only,
        )
        try:
            while True:
                msg = await sub.next_msg(timeout=10)
                seq = msg.metadata.sequence.stream
                yield seq, dict(msg.headers or {}), msg.data
                if seq >= end:
                    return
        finally:
            with contextlib.suppress(Exception):
                await sub.unsubscribe()

    # -- meta feed ---------------------------------------------------------------------------

    async def _publish_meta(self, kind: str, name: str) -> int:
        expected = self.ops[-1].pos if self.ops else 0
        try:
            ack = await self.js.publish(
                f"{self.prefix}.cm",
                _pack({"k": kind, "i": name}),
                headers={EXPECTED_LAST_SEQ: str(expected)},
            )
        except BadRequestError as exc:
            if exc.err_code == WRONG_LAST_SEQUENCE or "wrong last sequence" in str(exc):
                await self.open()  # another coordinator wrote: read the feed again
                raise ChangelogError(409, "the meta feed moved; try again") from exc
            raise
        pos = int(ack.seq)
        self._record(MetaOp(pos, kind, name))
        return pos

    async def create_index(self, name: str) -> int:
        """The live generation of ``name``, created when there is none (idempotent)."""
        async with self.meta_lock:
            if name in self.live:
                return self.live[name]
            return await self._publish_meta(CREATE, name)

    async def delete_index(self, name: str) -> int:
        async with self.meta_lock:
            generation = self.live.get(name)
            if generation is None:
                raise ChangelogError(404, "IndexNotFound")
            pos = await self._publish_meta(DELETE, name)
        with contextlib.suppress(Exception):  # space only; the lineage is unreachable now
            subject = self._data_subject(name, generation)
            await self.js.purge_stream(self.log_stream, subject=subject)
        self._lineages.pop((name, generation), None)
        return pos

    def read_meta(self, after: int, limit: int) -> list[MetaOp]:
        start = bisect.bisect_right([op.pos for op in self.ops], after)
        return self.ops[start : start + limit]

    # -- data feeds --------------------------------------------------------------------------

    def _data_subject(self, name: str, generation: int) -> str:
        return f"{self.prefix}.cl.{name}.{generation}"

    def _floor_subject(self, name: str, generation: int) -> str:
        return f"{self.prefix}.cf.{name}.{generation}"

    def _base_subject(self, name: str, generation: int) -> str:
        return f"{self.prefix}.cb.{name}.{generation}"

    async def _base(self, name: str, generation: int) -> list[dict[str, Any]]:
        changes: list[dict[str, Any]] = []
        async for _seq, _headers, data in self._scan(
            self.log_stream, self._base_subject(name, generation)
        ):
            changes.extend(msgpack.unpackb(data, raw=False))
        return changes

    async def _write_base(self, name: str, generation: int, dropped: list[int]) -> None:
        """Fold the old base and the messages ``dropped`` (stream seqs) into a new base."""
        docs: dict[int, dict[str, Any]] = {}
        meta: dict[str, str] = {}

        def fold(change: dict[str, Any]) -> None:
            ((kind, body),) = change.items()
            if kind == "i":
                docs[body["i"]] = change
            elif kind == "d":
                docs.pop(body["i"], None)
            else:
                meta.update((e["k"], e["v"]) for e in body["e"])

        for change in await self._base(name, generation):
            fold(change)
        for stream_seq in dropped:
            msg = await self.js.get_msg(self.log_stream, stream_seq)
            for change in msgpack.unpackb(msg.data or b"", raw=False)[1]:
                fold(change)
        base = [docs[i] for i in sorted(docs)]
        if meta:
            base.append({"s": {"e": [{"k": k, "v": v} for k, v in sorted(meta.items())]}})
        subject = self._base_subject(name, generation)
        first_new = 0
        for part in self._parts(base):
            ack = await self.js.publish(subject, _pack(part))
            first_new = first_new or int(ack.seq)
        if first_new > 1:  # the older base goes (never sequence 1: see the purge below)
            await self.js.purge_stream(self.log_stream, subject=subject, seq=first_new)

    def _check_live(self, name: str, generation: int) -> None:
        if self.live.get(name) != generation:
            raise ChangelogError(404, "IndexNotFound")

    async def _lineage(self, name: str, generation: int) -> _Lineage:
        key = (name, generation)
        lineage = self._lineages.get(key)
        if lineage is None:
            lineage = _Lineage()
            subject = self._data_subject(name, generation)
            async for seq, headers, _ in self._scan(self.log_stream, subject, headers_only=True):
                lineage.add(int(headers[FIRST_HEADER]), int(headers[COUNT_HEADER]), seq)
            lineage.floor = await self.floor(name, generation)
            lineage = self._lineages.setdefault(key, lineage)
        return lineage

    def _parts(self, wire: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
        limit = self.max_payload - _HEADROOM
        parts: list[list[dict[str, Any]]] = [[]]
        size = 16
        for change in wire:
            n = len(_pack(change))
            if n + 16 > limit:
                raise ChangelogError(400, "one change is over NATS max_payload")
            if parts[-1] and size + n > limit:
                parts.append([])
                size = 16
            parts[-1].append(change)
            size += n
        return parts

    async def append(
        self, name: str, generation: int, changes: Sequence[Change], expected: int | None
    ) -> int:
        """Store ``changes`` after the lineage's last seq; the new last seq (409 when
        ``expected`` is not the last seq)."""
        self._check_live(name, generation)
        lineage = await self._lineage(name, generation)
        async with lineage.lock:
            if expected is not None and expected != lineage.last:
                raise ChangelogError(409, "VersionMismatch")
            if not changes:
                return lineage.last
            subject = self._data_subject(name, generation)
            for part in self._parts([change_to_wire(c) for c in changes]):
                first = lineage.last + 1
                try:
                    ack = await self.js.publish(
                        subject,
                        _pack([first, part]),
                        headers={
                            EXPECTED_LAST_SUBJECT_SEQ: str(lineage.last_stream_seq),
                            FIRST_HEADER: str(first),
                            COUNT_HEADER: str(len(part)),
                        },
                    )
                except BadRequestError as exc:
                    self._lineages.pop((name, generation), None)  # re-read it next time
                    raise ChangelogError(409, f"the feed moved: {exc}") from exc
                lineage.add(first, len(part), int(ack.seq))
            return lineage.last

    async def floor(self, name: str, generation: int) -> int:
        try:
            msg = await self.js.get_last_msg(self.log_stream, self._floor_subject(name, generation))
        except NotFoundError:
            return 0
        return int(msg.data or b"0")

    async def read(
        self, name: str, generation: int, after: int, limit: int
    ) -> list[tuple[int, dict[str, Any]]]:
        """Up to ``limit`` entries ``(seq, change)`` after ``after`` (410 below the floor)."""
        self._check_live(name, generation)
        if after < await self.floor(name, generation):
            raise ChangelogError(410, "BelowRetention")
        lineage = await self._lineage(name, generation)
        out: list[tuple[int, dict[str, Any]]] = []
        i = max(0, bisect.bisect_right(lineage.firsts, after + 1) - 1)
        while i < len(lineage.firsts) and len(out) < limit:
            first, stream_seq = lineage.firsts[i], lineage.stream_seqs[i]
            msg = await self.js.get_msg(self.log_stream, stream_seq)
            _first, changes = msgpack.unpackb(msg.data or b"", raw=False)
            for j, change in enumerate(changes):
                if first + j > after and len(out) < limit:
                    out.append((first + j, change))
            i += 1
        return out

    async def truncate(self, name: str, generation: int, floor: int) -> None:
        """Drop the entries ≤ ``floor``: reads below it answer 410 from now on."""
        self._check_live(name, generation)
        lineage = await self._lineage(name, generation)
        async with lineage.lock:
            floor = min(floor, lineage.last)
            if floor <= await self.floor(name, generation):
                return
            await self.js.publish(self._floor_subject(name, generation), str(floor).encode())
            lineage.floor = floor
            # Whole messages at or below the floor go; a message that straddles it stays.
            drop = sum(
                1 for k, f in enumerate(lineage.firsts) if f + lineage.counts[k] - 1 <= floor
            )
            subject = self._data_subject(name, generation)
            if drop:
                await self._write_base(name, generation, lineage.stream_seqs[:drop])
            if drop == len(lineage.firsts):
                await self.js.purge_stream(self.log_stream, subject=subject)
            elif drop:  # up to, not including, the first kept (never sequence 1: see NATS)
                first_kept = lineage.stream_seqs[drop]
                await self.js.purge_stream(self.log_stream, subject=subject, seq=first_kept)
            # The floor's subject keeps only its newest message.
            await self.js.purge_stream(
                self.log_stream, subject=self._floor_subject(name, generation), keep=1
            )
            del lineage.firsts[:drop], lineage.counts[:drop], lineage.stream_seqs[:drop]

    async def bootstrap(
        self, name: str, generation: int
    ) -> tuple[int, AsyncIterator[list[dict[str, Any]]]]:
        """``(position, batches of changes)`` that rebuild the lineage: its base (the state at
        the retention floor), then every entry kept."""
        self._check_live(name, generation)
        lineage = await self._lineage(name, generation)
        position = lineage.last
        seqs = [s for k, s in enumerate(lineage.stream_seqs) if lineage.firsts[k] <= position]
        base = await self._base(name, generation)

        async def batches() -> AsyncIterator[list[dict[str, Any]]]:
            for part in self._parts(base):
                yield part
            for stream_seq in seqs:
                msg = await self.js.get_msg(self.log_stream, stream_seq)
                _first, changes = msgpack.unpackb(msg.data or b"", raw=False)
                yield changes

        return position, batches()
