"""The ``meta`` parameter of ``/v2/lookup``: which MusicBrainz metadata a lookup returns.

Parsing follows the reference server (acoustid-server.md §3.1, §3.3): the value is split on
whitespace (``+`` in a URL); a value that is only ``0`` means nothing, only ``1`` means
``recordingids`` and only ``2`` means the legacy ``m2`` format. Unknown words are ignored.
``catalog`` is an Earmark extension (docs/compatibility.md): it implies ``recordings`` and adds
each recording's ISRCs and catalog tracks.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Flag(enum.StrEnum):
    RECORDINGS = "recordings"
    RECORDINGIDS = "recordingids"
    RELEASES = "releases"
    RELEASEIDS = "releaseids"
    RELEASEGROUPS = "releasegroups"
    RELEASEGROUPIDS = "releasegroupids"
    TRACKS = "tracks"
    COMPRESS = "compress"
    USERMETA = "usermeta"
    SOURCES = "sources"
    ISRCS = "isrcs"
    M2 = "m2"
    #: Earmark extension: each recording's ISRCs and catalog tracks (implies ``recordings``).
    CATALOG = "catalog"


class Mode(enum.Enum):
    """Where the metadata goes; exactly one applies, in this order of precedence."""

    NONE = "none"
    M2 = "m2"  # legacy flat recordings with tracks
    RECORDINGS = "recordings"  # results[].recordings[] (with release groups/releases nested)
    RELEASE_GROUPS = "releasegroups"  # results[].releasegroups[] (no recordings)
    RELEASES = "releases"  # results[].releases[] (no recordings)


SHORTCUTS: dict[str, frozenset[Flag]] = {
    "0": frozenset(),
    "1": frozenset({Flag.RECORDINGIDS}),
    "2": frozenset({Flag.M2}),
}


@dataclass(frozen=True)
class MetaFlags:
    """The parsed ``meta`` value; ``ignored`` keeps the words that are not flags."""

    flags: frozenset[Flag] = frozenset()
    ignored: frozenset[str] = frozenset()

    def __contains__(self, flag: object) -> bool:
        return flag in self.flags

    @property
    def mode(self) -> Mode:
        if Flag.M2 in self.flags:
            return Mode.M2
        if self.flags & {Flag.RECORDINGS, Flag.RECORDINGIDS, Flag.ISRCS, Flag.CATALOG}:
            return Mode.RECORDINGS
        if self.flags & {Flag.RELEASEGROUPS, Flag.RELEASEGROUPIDS}:
            return Mode.RELEASE_GROUPS
        if self.flags & {Flag.RELEASES, Flag.RELEASEIDS}:
            return Mode.RELEASES
        return Mode.NONE

    @property
    def release_groups(self) -> bool:
        """Release groups are wanted (full or ids only)."""
        return bool(self.flags & {Flag.RELEASEGROUPS, Flag.RELEASEGROUPIDS})

    @property
    def releases(self) -> bool:
        """Releases are wanted (full or ids only)."""
        return bool(self.flags & {Flag.RELEASES, Flag.RELEASEIDS})

    @property
    def needs_releases(self) -> bool:
        """The lookup must join tracks and releases (so recordings without tracks give nothing)."""
        mode = self.mode
        if mode in (Mode.M2, Mode.RELEASE_GROUPS, Mode.RELEASES):
            return True
        return mode is Mode.RECORDINGS and (self.release_groups or self.releases)


def parse_meta(value: str | None) -> MetaFlags:
    """``meta`` as sent by a client (``None`` when absent) into flags."""
    words = (value or "").split()
    if not words:
        return MetaFlags()
    if len(words) == 1 and words[0] in SHORTCUTS:
        return MetaFlags(SHORTCUTS[words[0]])
    known = {flag.value for flag in Flag}
    return MetaFlags(
        frozenset(Flag(word) for word in words if word in known),
        frozenset(word for word in words if word not in known),
    )
