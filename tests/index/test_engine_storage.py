"""Durability: WAL recovery, corrupt files, checkpoints, snapshots, concurrent readers."""

from __future__ import annotations

import json
import struct
import threading
from pathlib import Path

import pytest

from earmark.index.engine import (
    CorruptFileError,
    Delete,
    IndexAlreadyExistsError,
    IndexSettings,
    Insert,
    MultiIndex,
    SearchParams,
    SetMetadata,
)
from earmark.index.engine.snapshot import BadSnapshotError, export_snapshot

from .conftest import MANUAL, h


def search(index, *terms: int) -> list[tuple[int, int]]:
    return [(r.id, r.score) for r in index.search(SearchParams(h(*terms), min_score=1))]


def wal_files(root: Path, name: str = "t") -> list[Path]:
    return sorted((root / name).glob("v*/wal/*.wal"))


def fill(root: Path, n: int) -> None:
    engine = MultiIndex(root, MANUAL)
    engine.create("t")
    for i in range(1, n + 1):
        engine.get("t").update([Insert(i, h(1, i + 100))])
    engine.close()


def test_truncated_wal_tail_keeps_valid_prefix(tmp_path: Path) -> None:
    fill(tmp_path, 5)
    (wal,) = wal_files(tmp_path)
    data = wal.read_bytes()
    wal.write_bytes(data[:-3])  # a torn last record
    engine = MultiIndex(tmp_path, MANUAL)
    index = engine.get("t")
    assert index.version == 4
    assert [d for d, _ in search(index, 1)] == [1, 2, 3, 4]
    # appending after recovery must not land behind the torn bytes
    assert index.update([Insert(9, h(1))]) == 5
    engine.close()
    engine = MultiIndex(tmp_path, MANUAL)
    assert [d for d, _ in search(engine.get("t"), 1)] == [1, 2, 3, 4, 9]
    engine.close()


def test_corrupted_wal_record_ends_replay(tmp_path: Path) -> None:
    fill(tmp_path, 5)
    (wal,) = wal_files(tmp_path)
    data = bytearray(wal.read_bytes())
    record = len(data) // 5
    data[record * 2 + 12] ^= 0xFF  # inside the third record's payload
    wal.write_bytes(bytes(data))
    engine = MultiIndex(tmp_path, MANUAL)
    assert engine.get("t").version == 2
    engine.close()


def test_corrupt_segment_is_a_startup_error_naming_the_file(tmp_path: Path) -> None:
    engine = MultiIndex(tmp_path, MANUAL)
    engine.create("t")
    engine.get("t").update([Insert(1, h(*range(100)))])
    engine.get("t").flush()
    engine.close()
    (seg,) = sorted(tmp_path.glob("t/v*/segments/*.seg"))
    original = seg.read_bytes()
    _magic, header_len, _crc = struct.unpack_from("<8sII", original)
    sections = json.loads(original[16 : 16 + header_len])["sections"]
    for where in [20, *(s["offset"] + s["length"] - 1 for s in sections.values())]:
        data = bytearray(original)
        data[where] ^= 0x01
        seg.write_bytes(bytes(data))
        with pytest.raises(CorruptFileError) as info:
            MultiIndex(tmp_path, MANUAL)
        assert str(seg) in str(info.value)
    data = bytearray(original)
    seg.write_bytes(bytes(data[:50]))
    with pytest.raises(CorruptFileError, match="segments"):
        MultiIndex(tmp_path, MANUAL)


def test_corrupt_manifest_is_a_startup_error(tmp_path: Path) -> None:
    fill(tmp_path, 2)
    engine = MultiIndex(tmp_path, MANUAL)
    engine.get("t").flush()
    engine.close()
    (manifest,) = tmp_path.glob("t/v*/manifest")
    manifest.write_bytes(manifest.read_bytes().replace(b"last_commit", b"last_commiT"))
    with pytest.raises(CorruptFileError, match="manifest"):
        MultiIndex(tmp_path, MANUAL)


def test_checkpoint_releases_wal_and_survives_restart(tmp_path: Path) -> None:
    cfg = IndexSettings(background=False, checkpoint_threshold=10**12, wal_max_file_bytes=200)
    engine = MultiIndex(tmp_path, cfg)
    engine.create("t")
    index = engine.get("t")
    for i in range(1, 21):
        index.update([Insert(i, h(1, 2, 3)), SetMetadata((("last", str(i)),))])
    assert len(wal_files(tmp_path)) > 3  # rotated
    index.flush()
    assert wal_files(tmp_path) == []
    index.update([Delete(3)])
    engine.close()
    engine = MultiIndex(tmp_path, cfg)
    index = engine.get("t")
    assert index.version == 21
    assert index.info().metadata == {"last": "20"}
    assert [d for d, _ in search(index, 1)] == [i for i in range(1, 21) if i != 3]
    engine.close()


