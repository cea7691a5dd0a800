"""Writes daily files of AcoustID's public data in each historic encoding (test fixtures)."""

from __future__ import annotations

import datetime as dt
import gzip
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tests.api.lookup_helpers import NIGHT, SONGS
from tests.importer.harness import corpus_items

Row = dict[str, Any]


def encode(rows: Sequence[Row], encoding: str) -> bytes:
    """``plain`` JSON lines, ``escaped`` (COPY text: backslashes doubled) or ``unseparated``."""
    texts = [json.dumps(row) for row in rows]
    if encoding == "plain":
        return "".join(t + "\n" for t in texts).encode()
    if encoding == "escaped":
        return "".join(t.replace("\\", "\\\\") + "\n" for t in texts).encode()
    assert encoding == "unseparated"
    return "".join(texts).encode()


def write_file(root: Path, day: dt.date, stream: str, data: bytes, *, raw: bool = False) -> Path:
    path = root / f"{day:%Y}" / f"{day:%Y-%m}" / f"{day.isoformat()}-{stream}-update.jsonl.gz"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data if raw else gzip.compress(data, mtime=0))
    return path


def write_day(root: Path, day: dt.date, streams: dict[str, Sequence[Row]], encoding: str) -> None:
    for stream, rows in streams.items():
        write_file(root, day, stream, encode(rows, encoding))


def write_listings(root: Path) -> None:
    """An index.json in every directory, like the public data root."""
    for directory in [root, *sorted(p for p in root.rglob("*") if p.is_dir())]:
        entries = []
        for child in sorted(directory.iterdir()):
            if child.name.startswith("index."):
                continue
            entry: dict[str, Any] = {"name": child.name + ("/" if child.is_dir() else "")}
            if child.is_file():
                entry["size"] = child.stat().st_size
            entries.append(entry)
        (directory / "index.json").write_text(json.dumps(entries))


def signed(items: np.ndarray[Any, Any]) -> list[int]:
    """Upstream's decoded fingerprint: signed 32-bit items."""
    return [int(v) for v in np.asarray(items, dtype=np.uint32).view(np.int32)]


def corpus(vectors: Any) -> dict[str, list[int]]:
    """Four unrelated real fingerprints of the dev corpus, signed."""
    names = {**SONGS, "night": NIGHT}
    return {key: signed(corpus_items(vectors, name)) for key, name in names.items()}


def stamp(day: dt.date, hour: int = 10) -> str:
    return f"{day.isoformat()}T{hour:02d}:00:00.123456+00:00"
