"""One named index (one generation of it): commits, searches and background maintenance.

Concurrency model:
- readers take `self._snapshot` (one attribute read of an immutable object) and never lock;
- writers (updates and the commit step of checkpoints and merges) hold `_write_lock`, which
  serialises them and protects the WAL; they publish a new snapshot by rebinding the
  attribute, so a search sees one consistent segment list from start to end;
- the heavy part of checkpoints and merges (merging arrays, writing files) runs on a
  background thread outside `_write_lock`; `_maint_lock` keeps one maintenance step at a
  time, so only that thread changes the file segments or takes memory segments away, while
  updates only ever append memory segments. Merge commits therefore replace exactly the
  segments they read (the reference's use-after-free when a merge overlapped updates,
  spec §9.2, has no counterpart here).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from earmark.index.engine.errors import (
    FingerprintNotFoundError,
    IndexClosedError,
    InvalidFingerprintIdError,
    VersionMismatchError,
    VersionWentBackwardsError,
)
from earmark.index.engine.manifest import Manifest, read_manifest, write_manifest
from earmark.index.engine.policy import pick_idle_merge, pick_merge
from earmark.index.engine.search import SearchParams, SearchResult, search_segments
from earmark.index.engine.segfile import read_segment, write_segment
from earmark.index.engine.segment import Segment, build_segment, merge_segments
from earmark.index.engine.types import MAX_U32, Change, SetMetadata
from earmark.index.engine.wal import DEFAULT_MAX_FILE_BYTES, WriteAheadLog
from earmark.process import release_free_memory

log = logging.getLogger(__name__)

SEGMENTS_DIR = "segments"
WAL_DIR = "wal"


@dataclass(frozen=True)
class IndexSettings:
    # Flush memory segments to a file once they hold this many (term, doc) items + docs.
    checkpoint_threshold: int = 500_000
    # ... or once the oldest unflushed write is this old (0 disables).
    checkpoint_age_s: float = 60.0
    # Merge memory segments together above this count (bounds per-search work between
    # checkpoints; each search visits every segment).
    max_memory_segments: int = 4
    merge_factor: int = 4
    merge_base_items: int = 100_000
    max_file_segments: int = 8
    max_merge_items: int = 64_000_000
    wal_max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    fsync: bool = True
    verify_checksums: bool = True
    # Once no write came for this long, checkpoint and merge the newest segments into one
    # (0 disables): a read-mostly index then searches one or two segments.
    idle_merge_s: float = 10.0
    # Run checkpoints and merges on a background thread; tests may drive them by hand.
    background: bool = True


class MaintenanceCounters:
    """Counts of background work, shared by the indexes of one engine (for /_metrics)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.checkpoints = 0
        self.memory_merges = 0
        self.file_merges = 0

    def add(self, kind: str) -> None:
        with self._lock:
            setattr(self, kind, getattr(self, kind) + 1)


@dataclass(frozen=True)
class Snapshot:
    version: int
    file_version: int
    files: tuple[Segment, ...]
    memory: tuple[Segment, ...]
    segments: tuple[Segment, ...]
    metadata: Mapping[str, str]
    memory_load: int
    oldest_memory: float | None


@dataclass(frozen=True)
class IndexStats:
    min_doc_id: int
    max_doc_id: int
    num_segments: int
    num_docs: int


@dataclass(frozen=True)
class IndexInfo:
    version: int
    metadata: Mapping[str, str]
    stats: IndexStats


@dataclass(frozen=True)
class IndexStatus:
    generation: int
    version: int
    file_version: int


def _make_snapshot(
    version: int,
    files: tuple[Segment, ...],
    memory: tuple[Segment, ...],
    oldest_memory: float | None,
) -> Snapshot:
    segments = files + memory
    metadata: dict[str, str] = {}
    for seg in segments:
        metadata.update(seg.metadata)
    return Snapshot(
        version=version,
        file_version=files[-1].last_commit if files else 0,
        files=files,
        memory=memory,
        segments=segments,
        metadata=metadata,
        memory_load=sum(s.num_items + s.num_docs for s in memory),
        oldest_memory=oldest_memory if memory else None,
    )


