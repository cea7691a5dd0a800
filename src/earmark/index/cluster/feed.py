"""The layout of the replication log in NATS JetStream: streams, subjects and entries.

Two streams per cluster, named after a prefix ``P`` (setting ``index_stream``):

- ``P_META`` on subjects ``P.m.<index>``: one lifecycle event per index, keeping only the
  newest per subject (``{"k": "create" | "delete", "g": generation}``): the registry of
  indexes and their live generations, as the reference's ``fpindex-meta`` stream (spec §10);
- ``P_DATA`` on subjects ``P.u.<index>.<generation>``: the data changes of one lineage, one
  message per acknowledged write (an ``_update`` batch, a single put or delete). The stream
  sequence of a message is the index version the write gets on every node.

A data entry is the WAL record format (:func:`earmark.index.engine.wal.encode_changes`) with the
*previous* sequence of the same subject in the commit-id slot: ``[previous, ops, hashes]``.
Every node checks that an entry follows the one it applied last, so a stream that lost, reordered
or gained a foreign entry stops the consumer instead of diverging silently; the writer publishes
with ``Nats-Expected-Last-Subject-Sequence`` = that same previous sequence, so JetStream itself
refuses an entry that would break the chain.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgpack
from nats.js import api

from earmark.index.engine import Change
from earmark.index.engine.types import SetMetadata
from earmark.index.engine.wal import decode_changes, encode_changes

#: The header JetStream checks against the subject's last sequence before storing a message.
EXPECTED_LAST_SUBJECT_SEQ = "Nats-Expected-Last-Subject-Sequence"
#: JetStream's error code for a failed ``Nats-Expected-Last-Subject-Sequence`` check.
WRONG_LAST_SEQUENCE = 10071
#: JetStream's error code for "stream name already in use with a different configuration".
STREAM_CONFIG_DIFFERS = 10058

CREATE = "create"
DELETE = "delete"


class BadEntryError(ValueError):
    """A stream entry that cannot be applied: undecodable, or not following the last one."""


@dataclass(frozen=True)
class MetaEvent:
    kind: str  # CREATE or DELETE
    generation: int


@dataclass(frozen=True)
class Feed:
    """Stream and subject names of one cluster (prefix ``P``)."""

    prefix: str

    @property
    def meta_stream(self) -> str:
        return f"{self.prefix}_META"

    @property
    def data_stream(self) -> str:
        return f"{self.prefix}_DATA"

    def meta_subject(self, index: str) -> str:
        return f"{self.prefix}.m.{index}"

    @property
    def meta_subjects(self) -> str:
        return f"{self.prefix}.m.*"

    def data_subject(self, index: str, generation: int) -> str:
        return f"{self.prefix}.u.{index}.{generation}"

    def index_of_meta_subject(self, subject: str) -> str:
        return subject.removeprefix(f"{self.prefix}.m.")

    def consumer_name(self, replica_id: str, index: str, generation: int) -> str:
        """The durable consumer of one replica on one lineage (as the reference named them)."""
        return f"{replica_id}-{index}-g{generation}"

    def meta_config(self, replicas: int = 1) -> api.StreamConfig:
        return api.StreamConfig(
            name=self.meta_stream,
            subjects=[self.meta_subjects],
            storage=api.StorageType.FILE,
            max_msgs_per_subject=1,
            num_replicas=replicas,
        )

    def data_config(self, replicas: int = 1) -> api.StreamConfig:
        return api.StreamConfig(
            name=self.data_stream,
            subjects=[f"{self.prefix}.u.*.*"],
            storage=api.StorageType.FILE,
            num_replicas=replicas,
        )


def encode_entry(previous: int, changes: list[Change]) -> bytes:
    return encode_changes(previous, changes)


def decode_entry(payload: bytes) -> tuple[int, list[Change]]:
    """``(previous sequence, changes)``; :class:`BadEntryError` when it is not an entry."""
    try:
        previous, changes = decode_changes(payload)
    except (ValueError, TypeError, IndexError, KeyError, msgpack.UnpackException) as exc:
        raise BadEntryError(f"undecodable entry: {exc!r}") from exc
    for change in changes:
        if isinstance(change, SetMetadata):
            continue
        if not 0 < change.id <= 0xFFFFFFFF:
            raise BadEntryError(f"fingerprint id {change.id} out of range")
    return previous, changes


def encode_meta(event: MetaEvent) -> bytes:
    data: bytes = msgpack.packb({"k": event.kind, "g": event.generation})
    return data


def decode_meta(payload: bytes) -> MetaEvent:
    try:
        raw: Any = msgpack.unpackb(payload, raw=False)
        kind, generation = raw["k"], int(raw["g"])
    except (ValueError, TypeError, KeyError, msgpack.UnpackException) as exc:
        raise BadEntryError(f"undecodable lifecycle event: {exc!r}") from exc
    if kind not in (CREATE, DELETE) or generation < 1:
        raise BadEntryError(f"bad lifecycle event {raw!r}")
    return MetaEvent(kind, generation)
