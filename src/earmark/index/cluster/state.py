"""What a replicating index server reports of its indexes (``/_cluster``, ``/_metrics``).

Plain values, apart from the NATS client of :mod:`earmark.index.cluster.node`, so a standalone
server's HTTP API and metrics use them without importing it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class State(enum.Enum):
    LOADING = "LOADING"
    FOLLOWING = "FOLLOWING"
    STOPPED = "STOPPED"


@dataclass(frozen=True)
class IndexReplication:
    """What ``/_cluster`` and ``/_metrics`` report of one index."""

    name: str
    generation: int
    state: State
    version: int
    stream_version: int | None  # the subject's last sequence; None when JetStream is unreachable
    pending: int
    error: str

    @property
    def lag(self) -> int | None:
        if self.stream_version is None:
            return None
        return max(0, self.stream_version - self.version)
