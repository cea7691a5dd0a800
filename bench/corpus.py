"""The development corpus: real music from Debian packages (../shared/corpus/build-dev-corpus.sh).

Used by the benchmark and the acceptance script. A built corpus directory (its tracks.tsv) can be
named with ``--corpus``; otherwise the tracks are found where the Debian packages install them.
"""

from __future__ import annotations

import csv
from pathlib import Path

MUSIC_DIRS = (
    Path("/usr/share/games/wesnoth/1.16/data/core/music"),
    Path("/usr/share/games/supertux2/music"),
)


def corpus_tracks(corpus: Path | None = None) -> list[Path]:
    """Paths of the corpus tracks, sorted; empty when the packages are not installed."""
    if corpus is not None:
        with (corpus / "tracks.tsv").open(newline="") as fh:
            return [Path(row[1]) for row in csv.reader(fh, delimiter="\t") if len(row) >= 2]
    tracks: list[Path] = []
    for root in MUSIC_DIRS:
        if root.is_dir():
            tracks.extend(root.rglob("*.ogg"))
    return sorted(tracks)
