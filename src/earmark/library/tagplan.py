"""What ``earmark tag`` would change in each file: the decision for a folder of looked-up files
(recording, release, values) and the field-by-field difference with the file's tags. Pure
functions over already read data; :mod:`earmark.library.tagging` does the I/O.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from earmark.library.tagformats import Values
from earmark.library.tagmatch import (
    Candidate,
    ReleaseTrack,
    Status,
    choose_recording,
    credit,
    parse_candidates,
)
from earmark.library.tagrelease import ReleasePreferences, choose_album, choose_release
from earmark.library.tags import Tags, clean_text
from earmark.library.tagvalues import FIELDS, recording_values, release_values

Policy = Literal["overwrite", "fill"]
#: The "now" column is cut to this many characters (the "after" column is shown whole).
NOW_WIDTH = 40
NO_RELEASE_DATA = (
    "no release data: album, track numbers and release ids need the MusicBrainz mirror"
)


@dataclass(frozen=True)
class TagOptions:
    min_score: float = 0.8
    prefs: ReleasePreferences = field(default_factory=ReleasePreferences)
    policy: Policy = "overwrite"
    user_meta_min_sources: int = 3


@dataclass(frozen=True)
class Looked:
    """One file, fingerprinted and looked up (or why not)."""

    path: str
    duration: float = 0.0
    results: list[dict[str, Any]] = field(default_factory=list)
    tags: Tags = field(default_factory=Tags)
    current: Values = field(default_factory=dict)
    kind: str | None = None
    error: str | None = None
    unidentifiable: str | None = None


@dataclass(frozen=True)
class FieldChange:
    field: str
    now: tuple[str, ...]
    after: tuple[str, ...]


@dataclass
class TagPlan:
    """The outcome for one file."""

    path: str
    status: Status | Literal["error"]
    reason: str | None = None
    recording: str | None = None
    album: str | None = None
    #: The best lookup result's score (None: no result).
    score: float | None = None
    changes: list[FieldChange] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    written: bool = False

    @property
    def to_write(self) -> Values:
        return {c.field: c.after for c in self.changes}

    def to_json(self) -> str:
        data: dict[str, Any] = {
            "path": self.path,
            "status": self.status,
            "changes": [
                {"field": c.field, "now": list(c.now), "after": list(c.after)} for c in self.changes
            ],
            "written": self.written,
        }
        for key in ("reason", "recording", "album", "score"):
            if getattr(self, key) is not None:
                data[key] = getattr(self, key)
        if self.notes:
            data["notes"] = self.notes
        return json.dumps(data, ensure_ascii=False, sort_keys=True)

    def to_text(self) -> str:
        lines = [_line(self.path)]
        if self.reason:
            lines.append(f"  {self.status.replace('_', ' ')}: {_line(self.reason)}")
        elif self.status == "matched" and not self.changes:
            lines.append("  unchanged")
        lines.extend(f"  note: {_line(n)}" for n in self.notes)
        if self.changes:
            width = max(len(c.field) for c in self.changes)
            now_width = min(NOW_WIDTH, max(3, *(len(_shown(c.now)) for c in self.changes)))
            lines.append(f"  {'field':<{width}} | {'now':<{now_width}} | after")
            for c in self.changes:
                lines.append(
                    f"  {c.field:<{width}} | {_cut(_shown(c.now)):<{now_width}} | {_shown(c.after)}"
                )
        return "\n".join(lines) + "\n"


def _line(value: object) -> str:
    return clean_text(value, 1000) or "?"


def _cut(text: str) -> str:
    return text if len(text) <= NOW_WIDTH else text[: NOW_WIDTH - 1] + "…"


def _shown(values: tuple[str, ...]) -> str:
    text = "; ".join(clean_text(v, 200) or "" for v in values)
    return text if text else "-"


def differences(current: Values, wanted: Values, policy: Policy) -> list[FieldChange]:
    """The fields to change, in :data:`FIELDS` order: what differs (``overwrite``) or only what
    is empty (``fill``). A field Earmark has no value for is left as it is."""
    changes = []
    for name in FIELDS:
        after = wanted.get(name)
        if not after:
            continue
        now = current.get(name, ())
        if now == after or (policy == "fill" and now):
            continue
        changes.append(FieldChange(name, now, after))
    return changes


def _user_candidate(
    candidates: list[Candidate], min_score: float, min_sources: int
) -> Candidate | None:
    """The catalog-less fallback's user metadata: the most submitted title with a count over
    the threshold (none when the score is low)."""
    users = [c for c in candidates if c.id is None and c.title and c.sources >= min_sources]
    if not users or users[0].score < min_score:
        return None
    return max(users, key=lambda c: c.sources)


def decide_folder(files: Sequence[Looked], options: TagOptions, *, album: bool) -> list[TagPlan]:
    """The plans of the files of one folder (album mode) or of loose files (``album`` False:
    each alone)."""
    plans: list[TagPlan] = []
    chosen: list[Candidate | None] = []
    ties: list[tuple[Candidate, ...]] = []
    for looked in files:
        plan, candidate, tied = _recording_plan(looked, options)
        plans.append(plan)
        chosen.append(candidate if plan.status == "matched" else None)
        ties.append(tied)
    if album and sum(c is not None and bool(c.tracks) for c in chosen) > 1:
        choice, tracks = choose_album(chosen, options.prefs)
        if choice.album_id is not None:
            _settle_ties(plans, chosen, tracks, ties, choice.album_id, options)
        for plan in plans:
            if plan.status == "matched" and choice.album_id is not None:
                plan.notes.append(
                    f"album mode: release {choice.album_id} holds {choice.covered} of "
                    f"{choice.files} files of this folder"
                )
    else:
        tracks = [choose_release(c.tracks, options.prefs) if c else None for c in chosen]
    for looked, plan, candidate, track in zip(files, plans, chosen, tracks, strict=True):
        if candidate is None:
            continue
        if candidate.id is None:
            wanted: Values = {"title": (candidate.title,)} if candidate.title else {}
            if artist := credit(candidate.artists):
                wanted["artist"] = (artist,)
            wanted["acoustid_id"] = (candidate.acoustid,)
            plan.notes.append("user-submitted metadata (no recording MBID); " + NO_RELEASE_DATA)
        elif track is None:
            wanted = recording_values(candidate)
            plan.notes.append(NO_RELEASE_DATA)
        else:
            wanted = release_values(candidate, track)
            plan.album = track.album.id
        plan.changes = differences(looked.current, wanted, options.policy)
    return plans


def _settle_ties(
    plans: list[TagPlan],
    chosen: list[Candidate | None],
    tracks: list[ReleaseTrack | None],
    ties: list[tuple[Candidate, ...]],
    album_id: str,
    options: TagOptions,
) -> None:
    """Album mode: an ambiguous file whose tied recordings include exactly one on the folder's
    release is that recording (evidence, not a guess: its neighbours are on that release)."""
    for i, plan in enumerate(plans):
        if plan.status != "ambiguous":
            continue
        on_album = [c for c in ties[i] if any(t.album.id == album_id for t in c.tracks)]
        if len(on_album) != 1:
            continue
        candidate = on_album[0]
        plan.status, plan.reason, plan.recording = "matched", None, candidate.id
        plan.notes.append(f"album mode: of {len(ties[i])} tied recordings only this one is on it")
        chosen[i] = candidate
        tracks[i] = choose_release(
            [t for t in candidate.tracks if t.album.id == album_id], options.prefs
        )


Planned = tuple[TagPlan, Candidate | None, tuple[Candidate, ...]]


def _recording_plan(looked: Looked, options: TagOptions) -> Planned:
    if looked.error is not None:
        return TagPlan(looked.path, "error", looked.error), None, ()
    candidates = parse_candidates(looked.results)
    if not candidates and looked.unidentifiable is not None:
        return TagPlan(looked.path, "too_short", looked.unidentifiable), None, ()
    choice = choose_recording(candidates, looked.tags, looked.duration, min_score=options.min_score)
    if choice.status == "no_match" and candidates:
        user = _user_candidate(candidates, options.min_score, options.user_meta_min_sources)
        if user is not None:
            return TagPlan(looked.path, "matched", score=user.score), user, ()
    recording = choice.candidate.id if choice.candidate is not None else None
    score = candidates[0].score if candidates else None
    plan = TagPlan(looked.path, choice.status, choice.reason, recording=recording, score=score)
    return plan, choice.candidate, choice.tied
