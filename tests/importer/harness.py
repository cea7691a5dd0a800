"""A small harness for importer tests: a real database, a real in-process index, submissions.

Each import runs in its own ``dbs.write()`` transaction, as the worker does, and the outbox is
flushed to the index after the commit unless a test asks otherwise.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from earmark.chromaprint.codec import decode_fingerprint_base64
from earmark.db import accounts, applications, submissions
from earmark.db.engine import Databases
from earmark.importer.decide import import_submission
from earmark.importer.outcome import ImportOutcome
from earmark.index.client import LocalIndexClient
from earmark.index.engine.multi import MultiIndex
from earmark.indexsync import flush_outbox
from earmark.search import Searcher

INDEX_NAME = "test"

Items = npt.NDArray[np.uint32]


def fixture_items(vectors: Any, name: str) -> tuple[Items, int]:
    """The items and length of one of the reference's TEST_* fingerprints ("1A" … "2")."""
    entry = vectors["fingerprints"][name]
    return decode_fingerprint_base64(entry["fingerprint"])[0], int(entry["length"])


def corpus_items(vectors: Any, name: str) -> Items:
    """The items of a real fingerprint of the dev corpus (``supertux/…#120``)."""
    return np.array(vectors["fingerprints"][name]["raw_unsigned"], dtype=np.uint32)


@dataclass
class Harness:
    dbs: Databases
    index_root: Path
    engine: MultiIndex = field(init=False)
    searcher: Searcher = field(init=False)
    account_id: int = field(init=False)
    application_id: int = field(init=False)

    def __post_init__(self) -> None:
        self.engine = MultiIndex(self.index_root)
        self.searcher = Searcher(LocalIndexClient(self.engine), INDEX_NAME)
        with self.dbs.write() as conns:
            account = accounts.create(conns.app, name="submitter")
            app = applications.create(
                conns.app, name="Tester", version="1.0", account_id=account.id
            )
        self.account_id, self.application_id = account.id, app.id

    def close(self) -> None:
        self.engine.close()

    def submit(
        self,
        items: Sequence[int] | npt.NDArray[np.integer],
        length: int,
        *,
        mbid: uuid.UUID | None = None,
        puid: uuid.UUID | None = None,
        meta: Mapping[str, object] | None = None,
        foreignid: str | None = None,
        bitrate: int | None = None,
        format: str | None = None,
        version: str | None = "1.0",
    ) -> int:
        with self.dbs.write() as conns:
            return submissions.create(
                conns.ingest,
                account_id=self.account_id,
                application_id=self.application_id,
                application_version=version,
                fingerprint=items,
                length=length,
                bitrate=bitrate,
                format=format,
                meta=meta,
                mbid=mbid,
                puid=puid,
                foreignid=foreignid,
            )

    def run(self, submission_id: int, *, flush: bool = True) -> ImportOutcome:
        with self.dbs.write() as conns:
            outcome = import_submission(conns, self.searcher, submission_id)
        if flush:
            self.flush()
        return outcome

    def flush(self) -> int:
        return flush_outbox(self.dbs, self.searcher.index, INDEX_NAME)

    def submit_and_run(
        self, items: Sequence[int] | npt.NDArray[np.integer], length: int, **kwargs: Any
    ) -> ImportOutcome:
        return self.run(self.submit(items, length, **kwargs))

    def submission(self, submission_id: int) -> submissions.Submission:
        with self.dbs.read() as conns:
            found = submissions.get(conns.ingest, submission_id)
        assert found is not None
        return found
