"""What importing one submission came to: the contract between the decision and the worker."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

#: imported / skipped: final, the submission row says so (status + reason);
#: busy: another importer holds a lock on the same fingerprint or MBID, try again later
#: (not an attempt); already: a redelivery of a submission that already has its final state;
#: missing: no such submission (e.g. a queue message for a row that was never committed).
OutcomeStatus = Literal["imported", "skipped", "busy", "already", "missing"]


@dataclass(frozen=True, slots=True)
class ImportOutcome:
    submission_id: int
    status: OutcomeStatus
    reason: str | None = None
    fingerprint_id: int | None = None
    track_id: int | None = None
    new_fingerprint: bool = False
    new_track: bool = False

    @property
    def final(self) -> bool:
        """True when the queue message may be acknowledged."""
        return self.status != "busy"
