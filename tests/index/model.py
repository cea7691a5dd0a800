"""A plain-Python model of the index semantics (spec §2.4, §3) that tests compare against."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from earmark.index.engine import Change, Delete, Insert, SetMetadata


@dataclass
class ModelIndex:
    docs: dict[int, list[int]] = field(default_factory=dict)
    versions: dict[int, int] = field(default_factory=dict)
    metadata: dict[str, str] = field(default_factory=dict)
    version: int = 0

    def update(self, changes: Sequence[Change]) -> int:
        self.version += 1
        for c in changes:
            if isinstance(c, Insert):
                self.docs[c.id] = [int(h) for h in c.hashes]
                self.versions[c.id] = self.version
            elif isinstance(c, Delete):
                self.docs.pop(c.id, None)
                self.versions.pop(c.id, None)
            elif isinstance(c, SetMetadata):
                self.metadata.update(c.entries)
        return self.version

    def search(
        self,
        query: Sequence[int],
        *,
        limit: int = 40,
        min_score: int | None = None,
        score_pct: int = 10,
        max_limit: int = 100,
    ) -> list[tuple[int, int]]:
        unique = set(query)
        floor = (len(query) + 19) // 20 if min_score is None else min_score
        floor = max(floor, 1)
        scored = []
        for doc, hashes in self.docs.items():
            score = sum(1 for h in hashes if h in unique)
            if score >= floor:
                scored.append((doc, score))
        if not scored:
            return []
        scored.sort(key=lambda r: (-r[1], r[0]))
        threshold = max(floor, scored[0][1] * score_pct // 100)
        kept = [r for r in scored if r[1] >= threshold]
        return kept[: min(max(limit, 1), max_limit)]
