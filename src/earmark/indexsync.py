"""Keeping the fingerprint index in step with the fingerprint database.

The importer writes each new fingerprint and an ``index_outbox`` row in one transaction;
:func:`flush_outbox` sends outbox fingerprints to the index and removes their rows once the
index has acknowledged them (the index fsyncs its WAL before it answers). A crash anywhere in
between leaves the row, so the fingerprint is sent again: index inserts are idempotent.

:func:`rebuild` fills an index from scratch (``earmark index rebuild``).
"""

from __future__ import annotations

from collections.abc import Callable

from earmark.chromaprint.compare import extract_query
from earmark.db import fingerprints
from earmark.db.engine import Databases, read_connection, write_transaction
from earmark.index.client import IndexClient
from earmark.index.engine import Insert

FLUSH_BATCH = 1000
REBUILD_BATCH = 5000


def ensure_index(index: IndexClient, name: str) -> None:
    if not index.index_exists(name):
        index.create_index(name)


def flush_outbox(
    dbs: Databases,
    index: IndexClient,
    name: str,
    batch: int = FLUSH_BATCH,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Send every waiting fingerprint to the index; returns how many were sent."""
    sent = 0
    ensure_index(index, name)
    while True:
        with read_connection(dbs.fingerprint) as conn:
            waiting = fingerprints.outbox_batch(conn, batch)
        if not waiting:
            return sent
        index.update(name, [Insert(fp_id, extract_query(items)) for fp_id, items in waiting])
        with write_transaction(dbs.fingerprint) as conn:
            fingerprints.outbox_remove(conn, [fp_id for fp_id, _ in waiting])
        sent += len(waiting)
        if progress is not None:
            progress(len(waiting))
        if len(waiting) < batch:
            return sent


def rebuild(
    dbs: Databases,
    index: IndexClient,
    name: str,
    *,
    batch: int = REBUILD_BATCH,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Drop ``name`` and index every fingerprint of the database again; returns the count.

    Every fingerprint goes into the outbox first, in one transaction, so until it is indexed
    again the importer's slow search still sees it (or, with a large outbox, waits): a running
    importer never creates a duplicate track during a rebuild, and a rebuild that stops half
    way is finished by `earmark index sync` or the importer.
    """
    with write_transaction(dbs.fingerprint) as conn:
        fingerprints.outbox_add_all(conn)
    index.delete_index(name)
    index.create_index(name)
    return flush_outbox(dbs, index, name, batch=batch, progress=progress)
