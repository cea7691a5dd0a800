"""What a replicating node knows of each index it follows, shared by both replication modes.

A JetStream node (:class:`~earmark.index.cluster.node.ClusterNode`) and a coordinator replica
(:class:`~earmark.index.replica.CoordinatorReplica`) follow indexes differently, but answer the
API the same way: an index still LOADING or STOPPED does not answer reads, ``/_cluster`` lists
every followed index with its local version, and a follower stops with a logged reason.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Generic, TypeVar

from earmark.index.cluster.state import State
from earmark.index.engine import EngineError
from earmark.index.engine.multi import MultiIndex

log = logging.getLogger(__name__)


class Following:
    """One followed index (a name at a generation) and how far its replication got."""

    def __init__(self, name: str, generation: int) -> None:
        self.name = name
        self.generation = generation
        self.state = State.LOADING
        self.error = ""
        self.pending = 0
        self.task: asyncio.Task[None] | None = None


F = TypeVar("F", bound=Following)


class FollowedIndexes(Generic[F]):
    """The read-side face both replication modes share: ``self.followed`` by index name."""

    engine: MultiIndex
    followed: dict[str, F]

    def not_ready(self, name: str) -> State | None:
        """LOADING or STOPPED when ``name`` must not answer reads now; None when it may."""
        f = self.followed.get(name)
        if f is None or f.state is State.FOLLOWING:
            return None
        return f.state

    @property
    def stopped(self) -> list[str]:
        return sorted(n for n, f in self.followed.items() if f.state is State.STOPPED)

    def local_version(self, name: str) -> int:
        """The version applied here; 0 when not opened yet or dropped meanwhile."""
        try:
            return self.engine.get(name).version
        except EngineError:
            return 0

    def stop_following(self, f: F, reason: str) -> None:
        f.state, f.error = State.STOPPED, reason
        log.error("replication of index %s stopped: %s", f.name, reason)
