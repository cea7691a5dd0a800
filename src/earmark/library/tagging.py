"""``earmark tag``: fingerprint files, look them up with catalog data, decide per folder, show
or write the changes, and undo them (docs/tagging.md).

Files arrive in the finder's order, so the files of one folder come together: a folder is
decided once its last file is looked up, and memory holds one folder's answers, not the whole
library's. Each file fails alone: a file that cannot be decoded, read or written gets an error
in its plan and the run goes on with the next one.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from earmark.library.client import LOOKUP_BATCH, Query, WebServiceClient
from earmark.library.fingerprints import Scanned, scan_files
from earmark.library.tagfile import TagFileError, read_values, restore_raw, write_values
from earmark.library.tagjournal import TagJournal
from earmark.library.tagplan import Looked, TagOptions, TagPlan, decide_folder
from earmark.library.tags import Tags

#: The lookup's meta: recordings with their catalog tracks (``catalog``, an Earmark extension),
#: their releases' mediums for the track totals, submission counts and user metadata.
TAG_META = "recordings releases tracks catalog sources usermeta"
STAGES = ("fingerprint", "lookup", "decide", "write")


@dataclass(frozen=True)
class TagTarget:
    """A file to tag; ``album``: it came from a directory, so album mode applies."""

    path: str
    album: bool


@dataclass
class TagSummary:
    counts: dict[str, int] = field(default_factory=dict)
    written: int = 0
    timings: dict[str, float] = field(default_factory=lambda: dict.fromkeys(STAGES, 0.0))

    def add(self, plan: TagPlan) -> None:
        status = "unchanged" if plan.status == "matched" and not plan.changes else plan.status
        self.counts[status] = self.counts.get(status, 0) + 1
        self.written += plan.written

    def line(self) -> str:
        order = ("matched", "unchanged", "low_confidence", "ambiguous", "no_match", "too_short")
        parts = [f"{self.counts.get(s, 0)} {s.replace('_', ' ')}" for s in order]
        parts.append(f"{self.counts.get('error', 0)} failed")
        return ", ".join(parts) + f"; {self.written} written"


class Tagger:
    def __init__(
        self,
        client: WebServiceClient,
        options: TagOptions,
        *,
        jobs: int,
        length: float,
        journal: TagJournal | None,
        emit: Callable[[TagPlan], None],
    ) -> None:
        self.client = client
        self.options = options
        self.jobs, self.length = jobs, length
        self.journal = journal
        self.emit = emit
        self.summary = TagSummary()
        self._batch: list[tuple[TagTarget, Looked, str | None]] = []
        self._ready: list[tuple[TagTarget, Looked]] = []

    async def run(self, targets: Sequence[TagTarget]) -> TagSummary:
        by_path = {t.path: t for t in targets}
        started = time.perf_counter()
        async for scanned in scan_files(
            list(by_path), jobs=self.jobs, length=self.length, with_tags=True
        ):
            self._time("fingerprint", started)
            await self._add(by_path[scanned.path], scanned)
            started = time.perf_counter()
        await self._flush()
        self._decide(final=True)
        return self.summary

    def _time(self, stage: str, started: float) -> None:
        self.summary.timings[stage] += time.perf_counter() - started

    async def _add(self, target: TagTarget, scanned: Scanned) -> None:
        looked = _looked(scanned)
        self._batch.append((target, looked, scanned.fingerprint if looked.error is None else None))
        if sum(fp is not None for _, _, fp in self._batch) >= LOOKUP_BATCH:
            await self._flush()

    async def _flush(self) -> None:
        """Look up the batch's fingerprints, then decide what is complete."""
        asked = [(i, fp) for i, (_, looked, fp) in enumerate(self._batch) if fp is not None]
        found: list[list[dict[str, Any]]] = []
        if asked:
            started = time.perf_counter()
            queries = [Query(fp, max(1, int(self._batch[i][1].duration))) for i, fp in asked]
            found = await self.client.lookup(queries, TAG_META)
            self._time("lookup", started)
        answers = dict(zip((i for i, _ in asked), found, strict=True))
        for i, (target, looked, _) in enumerate(self._batch):
            self._ready.append((target, _with_results(looked, answers.get(i, []))))
        self._batch.clear()
        self._decide(final=False)

    def _decide(self, *, final: bool) -> None:
        """Decide every complete group of the ready files: a folder is complete once a file
        of another group (or the end) follows it."""
        while self._ready:
            key = _group(self._ready[0][0])
            size = 1
            while size < len(self._ready) and _group(self._ready[size][0]) == key:
                size += 1
            if size == len(self._ready) and not final:
                return
            group, self._ready = self._ready[:size], self._ready[size:]
            started = time.perf_counter()
            plans = decide_folder(
                [looked for _, looked in group], self.options, album=group[0][0].album
            )
            self._time("decide", started)
            for plan in plans:
                self._finish(plan)

    def _finish(self, plan: TagPlan) -> None:
        if self.journal is not None and plan.status == "matched" and plan.changes:
            started = time.perf_counter()
            try:
                kind, raw = write_values(plan.path, plan.to_write)
            except TagFileError as exc:
                plan.status, plan.reason = "error", str(exc)
            else:
                self.journal.record_write(os.path.realpath(plan.path), kind, raw)
                plan.written = True
            self._time("write", started)
        self.summary.add(plan)
        self.emit(plan)


def _group(target: TagTarget) -> tuple[str, bool, str]:
    folder = os.path.dirname(os.path.abspath(target.path))
    return (folder, target.album, "" if target.album else target.path)


def _looked(scanned: Scanned) -> Looked:
    """The scan of a file with its current values of Earmark's fields (or why it failed)."""
    if scanned.fingerprint is None:
        return Looked(scanned.path, error=scanned.error or "cannot fingerprint")
    try:
        kind, current = read_values(scanned.path)
    except TagFileError as exc:
        return Looked(scanned.path, error=str(exc))
    return Looked(
        scanned.path,
        duration=scanned.duration,
        tags=scanned.tags or Tags(),
        current=current,
        kind=kind,
        unidentifiable=scanned.unidentifiable,
    )


def _with_results(looked: Looked, results: list[dict[str, Any]]) -> Looked:
    return dataclasses.replace(looked, results=results)


@dataclass(frozen=True)
class Undone:
    path: str
    error: str | None = None
    nothing: bool = False


def undo(journal: TagJournal, paths: Sequence[str] | None) -> list[Undone]:
    """Restore the tags each file had before its latest write (every journaled file when
    ``paths`` is None); each file fails alone."""
    wanted = journal.paths() if paths is None else [os.path.realpath(p) for p in paths]
    done: list[Undone] = []
    for path in wanted:
        written = journal.latest(path)
        if written is None:
            done.append(Undone(path, nothing=True))
            continue
        try:
            restore_raw(path, written.raw)
        except TagFileError as exc:
            done.append(Undone(path, error=str(exc)))
            continue
        journal.record_undo(path)
        done.append(Undone(path))
    return done
