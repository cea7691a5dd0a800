"""Many named indexes under one data directory.

Layout: `<root>/<name>/current` (the live generation, see lineage.py) and
`<root>/<name>/v<generation>/{manifest,segments/,wal/}` (one Index).
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from earmark.index.engine.errors import (
    IndexAlreadyExistsError,
    IndexNotFoundError,
    NewerIndexAlreadyExistsError,
    OlderIndexAlreadyExistsError,
)
from earmark.index.engine.index import Index, IndexSettings, MaintenanceCounters
from earmark.index.engine.lineage import (
    Lineage,
    check_name,
    generation_dir,
    is_valid_name,
    read_lineage,
    write_lineage,
)
from earmark.index.engine.snapshot import restore_snapshot


@dataclass(frozen=True)
class CreateResult:
    version: int
    ready: bool
    generation: int


class MultiIndex:
    """The engine: opens every live index of `root` and manages their lifecycle.

    Lookups (`get`) are lock-free; create/delete/restore are serialised by one lock.
    """

    def __init__(self, root: Path, settings: IndexSettings | None = None) -> None:
        self.root = root
        self.settings = settings or IndexSettings()
        self.counters = MaintenanceCounters()
        self._lock = threading.Lock()
        self._indexes: dict[str, Index] = {}
        root.mkdir(parents=True, exist_ok=True)
        try:
            self._open_all()
        except BaseException:
            self.close()
            raise

    def _open_all(self) -> None:
        for name_dir in sorted(self.root.iterdir()):
            if not name_dir.is_dir() or not is_valid_name(name_dir.name):
                continue
            lineage = read_lineage(name_dir)
            if lineage is None:
                continue
            live = None if lineage.deleted else generation_dir(name_dir, lineage.generation)
            for d in name_dir.iterdir():  # generations a crash left behind
                if d.is_dir() and d != live:
                    shutil.rmtree(d)
            if live is not None:
                self._indexes[name_dir.name] = self._open(name_dir.name, lineage.generation, live)

    def _open(self, name: str, generation: int, path: Path) -> Index:
        return Index(name, generation, path, self.settings, self.counters)

    def get(self, name: str) -> Index:
        index = self._indexes.get(name)
        if index is None:
            raise IndexNotFoundError()
        return index

    def names(self) -> list[str]:
        return sorted(self._indexes)

    def exists(self, name: str) -> bool:
        return name in self._indexes

    def create(
        self, name: str, *, expect_does_not_exist: bool = False, generation: int | None = None
    ) -> CreateResult:
        check_name(name)
        with self._lock:
            existing = self._indexes.get(name)
            if existing is not None:
                if expect_does_not_exist:
                    raise IndexAlreadyExistsError()
                if generation is not None and generation < existing.generation:
                    raise OlderIndexAlreadyExistsError()
                if generation is not None and generation > existing.generation:
                    raise NewerIndexAlreadyExistsError()
                return CreateResult(existing.version, True, existing.generation)
            name_dir = self.root / name
            previous = read_lineage(name_dir)
            prev_gen = previous.generation if previous else 0
            if generation is not None and generation <= prev_gen:
                raise OlderIndexAlreadyExistsError()
            gen = generation if generation is not None else prev_gen + 1
            path = generation_dir(name_dir, gen)
            if path.exists():
                shutil.rmtree(path)
            path.mkdir(parents=True)
            index = self._open(name, gen, path)
            write_lineage(name_dir, Lineage(name, gen, deleted=False))  # the commit point
            self._indexes[name] = index
            return CreateResult(index.version, True, gen)

    def delete(self, name: str, *, expect_exists: bool = False) -> bool:
        with self._lock:
            index = self._indexes.pop(name, None)
            if index is None:
                if expect_exists:
                    raise IndexNotFoundError()
                return False
            index.close()  # waits for the in-flight write and maintenance step
            name_dir = self.root / name
            write_lineage(name_dir, Lineage(name, index.generation, deleted=True))
            shutil.rmtree(index.path, ignore_errors=True)
            return True

    def restore(self, name: str, chunks: Iterable[bytes]) -> CreateResult:
        """Create index `name` from a snapshot stream (see snapshot.py).

        The name must not be live. It keeps the snapshot's generation when that is above
        every earlier generation of the name, else it gets the next one.
        """
        check_name(name)
        name_dir = self.root / name
        name_dir.mkdir(parents=True, exist_ok=True)
        staging = name_dir / "restore.tmp"
        if staging.exists():
            shutil.rmtree(staging)
        try:
            header = restore_snapshot(staging, chunks)
            with self._lock:
                if name in self._indexes:
                    raise IndexAlreadyExistsError()
                previous = read_lineage(name_dir)
                prev_gen = previous.generation if previous else 0
                gen = header.generation if header.generation > prev_gen else prev_gen + 1
                path = generation_dir(name_dir, gen)
                if path.exists():
                    shutil.rmtree(path)
                staging.rename(path)
                index = self._open(name, gen, path)
                write_lineage(name_dir, Lineage(name, gen, deleted=False))
                self._indexes[name] = index
                return CreateResult(index.version, True, gen)
        finally:
            if staging.exists():
                shutil.rmtree(staging)

    def close(self) -> None:
        with self._lock:
            indexes = list(self._indexes.values())
            self._indexes = {}
        for index in indexes:
            index.close()
