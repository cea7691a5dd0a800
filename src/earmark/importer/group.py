"""The writes of an import group that no later import of the group reads (docs/importer.md).

:func:`earmark.importer.decide.import_group` imports several submissions in one transaction.
What a later submission of the group must see is written at once: new tracks, new fingerprints
and their ``index_outbox`` rows (the slow search scans the outbox, inside the transaction).
Everything else is only counted or recorded, never read back during the import, so it is
gathered here and written by :meth:`ImportGroup.flush` in a few batched statements at the end
of the group, still inside the same transaction: submission counts of reused fingerprints,
metadata rows, links, ``submission_import``, the provenance rows, ``submission_result``, the
final statuses and the removal of the ``pending_submission`` rows. Rows shared with another
importer (fingerprints, links, metadata) are written in a fixed order, so two importers wait
for each other instead of deadlocking.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from earmark.db import fingerprints, formats, links, sources, submissions
from earmark.db import meta as meta_data
from earmark.db.engine import Connections
from earmark.db.fingerprints import ImportRecord
from earmark.db.links import LinkKind
from earmark.db.submissions import Submission
from earmark.db.tables import SubmissionStatus

LinkValue = tuple[LinkKind, Any]


@dataclass(slots=True)
class _Imported:
    """An import decided in this group, its metadata and links still to be written."""

    sub: Submission
    fingerprint_id: int
    track_id: int
    new_fingerprint: bool
    source_id: int
    meta: meta_data.MetaDict
    links: list[LinkValue]  # meta links are added once the meta id is known


@dataclass
class ImportGroup:
    """The caches and the deferred writes of one import transaction."""

    conns: Connections
    _sources: dict[tuple[int, int, str | None], int] = field(default_factory=dict)
    _formats: dict[str, int] = field(default_factory=dict)
    _counts: Counter[int] = field(default_factory=Counter)
    _imported: list[_Imported] = field(default_factory=list)
    #: Recorded imports being finished: their links exist, their ids are known.
    _known_links: list[tuple[LinkKind, int, int, int]] = field(default_factory=list)
    _known: list[tuple[Submission, ImportRecord, int]] = field(default_factory=list)
    _finished: list[tuple[int, SubmissionStatus, str | None]] = field(default_factory=list)
    _stale_pending: list[int] = field(default_factory=list)

    # --- cached find-or-insert (app database) ---------------------------------------------

    def source_id(self, sub: Submission) -> int:
        key = (sub.application_id, sub.account_id, sub.application_version)
        if key not in self._sources:
            self._sources[key] = sources.find_or_insert(
                self.conns.app,
                application_id=sub.application_id,
                account_id=sub.account_id,
                version=sub.application_version,
            )
        return self._sources[key]

    def format_id(self, name: str) -> int:
        if name not in self._formats:
            self._formats[name] = formats.find_or_insert(self.conns.app, name)
        return self._formats[name]

    # --- deferred writes ------------------------------------------------------------------

    def count_submission(self, fingerprint_id: int) -> None:
        """One more submission of an existing fingerprint."""
        self._counts[fingerprint_id] += 1

    def imported(
        self,
        sub: Submission,
        *,
        fingerprint_id: int,
        track_id: int,
        new_fingerprint: bool,
        source_id: int,
        links_to_add: list[LinkValue],
    ) -> None:
        """A submission imported: its metadata, links, record and provenance to write."""
        self._imported.append(
            _Imported(
                sub,
                fingerprint_id,
                track_id,
                new_fingerprint,
                source_id,
                meta_data.normalize(sub.meta),
                links_to_add,
            )
        )

    def finished_recorded(
        self,
        sub: Submission,
        record: ImportRecord,
        link_ids: list[tuple[LinkKind, int]],
        source_id: int,
    ) -> None:
        """A recorded import finished (its fingerprint side committed earlier)."""
        self._known.append((sub, record, source_id))
        self._known_links += [(kind, link_id, sub.id, source_id) for kind, link_id in link_ids]

    def finish(self, submission_id: int, status: SubmissionStatus, reason: str | None) -> None:
        self._finished.append((submission_id, status, reason))

    def remove_pending(self, submission_id: int) -> None:
        self._stale_pending.append(submission_id)

    def flush(self) -> None:
        """Write everything gathered, in the caller's transaction (fingerprint side first)."""
        conn = self.conns.fingerprint
        fingerprints.add_submission_counts(conn, self._counts)
        metas = [i.meta for i in self._imported if i.meta]
        meta_ids = meta_data.find_or_insert_many(conn, metas) if metas else {}
        meta_of: dict[int, int | None] = {}
        for item in self._imported:
            meta_id = meta_ids[meta_data.gid_of(item.meta)] if item.meta else None
            meta_of[item.sub.id] = meta_id
            if meta_id is not None:
                item.links.append(("meta", meta_id))
        link_ids = self._write_links()
        records = [
            ImportRecord(
                i.sub.id, i.fingerprint_id, i.track_id, meta_of[i.sub.id], i.new_fingerprint
            )
            for i in self._imported
        ]
        fingerprints.record_imports(conn, records)

        ingest = self.conns.ingest
        done = [(i.sub, r, i.source_id) for i, r in zip(self._imported, records, strict=True)]
        done += self._known
        submissions.add_fingerprint_sources(
            ingest, [(r.fingerprint_id, sub.id, source) for sub, r, source in done]
        )
        by_kind: dict[LinkKind, list[tuple[int, int, int]]] = {}
        for item in self._imported:
            for kind, value in item.links:
                link_id = link_ids[kind][(item.track_id, value)]
                by_kind.setdefault(kind, []).append((link_id, item.sub.id, item.source_id))
        for kind, link_id, sub_id, source in self._known_links:
            by_kind.setdefault(kind, []).append((link_id, sub_id, source))
        for kind, rows in by_kind.items():
            submissions.add_link_sources(ingest, kind, rows)
        submissions.insert_results(
            ingest,
            [
                submissions.result_row(sub, r.fingerprint_id, r.track_id, r.meta_id)
                for sub, r, _ in done
            ],
        )
        finished = self._finished + [(sub.id, "imported", None) for sub, _, _ in done]
        submissions.finish_many(ingest, finished)
        submissions.remove_pending(ingest, sorted(self._stale_pending))

    def _write_links(self) -> dict[LinkKind, dict[tuple[int, Any], int]]:
        counts: dict[LinkKind, Counter[tuple[int, Any]]] = {}
        for item in self._imported:
            for kind, value in item.links:
                counts.setdefault(kind, Counter())[(item.track_id, value)] += 1
        return {
            kind: links.add_many(self.conns.fingerprint, kind, counted)
            for kind, counted in counts.items()
        }