def test_leftover_files_of_an_interrupted_merge_are_ignored(tmp_path: Path) -> None:
    fill(tmp_path, 3)
    engine = MultiIndex(tmp_path, MANUAL)
    engine.get("t").flush()
    engine.close()
    seg_dir = next(tmp_path.glob("t/v*/segments"))
    (seg_dir / "00000000000000ff-00000000000001ff.seg").write_bytes(b"garbage")
    (seg_dir / "x.tmp").write_bytes(b"garbage")
    engine = MultiIndex(tmp_path, MANUAL)
    assert engine.get("t").version == 3
    engine.close()
    assert sorted(p.name for p in seg_dir.iterdir()) == ["0000000000000001-0000000000000003.seg"]


def test_merged_away_files_removed_only_after_readers_let_go(tmp_path: Path) -> None:
    engine = MultiIndex(tmp_path, MANUAL)
    engine.create("t")
    index = engine.get("t")
    for i in range(1, 4):
        index.update([Insert(i, h(1, 2))])
        index.flush()
    held = index.snapshot  # a reader in flight
    seg_dir = next(tmp_path.glob("t/v*/segments"))
    index._merge_files(held, 0, 3)
    assert len(list(seg_dir.iterdir())) == 4
    assert [d for d, _ in search(index, 1)] == [1, 2, 3]
    from earmark.index.engine.search import search_segments

    assert len(search_segments(held.segments, SearchParams(h(1, 2)))) == 3
    del held
    assert len(list(seg_dir.iterdir())) == 1
    engine.close()


def test_snapshot_roundtrip(tmp_path: Path) -> None:
    engine = MultiIndex(tmp_path / "a", MANUAL)
    engine.create("t")
    index = engine.get("t")
    index.update([Insert(1, h(1, 2, 3)), SetMetadata((("k", "v"),))])
    index.flush()
    index.update([Insert(2, h(2, 3)), Delete(1)])
    stream = list(export_snapshot(index))
    engine.close()
    other = MultiIndex(tmp_path / "b", MANUAL)
    result = other.restore("copy", iter(stream))
    assert result.generation == 1
    copy = other.get("copy")
    assert copy.version == 2
    assert search(copy, 1, 2, 3) == [(2, 2)]
    assert copy.info().metadata == {"k": "v"}
    with pytest.raises(IndexAlreadyExistsError):
        other.restore("copy", iter(stream))
    with pytest.raises(BadSnapshotError):
        other.restore("bad", iter([b"".join(stream)[:-5]]))
    with pytest.raises(BadSnapshotError):
        other.restore("bad", iter([b"\xc1"]))
    assert not other.exists("bad")
    other.close()
    other = MultiIndex(tmp_path / "b", MANUAL)
    assert search(other.get("copy"), 2) == [(2, 1)]
    other.close()


def test_searches_run_during_background_writes_and_merges(tmp_path: Path) -> None:
    cfg = IndexSettings(
        checkpoint_threshold=300,
        checkpoint_age_s=0,
        merge_factor=2,
        merge_base_items=100,
        max_file_segments=3,
        max_memory_segments=2,
        fsync=False,
    )
    engine = MultiIndex(tmp_path, cfg)
    engine.create("t")
    index = engine.get("t")
    stop = threading.Event()
    errors: list[BaseException] = []

    def reader() -> None:
        try:
            while not stop.is_set():
                res = index.search(SearchParams(h(1, 2, 3), min_score=3, limit=100))
                # doc 1 is rewritten constantly but always has terms 1, 2, 3
                assert [r.id for r in res][:1] == [1]
        except BaseException as exc:
            errors.append(exc)

    index.update([Insert(1, h(1, 2, 3))])
    threads = [threading.Thread(target=reader) for _ in range(2)]
    for t in threads:
        t.start()
    for i in range(2, 400):
        index.update([Insert(1, h(1, 2, 3, i)), Insert(i, h(i, i + 1, 1000 + i))])
    stop.set()
    for t in threads:
        t.join()
    index.run_maintenance()
    assert not errors
    assert index.maintenance_error is None
    assert engine.counters.checkpoints > 0
    assert len(index.snapshot.files) <= 3
    engine.close()
    engine = MultiIndex(tmp_path, cfg)
    assert engine.get("t").get_document(1) == 399
    engine.close()


def test_idle_index_is_merged_down(tmp_path: Path) -> None:
    import time

    cfg = IndexSettings(
        checkpoint_threshold=50,
        checkpoint_age_s=0,
        merge_base_items=10**6,
        max_file_segments=100,
        idle_merge_s=0.2,
        fsync=False,
    )
    engine = MultiIndex(tmp_path, cfg)
    engine.create("t")
    index = engine.get("t")
    for i in range(1, 40):
        index.update([Insert(i, h(*range(i, i + 10)))])
    deadline = time.monotonic() + 10
    while len(index.snapshot.segments) > 1:
        assert time.monotonic() < deadline, len(index.snapshot.segments)
        time.sleep(0.05)
    assert search(index, 5) == [(i, 1) for i in range(1, 6)]
    engine.close()