def validate_changes(changes: Sequence[Change]) -> None:
    for c in changes:
        if not isinstance(c, SetMetadata) and not 0 < c.id <= MAX_U32:
            raise InvalidFingerprintIdError()


@dataclass
class _Dirs:
    root: Path
    segments: Path = field(init=False)
    wal: Path = field(init=False)

    def __post_init__(self) -> None:
        self.segments = self.root / SEGMENTS_DIR
        self.wal = self.root / WAL_DIR


class Index:
    def __init__(
        self,
        name: str,
        generation: int,
        path: Path,
        settings: IndexSettings | None = None,
        counters: MaintenanceCounters | None = None,
    ) -> None:
        self.name = name
        self.generation = generation
        self.settings = settings or IndexSettings()
        self.counters = counters or MaintenanceCounters()
        self._dirs = _Dirs(path)
        self._write_lock = threading.Lock()
        self._maint_lock = threading.Lock()
        self._wake = threading.Condition()
        self._closed = False
        self._last_write = time.monotonic()
        self._idle_done = False
        self.maintenance_error: BaseException | None = None
        self._dirs.segments.mkdir(parents=True, exist_ok=True)
        self._snapshot, self._wal = self._recover()
        self._thread: threading.Thread | None = None
        if self.settings.background:
            self._thread = threading.Thread(
                target=self._maintenance_loop, name=f"index-{name}-maintenance", daemon=True
            )
            self._thread.start()

    @property
    def path(self) -> Path:
        return self._dirs.root

    # -- recovery -------------------------------------------------------------------------

    def _recover(self) -> tuple[Snapshot, WriteAheadLog]:
        """Segments listed by the manifest, then the valid prefix of the WAL on top."""
        manifest = read_manifest(self._dirs.root)
        listed = manifest.segment_files if manifest else ()
        # Decompression and checksums release the GIL: load files on all cores.
        with ThreadPoolExecutor(max_workers=min(len(listed), os.cpu_count() or 1) or 1) as pool:
            files = tuple(
                pool.map(
                    lambda n: read_segment(
                        self._dirs.segments / n, verify=self.settings.verify_checksums
                    ),
                    listed,
                )
            )
        # Files not in the manifest are leftovers of a checkpoint or merge that crashed
        # before its commit point, or merged-away files a crash kept from being removed.
        for p in self._dirs.segments.iterdir():
            if p.name not in listed:
                p.unlink()
        last_commit = manifest.last_commit if manifest else 0
        wal = WriteAheadLog(
            self._dirs.wal,
            fsync=self.settings.fsync,
            max_file_bytes=self.settings.wal_max_file_bytes,
        )
        memory = [build_segment(cid, changes) for cid, changes in wal.replay(last_commit)]
        if len(memory) > self.settings.max_memory_segments:
            memory = [merge_segments(memory, drop_tombstones=not files)]
        version = memory[-1].last_commit if memory else last_commit
        oldest = time.monotonic() if memory else None
        # Decoding the files left freed buffers of several times their RAM size in the heap.
        release_free_memory()
        return _make_snapshot(version, files, tuple(memory), oldest), wal

    # -- reads ----------------------------------------------------------------------------

    @property
    def snapshot(self) -> Snapshot:
        return self._snapshot

    @property
    def version(self) -> int:
        return self._snapshot.version

    def search(self, params: SearchParams) -> list[SearchResult]:
        return search_segments(self._snapshot.segments, params)

    def get_document(self, doc_id: int) -> int:
        """Version of the commit that last wrote `doc_id`; FingerprintNotFoundError if absent."""
        for seg in reversed(self._snapshot.segments):
            pos = seg.contains(doc_id)
            if pos >= 0:
                if bool(seg.doc_alive[pos]):
                    return int(seg.doc_versions[pos])
                break
        raise FingerprintNotFoundError()

    def info(self) -> IndexInfo:
        snap = self._snapshot
        tables = [s.doc_ids for s in snap.segments if s.num_docs]
        stats = IndexStats(
            min_doc_id=min((int(t[0]) for t in tables), default=0),
            max_doc_id=max((int(t[-1]) for t in tables), default=0),
            num_segments=len(snap.segments),
            num_docs=sum(s.num_docs for s in snap.segments),
        )
        return IndexInfo(version=snap.version, metadata=dict(snap.metadata), stats=stats)

    def status(self) -> IndexStatus:
        snap = self._snapshot
        return IndexStatus(self.generation, snap.version, snap.file_version)

    # -- writes ---------------------------------------------------------------------------

    def update(
        self,
        changes: Sequence[Change],
        expected_version: int | None = None,
        *,
        version: int | None = None,
    ) -> int:
        """Apply `changes` as one commit; durable (fsynced) and visible when this returns.

        The commit id, which is the index's new version, is the next one, or `version` when
        given: a replica commits what it applied from a stream under the stream's sequence
        (spec §4.2 "external version"), which jumps over other indexes' entries.
        """
        validate_changes(changes)
        with self._write_lock:
            if self._closed:
                raise IndexClosedError()
            snap = self._snapshot
            if expected_version is not None and expected_version != snap.version:
                raise VersionMismatchError()
            if version is not None and version <= snap.version:
                raise VersionWentBackwardsError()
            commit_id = snap.version + 1 if version is None else version
            segment = build_segment(commit_id, changes)
            self._wal.append(commit_id, changes, snap.version)
            oldest = snap.oldest_memory if snap.memory else time.monotonic()
            new = _make_snapshot(commit_id, snap.files, (*snap.memory, segment), oldest)
            self._snapshot = new
            self._last_write = time.monotonic()
            self._idle_done = False
        if self._maintenance_due(new, time.monotonic()):
            with self._wake:
                self._wake.notify()
        return commit_id

    # -- maintenance ----------------------------------------------------------------------

    def _maintenance_due(self, snap: Snapshot, now: float) -> bool:
        return (
            self._checkpoint_due(snap, now) or len(snap.memory) > self.settings.max_memory_segments
        )

    def _checkpoint_due(self, snap: Snapshot, now: float) -> bool:
        if not snap.memory:
            return False
        if snap.memory_load >= self.settings.checkpoint_threshold:
            return True
        age = self.settings.checkpoint_age_s
        return age > 0 and snap.oldest_memory is not None and now - snap.oldest_memory >= age

    def run_maintenance(self, *, force_checkpoint: bool = False) -> bool:
        """Do every due checkpoint and merge; return whether anything was done."""
        did = False
        with self._maint_lock:
            while not self._closed:
                snap = self._snapshot
                if snap.memory and (
                    force_checkpoint or self._checkpoint_due(snap, time.monotonic())
                ):
                    self._checkpoint(snap)
                    force_checkpoint = False
                elif len(snap.memory) > self.settings.max_memory_segments:
                    self._merge_memory(snap)
                else:
                    s = self.settings
                    run = pick_merge(
                        [f.num_items + f.num_docs for f in snap.files],
                        factor=s.merge_factor,
                        base=s.merge_base_items,
                        max_segments=s.max_file_segments,
                        max_merge_items=s.max_merge_items,
                    )
                    if run is None:
                        break
                    self._merge_files(snap, *run)
                did = True
        if did:
            release_free_memory()
        return did

    def optimize(self) -> None:
        """Checkpoint, then merge the newest segments into one (within `max_merge_items`)."""
        self.run_maintenance(force_checkpoint=True)
        with self._maint_lock:
            while not self._closed:
                snap = self._snapshot
                run = pick_idle_merge(
                    [f.num_items + f.num_docs for f in snap.files],
                    max_merge_items=self.settings.max_merge_items,
                )
                if run is None:
                    break
                self._merge_files(snap, *run)
        release_free_memory()

    def _idle_due(self, now: float) -> bool:
        idle = self.settings.idle_merge_s
        return idle > 0 and not self._idle_done and now - self._last_write >= idle

    def flush(self) -> None:
        """Checkpoint every memory segment now (used before exporting a snapshot)."""
        self.run_maintenance(force_checkpoint=True)

    def _commit_files(self, files: tuple[Segment, ...], memory_taken: int) -> None:
        """Under the write lock: make `files` the file segments (the manifest is the commit
        point) and drop the first `memory_taken` memory segments they now cover."""
        snap = self._snapshot
        last_commit = files[-1].last_commit if files else 0
        names = tuple(f.path.name for f in files if f.path is not None)
        write_manifest(self._dirs.root, Manifest(last_commit, names))
        memory = snap.memory[memory_taken:]
        oldest = snap.oldest_memory if memory_taken == 0 else time.monotonic()
        self._snapshot = _make_snapshot(snap.version, files, memory, oldest)

    def _write_file_segment(self, merged: Segment) -> Segment | None:
        """Write ``merged`` as a segment file and open it; None if the index is closing."""
        if self.closed:
            return None
        path = write_segment(self._dirs.segments, merged)
        return read_segment(path, verify=False)

    def _checkpoint(self, snap: Snapshot) -> None:
        mem = snap.memory
        merged = mem[0] if len(mem) == 1 else merge_segments(mem, drop_tombstones=not snap.files)
        on_disk = self._write_file_segment(merged)
        if on_disk is None:  # shutting down: the WAL still holds these commits
            return
        with self._write_lock:
            if self._closed:
                return
            self._commit_files((*self._snapshot.files, on_disk), len(mem))
            self._wal.release(on_disk.last_commit)
        self.counters.add("checkpoints")

    def _merge_memory(self, snap: Snapshot) -> None:
        mem = snap.memory
        merged = merge_segments(mem, drop_tombstones=not snap.files)
        with self._write_lock:
            cur = self._snapshot
            rest = cur.memory[len(mem) :]
            self._snapshot = _make_snapshot(
                cur.version, cur.files, (merged, *rest), cur.oldest_memory
            )
        self.counters.add("memory_merges")

    def _merge_files(self, snap: Snapshot, start: int, stop: int) -> None:
        run = snap.files[start:stop]
        merged = merge_segments(run, drop_tombstones=start == 0)
        on_disk = self._write_file_segment(merged)
        if on_disk is None:  # shutting down: do not make the stop wait for the file write
            return
        with self._write_lock:
            if self._closed:
                return
            files = self._snapshot.files
            self._commit_files((*files[:start], on_disk, *files[stop:]), 0)
        for seg in run:
            seg.remove_file_when_unused(_unlink)
        self.counters.add("file_merges")

    def _maintenance_loop(self) -> None:
        age = self.settings.checkpoint_age_s
        waits = [5.0, *(t / 2 for t in (age, self.settings.idle_merge_s) if t > 0)]
        interval = min(waits)
        while True:
            with self._wake:
                if self._closed:
                    return
                if not self._maintenance_due(self._snapshot, time.monotonic()):
                    self._wake.wait(timeout=interval)
                if self.closed:  # re-read: close() may have run while waiting
                    return
            try:
                self.run_maintenance()
                if self._idle_due(time.monotonic()):
                    seen = self._last_write
                    self.optimize()
                    self._idle_done = self._last_write == seen  # else a write came meanwhile
            except Exception as exc:  # keep serving: the WAL still holds every commit
                log.exception("maintenance of index %s failed", self.name)
                self.maintenance_error = exc
                with self._wake:
                    self._wake.wait(timeout=interval)

    # -- lifecycle ------------------------------------------------------------------------

    def close(self) -> None:
        with self._wake:
            self._closed = True
            self._wake.notify_all()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()
        # Same order as maintenance steps (maintenance, then write) to avoid a deadlock.
        with self._maint_lock, self._write_lock:
            self._wal.close()

    @property
    def closed(self) -> bool:
        return self._closed


def _unlink(path: Path) -> None:
    path.unlink(missing_ok=True)
