"""Commits under an upstream version (a replica's stream sequences): they jump, never go back,
and survive a restart through the WAL, checkpoints, merges and snapshots."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import msgpack
import pytest

from earmark.index.engine import Insert, MultiIndex, SearchParams
from earmark.index.engine.errors import VersionWentBackwardsError
from earmark.index.engine.snapshot import export_snapshot
from earmark.index.engine.wal import decode_record, encode_changes

from .conftest import MANUAL, h


def _hits(index, *terms: int) -> list[tuple[int, int]]:
    return [(r.id, r.score) for r in index.search(SearchParams(h(*terms), min_score=1))]


def test_versions_jump_and_survive_a_restart(tmp_path: Path) -> None:
    engine = MultiIndex(tmp_path, MANUAL)
    engine.create("t")
    index = engine.get("t")
    assert index.update([Insert(1, h(5, 6))], version=7) == 7
    assert index.update([Insert(2, h(5, 7))], version=19) == 19
    assert index.get_document(2) == 19
    with pytest.raises(VersionWentBackwardsError):
        index.update([Insert(3, h(5))], version=19)
    assert index.update([Insert(3, h(5, 8))]) == 20  # a local commit follows the last one
    engine.close()
    engine = MultiIndex(tmp_path, MANUAL)
    index = engine.get("t")
    assert index.version == 20
    assert _hits(index, 5) == [(1, 1), (2, 1), (3, 1)]
    engine.close()


def test_sparse_commits_checkpoint_merge_and_snapshot(tmp_path: Path) -> None:
    engine = MultiIndex(tmp_path / "a", MANUAL)
    engine.create("t")
    index = engine.get("t")
    for n, version in enumerate((3, 10, 11, 40), start=1):
        index.update([Insert(n, h(9, n))], version=version)
        index.run_maintenance(force_checkpoint=True)
    index.optimize()  # merges the file segments of commits 3..40
    assert index.status().file_version == 40
    chunks = list(export_snapshot(index))
    engine.close()
    other = MultiIndex(tmp_path / "b", MANUAL)
    restored = other.restore("t", chunks)
    assert restored.version == 40
    assert _hits(other.get("t"), 9) == [(1, 1), (2, 1), (3, 1), (4, 1)]
    assert other.get("t").update([Insert(5, h(9))], version=41) == 41
    other.close()


def test_wal_replay_stops_at_a_break_in_the_chain(tmp_path: Path) -> None:
    engine = MultiIndex(tmp_path, MANUAL)
    engine.create("t")
    index = engine.get("t")
    index.update([Insert(1, h(1))], version=5)
    index.update([Insert(2, h(1))], version=9)
    engine.close()
    (wal,) = sorted(tmp_path.glob("t/v*/wal/*.wal"))
    # A record claiming to follow commit 7, which the log never held: everything from it on
    # is lost rather than applied out of order.
    payload = encode_changes(12, [Insert(3, h(1))], 7)
    with open(wal, "ab") as f:
        f.write(struct.pack("<II", len(payload), zlib.crc32(payload)) + payload)
    engine = MultiIndex(tmp_path, MANUAL)
    assert engine.get("t").version == 9
    assert _hits(engine.get("t"), 1) == [(1, 1), (2, 1)]
    engine.close()


@pytest.mark.parametrize(
    "record",
    [[5, [], b"", 5], [5, [], b"", -1], [5, [[0, 1, -1]], b""], [5, [[0, 1, 2]], b"\0\0\0"]],
)
def test_malformed_records_are_refused(record: list[object]) -> None:
    with pytest.raises(ValueError, match=r"follow|malformed|past"):
        decode_record(msgpack.packb(record))
