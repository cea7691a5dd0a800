"""The clip index on disk (crash safety, one writer) and its answers: one segment per track
the clip came from, in clip order."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from earmark.chromaprint.fingerprinter import fingerprint_pcm
from earmark.clipindex.index import ClipIndex
from earmark.clipindex.store import MAGIC
from earmark.clipindex.terms import ITEMS_PER_SECOND, seconds
from tests.clipindex.conftest import RATE, Track


@pytest.fixture
def index(tmp_path: Path, clip_tracks: list[Track]) -> Iterator[ClipIndex]:
    opened = ClipIndex(tmp_path / "clips" / "clips.log")
    opened.add([(n + 1, t.items) for n, t in enumerate(clip_tracks[:3])])
    yield opened
    opened.close()


def test_a_clip_of_two_tracks_gives_two_segments_in_order(
    index: ClipIndex, clip_tracks: list[Track]
) -> None:
    a, b = clip_tracks[0], clip_tracks[2]
    pcm = np.concatenate([a.pcm[30 * RATE : 50 * RATE], b.pcm[61 * RATE : 81 * RATE]])
    found = index.identify(fingerprint_pcm(pcm))
    assert [s.entry_id for s in found] == [1, 3]
    first, second = found
    assert abs(seconds(first.entry_start - first.query_start) - 30) <= 0.5
    assert abs(seconds(second.entry_start - second.query_start) - (61 - 20)) <= 0.5
    # The change of track is placed within a window's hop (4 s) of the true 20 s.
    assert abs(seconds(second.query_start) - 20) <= 4


def test_a_clip_of_one_track_gives_one_segment(index: ClipIndex, clip_tracks: list[Track]) -> None:
    found = index.identify(clip_tracks[1].excerpt(40.2, 30))
    assert [s.entry_id for s in found] == [2]
    assert abs(found[0].entry_start - 40.2 * ITEMS_PER_SECOND) <= ITEMS_PER_SECOND / 2
    assert found[0].query_start == 0


def test_the_index_survives_a_restart_and_a_torn_write(
    index: ClipIndex, clip_tracks: list[Track], tmp_path: Path
) -> None:
    path = index.log.path
    index.close()
    intact = path.stat().st_size
    with path.open("ab") as fh:  # a crash in the middle of a record
        fh.write(b"\x10\x00\x00\x00garbage")
    reopened = ClipIndex(path)
    assert path.stat().st_size == intact
    assert reopened.stats().entries == 3
    reopened.add([(4, clip_tracks[3].items)])
    reopened.close()
    again = ClipIndex(path)
    assert again.last_id == 4
    assert [s.entry_id for s in again.identify(clip_tracks[3].excerpt(20, 10))] == [4]
    assert [s.entry_id for s in again.identify(clip_tracks[0].excerpt(20, 10))] == [1]
    again.close()


def test_a_second_process_reads_but_does_not_write(
    index: ClipIndex, clip_tracks: list[Track]
) -> None:
    path = index.log.path
    reader = ClipIndex(path)  # the fixture's index holds the writer's lock
    assert not reader.log.writable
    assert reader.stats().entries == 3
    size = path.stat().st_size
    reader.add([(4, clip_tracks[3].items)])  # searchable here, not written
    assert path.stat().st_size == size
    assert [s.entry_id for s in reader.identify(clip_tracks[3].excerpt(20, 10))] == [4]
    reader.close()
    index.close()


def test_a_file_that_is_not_a_clip_index_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "clips.log"
    path.write_bytes(b"something else entirely")
    with pytest.raises(ValueError, match="not a clip index"):
        ClipIndex(path)
    assert path.read_bytes() == b"something else entirely"
    assert path.read_bytes()[: len(MAGIC)] != MAGIC
