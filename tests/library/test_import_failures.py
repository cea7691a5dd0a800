"""``import-audio``'s failures: only a file's own fault is remembered in the journal.

An I/O error (the disk unplugged, a permission, the file gone) is reported but retried on the
next run; a decoder that kills its worker process fails that one file (journaled) and the run
goes on. The outside world is faked at the fingerprint function: the decoder raising OSError,
or dying with the process (the pool's workers are forked, so they inherit the patch).
"""

from __future__ import annotations

import asyncio
import errno
import os
from pathlib import Path

import pytest

from earmark.chromaprint.files import FileFingerprint, fingerprint_file
from earmark.library import fingerprints
from earmark.library.client import WebServiceClient
from earmark.library.fingerprints import DECODER_CRASHED, scan_files
from earmark.library.importing import Importer
from earmark.library.scan import FileKey
from earmark.library.state import Journal


def _outside_world(path: str, length: float) -> FileFingerprint:
    name = os.path.basename(path)
    if name.startswith("eio"):
        raise OSError(errno.EIO, os.strerror(errno.EIO), path)
    if name.startswith("crash"):
        os._exit(70)  # a native decoder dying with its process
    return fingerprint_file(path, length)


def _library(tmp_path: Path) -> list[str]:
    lib = tmp_path / "lib"
    lib.mkdir()
    names = ["a-garbage.mp3", "eio.flac", "b-garbage.mp3", "crash.ogg", "c-garbage.mp3"]
    for name in names:
        (lib / name).write_bytes(b"\x00not audio" * 100)
    return [str(lib / name) for name in names]


async def _import(paths: list[str], journal: Journal, jobs: int) -> Importer:
    # Nothing here reaches the server: every file fails before a submission.
    async with WebServiceClient("http://127.0.0.1:9", "unused") as client:
        importer = Importer(client, "user", journal, jobs=jobs, length=120)
        await importer.run(paths)
    return importer


@pytest.mark.parametrize("jobs", [1, 3])
def test_io_errors_are_retried_next_run_and_decode_failures_are_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, jobs: int
) -> None:
    paths = [p for p in _library(tmp_path) if "crash" not in p]
    monkeypatch.setattr(fingerprints, "fingerprint_file", _outside_world)
    journal = Journal.open(tmp_path / "state.jsonl")
    try:
        first = asyncio.run(_import(paths, journal, jobs)).summary
        assert [path for path, _ in first.failed] == paths
        assert dict(first.failed)[paths[1]] == os.strerror(errno.EIO)
        assert journal.done(FileKey.of(paths[1])) is None
        assert all(journal.done(FileKey.of(p)) is not None for p in paths if "eio" not in p)
    finally:
        journal.close()

    # The next run (disk back: the real decoder) retries only the file of the I/O error.
    monkeypatch.undo()
    journal = Journal.open(tmp_path / "state.jsonl")
    try:
        second = asyncio.run(_import(paths, journal, jobs)).summary
    finally:
        journal.close()
    assert second.skipped == len(paths) - 1
    assert [path for path, _ in second.failed] == [paths[1]]
    assert dict(second.failed)[paths[1]] != os.strerror(errno.EIO)  # now the content's fault


def test_a_crashing_decoder_fails_its_file_and_the_run_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    paths = _library(tmp_path)
    monkeypatch.setattr(fingerprints, "fingerprint_file", _outside_world)
    journal = Journal.open(tmp_path / "state.jsonl")
    try:
        summary = asyncio.run(_import(paths, journal, jobs=3)).summary
        reasons = dict(summary.failed)
        assert list(reasons) == paths  # every file was handled, in order
        assert reasons[paths[3]] == DECODER_CRASHED
        # Only the crashing file is blamed; the others failed for their own reasons.
        assert [p for p, r in reasons.items() if r == DECODER_CRASHED] == [paths[3]]
        crashed = journal.done(FileKey.of(paths[3]))
        assert crashed is not None
        assert crashed.status == "failed"
        assert crashed.reason == DECODER_CRASHED
    finally:
        journal.close()


def test_scan_files_rebuilds_the_pool_after_each_crash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lib = tmp_path / "lib"
    lib.mkdir()
    paths = []
    for name in ["crash-1", "x", "crash-2", "y", "crash-3"]:
        (lib / name).write_bytes(b"")
        paths.append(str(lib / name))
    monkeypatch.setattr(fingerprints, "fingerprint_file", _outside_world)

    async def scan() -> list[tuple[str, str | None]]:
        return [
            (s.path, s.error) async for s in scan_files(paths, jobs=2, length=10, with_tags=False)
        ]

    results = asyncio.run(scan())
    assert [path for path, _ in results] == paths
    assert [error == DECODER_CRASHED for _, error in results] == [True, False, True, False, True]
