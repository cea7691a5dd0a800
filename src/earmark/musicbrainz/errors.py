"""Errors of the MusicBrainz package, shown to the user as one line (see earmark.errors)."""

from __future__ import annotations

from earmark.errors import EarmarkError


class MusicBrainzError(EarmarkError):
    """The MusicBrainz mirror cannot do what was asked (wrong state, unreachable, misconfigured)."""

    exit_code = 3


class DumpError(MusicBrainzError):
    """A MusicBrainz dump archive is unreadable, unsafe or does not fit the schema."""


class ReplicationError(MusicBrainzError):
    """A replication packet cannot be applied: a gap, another schema, a row that does not fit."""


class PacketError(ReplicationError):
    """A replication packet is unreadable, incomplete, oversized or unsafe."""
