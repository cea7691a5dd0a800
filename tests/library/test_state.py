"""The resume journal: durable appends, tolerant reads."""

from __future__ import annotations

import json
from pathlib import Path

from earmark.library.scan import FileKey
from earmark.library.state import Entry, Journal

A = FileKey("/music/a.flac", 100, 1)
B = FileKey("/music/b.flac", 200, 2)


def test_round_trip_and_resume(tmp_path: Path) -> None:
    path = tmp_path / "state" / "j.jsonl"
    with Journal.open(path) as journal:
        assert journal.done(A) is None
        journal.record([Entry(A, "submitted", (1, 2)), Entry(B, "failed", reason="bad")])
    with Journal.open(path) as journal:
        assert journal.done(A) == Entry(A, "submitted", (1, 2))
        assert journal.done(B) == Entry(B, "failed", reason="bad")
        # Another version of the same path is not done.
        assert journal.done(FileKey(A.path, 101, 1)) is None


def test_torn_last_line_is_ignored_and_next_entry_starts_fresh(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    with Journal.open(path) as journal:
        journal.record([Entry(A, "submitted", (1,))])
    full = Entry(B, "submitted", (2,)).to_json()
    with path.open("a") as f:
        f.write(full[: len(full) // 2])  # the crash happened mid-write
    with Journal.open(path) as journal:
        assert journal.ignored_lines == 1
        assert journal.done(A) is not None
        assert journal.done(B) is None
        journal.record([Entry(B, "untagged")])
    lines = path.read_text().splitlines()
    assert json.loads(lines[-1])["status"] == "untagged"
    with Journal.open(path) as journal:
        assert journal.done(B) == Entry(B, "untagged")
        assert journal.ignored_lines == 1


def test_hostile_lines_are_ignored(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    bad = [
        "not json",
        "[1, 2]",
        '{"path": 1, "size": 1, "mtime_ns": 1, "status": "submitted"}',
        '{"path": "p", "size": true, "mtime_ns": 1, "status": "submitted"}',
        '{"path": "p", "size": 1, "mtime_ns": 1, "status": "exploded"}',
        '{"path": "p", "size": 1, "mtime_ns": 1, "status": "submitted", "submissions": ["1"]}',
        '{"path": "p", "size": 1, "mtime_ns": 1, "status": "failed", "reason": 5}',
    ]
    path.write_bytes(("\n".join(bad) + "\n").encode() + b"\xff\xfe\n" + A.path.encode())
    with Journal.open(path) as journal:
        assert journal.entries == {}
        assert journal.ignored_lines == len(bad) + 2


def test_later_entry_wins(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    with Journal.open(path) as journal:
        journal.record([Entry(A, "failed", reason="server down")])
        journal.record([Entry(A, "submitted", (9,))])
    with Journal.open(path) as journal:
        assert journal.done(A) == Entry(A, "submitted", (9,))
