"""Seeding an index from another node's snapshot (spec §6.4, over this cluster's streams).

Every peer is asked ``GET /:index/_status``; the one holding the wanted generation at the highest
``file_version`` wins, and its ``GET /:index/_snapshot`` stream is restored. The snapshot covers
``version`` (the stream sequence the donor had applied; see engine/snapshot.py), so the new node
follows the stream from there. Blocking (urllib): run it in a thread.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence

from earmark.index.engine import CreateResult, EngineError, MultiIndex

log = logging.getLogger(__name__)

CHUNK = 1 << 20
#: Seconds to wait for a peer's answer to connect or to send its next bytes.
PEER_TIMEOUT = 30.0


def _status(peer: str, name: str) -> tuple[int, int] | None:
    """``(generation, file_version)`` of ``name`` on ``peer``, or None if it cannot say."""
    request = urllib.request.Request(
        f"{peer.rstrip('/')}/{name}/_status", headers={"Accept": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=PEER_TIMEOUT) as answer:
            data = json.loads(answer.read(64 * 1024))
        return int(data["generation"]), int(data["file_version"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.info("peer %s has no usable %s: %s", peer, name, exc)
        return None


def _chunks(peer: str, name: str) -> Iterator[bytes]:
    url = f"{peer.rstrip('/')}/{name}/_snapshot"
    with urllib.request.urlopen(url, timeout=PEER_TIMEOUT) as answer:
        while chunk := answer.read(CHUNK):
            yield chunk


def restore_from_peers(
    engine: MultiIndex, name: str, generation: int, peers: Sequence[str]
) -> CreateResult | None:
    """Restore ``name`` from the best peer holding ``generation``; None if none could."""
    found = [(s[1], p) for p in peers if (s := _status(p, name)) and s[0] == generation]
    for _file_version, peer in sorted(found, reverse=True):
        try:
            result = engine.restore(name, _chunks(peer, name))
        except (OSError, EngineError, urllib.error.URLError) as exc:
            log.warning("restoring %s from %s failed: %s", name, peer, exc)
            continue
        if result.generation != generation:  # the snapshot was of another lineage meanwhile
            engine.delete(name)
            continue
        log.info("restored %s from %s at version %d", name, peer, result.version)
        return result
    return None
