"""What an import did and the data problems it met: counts with the first examples."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

#: Examples kept per kind of problem.
EXAMPLES = 5

PROBLEM_HELP = {
    "invalid-row": "rows whose fields break the stream's types (left out)",
    "duplicate-id": "ids that came twice in one day with different content (the later kept)",
    "changed-content": "rows that changed fields upstream never changes (applied)",
    "unknown-track": "rows that need a track that never appeared (waiting)",
    "unknown-row": "rows that need another row that never appeared (waiting)",
    "missing-day": "days without any file between the first and the last",
    "missing-file": "days that have some streams' files but not this one",
    "bad-listing": "listing entries left out (a bad date in a file name)",
    "merge-unknown": "track merges into a track that never appeared (waiting)",
}


@dataclass
class DataImportReport:
    days: int = 0
    applied: Counter[str] = field(default_factory=Counter)
    unchanged: Counter[str] = field(default_factory=Counter)
    fingerprints_written: int = 0
    problems: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[str]] = field(default_factory=dict)

    def problem(self, kind: str, example: str) -> None:
        self.problems[kind] += 1
        kept = self.examples.setdefault(kind, [])
        if len(kept) < EXAMPLES:
            kept.append(example)

    def rows(self) -> int:
        return sum(self.applied.values())

    def lines(self) -> list[str]:
        out = [
            f"{self.days} days applied, {self.rows()} rows written "
            f"({self.fingerprints_written} fingerprints), "
            f"{sum(self.unchanged.values())} rows unchanged"
        ]
        for stream, count in sorted(self.applied.items()):
            out.append(f"  {stream}: {count} written, {self.unchanged[stream]} unchanged")
        for kind, count in sorted(self.problems.items()):
            out.append(f"problem {kind}: {count} ({PROBLEM_HELP.get(kind, kind)})")
            out += [f"  e.g. {example}" for example in self.examples.get(kind, [])]
        return out
