"""Submit a music library: fingerprints with the metadata of their tags, resumable.

Each file goes through: stat (its :class:`FileKey`) → skipped if the journal has this version →
fingerprint and tags (worker processes) → batched ``/v2/submit`` → journal. A file whose tags
carry nothing the server keeps (no MBID, no title, artist, album …; reference §4.2 drops such a
submission silently) is journaled as ``untagged`` and not sent.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from earmark.library.client import SUBMIT_BATCH, WebServiceClient
from earmark.library.fingerprints import Scanned, scan_files
from earmark.library.scan import FileKey
from earmark.library.state import Entry, Journal
from earmark.library.tags import Tags

#: The longest duration ``/v2/submit`` accepts (reference §4.1: error 8 above it).
MAX_DURATION = 32767


@dataclass
class ImportSummary:
    """Counts of one run, and the files that failed (this run's and journaled earlier)."""

    submitted: int = 0
    submissions: int = 0
    skipped: int = 0
    untagged: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    failed_earlier: list[tuple[str, str]] = field(default_factory=list)
    #: The submission ids of each file submitted in this run (to follow their fate).
    sent: list[tuple[str, tuple[int, ...]]] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [
            f"submitted {self.submitted} file(s) ({self.submissions} submission(s)), "
            f"skipped {self.skipped} already done, {self.untagged} without tags to submit, "
            f"{len(self.failed)} failed"
            + (
                f" (+{len(self.failed_earlier)} failed in earlier runs)"
                if self.failed_earlier
                else ""
            )
        ]
        for path, reason in self.failed + self.failed_earlier:
            out.append(f"  failed: {path}: {reason}")
        return out


def default_state_path(target: str, library: str) -> Path:
    """The journal of one (server or data dir, library) pair, in the XDG state directory:
    the music library itself is never written to, and the same library submitted to two
    servers gets two journals."""
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(Path.home(), ".local", "state")
    digest = hashlib.sha256(f"{target}\n{os.path.abspath(library)}".encode()).hexdigest()[:16]
    return Path(base) / "earmark" / "import-audio" / f"{digest}.jsonl"


def submit_fields(scanned: Scanned, tags: Tags) -> dict[str, str | list[str]]:
    """The ``/v2/submit`` fields of one file (unsuffixed)."""
    fields: dict[str, str | list[str]] = {
        "fingerprint": scanned.fingerprint or "",
        "duration": str(max(1, int(scanned.duration))),
    }
    if tags.mbids:
        fields["mbid"] = list(tags.mbids)
    texts = {
        "track": tags.title,
        "artist": tags.artist,
        "album": tags.album,
        "albumartist": tags.album_artist,
        "fileformat": tags.fileformat,
    }
    numbers = {
        "trackno": tags.track_no,
        "discno": tags.disc_no,
        "year": tags.year,
        "bitrate": tags.bitrate,
    }
    fields.update({name: value for name, value in texts.items() if value})
    fields.update({name: str(value) for name, value in numbers.items() if value})
    return fields


@dataclass
class Importer:
    """One run of ``import-audio`` over already-expanded file paths."""

    client: WebServiceClient
    user_key: str
    journal: Journal
    jobs: int
    length: float
    progress: Callable[[int], None] = lambda n: None
    summary: ImportSummary = field(default_factory=ImportSummary)
    _batch: list[tuple[FileKey, Scanned, Tags]] = field(default_factory=list)

    async def run(self, paths: Sequence[str]) -> ImportSummary:
        todo: dict[str, FileKey] = {}
        for path in paths:
            try:
                key = FileKey.of(path)
            except OSError as exc:
                self.summary.failed.append((path, exc.strerror or type(exc).__name__))
                self.progress(1)
                continue
            done = self.journal.done(key)
            if done is None:
                todo[key.path] = key
                continue
            self.summary.skipped += 1
            if done.status == "failed":
                self.summary.failed_earlier.append((key.path, done.reason or "failed"))
            self.progress(1)
        async for scanned in scan_files(
            list(todo), jobs=self.jobs, length=self.length, with_tags=True
        ):
            await self._take(todo[scanned.path], scanned)
            self.progress(1)
        await self._flush()
        return self.summary

    async def _take(self, key: FileKey, scanned: Scanned) -> None:
        reason = scanned.error if scanned.fingerprint is None else None
        if reason is not None and scanned.transient:
            # An I/O error, a permission, a file gone: reported, not journaled, so the next
            # run (after the disk is back) tries the file again.
            self.summary.failed.append((key.path, reason))
            return
        if reason is None and not 1 <= int(scanned.duration) <= MAX_DURATION:
            reason = f"duration {scanned.duration:.0f} s is out of range (1-{MAX_DURATION})"
        if reason is not None:
            self._fail(key, reason)
            return
        tags = scanned.tags or Tags()
        if not tags.has_metadata():
            self.summary.untagged += 1
            self.journal.record([Entry(key, "untagged", reason=tags.error)])
            return
        if scanned.unidentifiable is not None:
            # The importer would skip the submission (earmark.chromaprint.identifiable): say so
            # now rather than report it submitted and leave `identify` saying "no match".
            self._fail(key, scanned.unidentifiable)
            return
        self._batch.append((key, scanned, tags))
        if len(self._batch) >= SUBMIT_BATCH:
            await self._flush()

    def _fail(self, key: FileKey, reason: str) -> None:
        self.summary.failed.append((key.path, reason))
        self.journal.record([Entry(key, "failed", reason=reason)])

    async def _flush(self) -> None:
        if not self._batch:
            return
        batch, self._batch = self._batch, []
        results = await self.client.submit(
            self.user_key, [submit_fields(scanned, tags) for _, scanned, tags in batch]
        )
        entries: list[Entry] = []
        for (key, _, _), result in zip(batch, results, strict=True):
            if result.error is not None:
                reason = f"refused by the server: {result.error.message}"
                self.summary.failed.append((key.path, reason))
                entries.append(Entry(key, "failed", reason=reason))
                continue
            self.summary.submitted += 1
            self.summary.submissions += len(result.ids)
            if result.ids:
                self.summary.sent.append((key.path, result.ids))
            entries.append(Entry(key, "submitted", submissions=result.ids))
        self.journal.record(entries)
