"""What the data pages show of MusicBrainz recordings: title, artist, length, releases.

Read from the mirror with :func:`earmark.musicbrainz.metadata.lookup_metadata` (a bounded number
of statements for any number of MBIDs). Without a mirror, or when it fails to answer, the pages
still render, with the MBIDs alone: :attr:`Recordings.available` says which.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

import sqlalchemy.exc
from starlette.concurrency import run_in_threadpool

from earmark.musicbrainz.metadata import Credit, MetadataLookup, Recording, lookup_metadata
from earmark.musicbrainz.schema import MusicBrainzDatabase
from earmark.web.services import WebServices

log = logging.getLogger(__name__)

#: Releases listed on an MBID page.
RELEASES_SHOWN = 100


@dataclass(frozen=True)
class ReleaseInfo:
    mbid: str | None
    title: str
    artist: str
    date: str
    country: str


@dataclass(frozen=True)
class RecordingInfo:
    """One recording as the pages show it (``redirect``: the MBID it was merged into)."""

    mbid: str
    title: str
    artist: str
    length: str
    redirect: str | None = None
    releases: tuple[ReleaseInfo, ...] = ()


@dataclass(frozen=True)
class Recordings:
    #: Keyed by the MBID asked for; MBIDs the mirror does not know are absent.
    found: dict[uuid.UUID, RecordingInfo] = field(default_factory=dict)
    #: False: no mirror, or it could not answer (the page says so).
    available: bool = False

    def get(self, mbid: uuid.UUID) -> RecordingInfo | None:
        return self.found.get(mbid)


def length_text(seconds: int | None) -> str:
    """Seconds as ``m:ss`` (``h:mm:ss`` from an hour); empty when unknown."""
    if seconds is None or seconds < 0:
        return ""
    minutes, secs = divmod(seconds, 60)
    if minutes >= 60:
        return f"{minutes // 60}:{minutes % 60:02d}:{secs:02d}"
    return f"{minutes}:{secs:02d}"


def credit_text(credit: Credit) -> str:
    return "".join(artist.name + artist.joinphrase for artist in credit)


def _release_rows(recording: Recording) -> tuple[ReleaseInfo, ...]:
    seen: set[str | None] = set()
    rows = []
    for appearance in recording.appearances:
        release = appearance.release
        if release.id in seen:
            continue
        seen.add(release.id)
        event = release.events[0] if release.events else None
        date = ""
        if event is not None and event.year:
            date = "-".join(
                [f"{event.year:04d}"] + [f"{part:02d}" for part in (event.month, event.day) if part]
            )
        rows.append(
            ReleaseInfo(
                release.id,
                release.title,
                credit_text(release.artists),
                date,
                (event.country or "") if event else "",
            )
        )
        if len(rows) == RELEASES_SHOWN:
            break
    return tuple(rows)


def _lookup(
    mirror: MusicBrainzDatabase, mbids: Sequence[uuid.UUID], releases: bool
) -> MetadataLookup:
    with mirror.read() as conn:
        return lookup_metadata(conn, [str(m) for m in mbids], releases=releases)


async def recordings_of(
    services: WebServices, mbids: Sequence[uuid.UUID], *, releases: bool = False
) -> Recordings:
    """What the mirror knows of ``mbids`` (merged MBIDs answered with their new recording)."""
    mirror = services.mirror
    if mirror is None:
        return Recordings()
    if not mbids:
        return Recordings(available=True)
    try:
        lookup = await run_in_threadpool(_lookup, mirror, mbids, releases)
    except sqlalchemy.exc.SQLAlchemyError as exc:
        log.warning("the MusicBrainz mirror did not answer; pages show MBIDs only: %s", exc)
        return Recordings()
    found = {}
    for mbid in mbids:
        current = lookup.resolve(str(mbid))
        recording = lookup.recordings.get(current)
        if recording is None:
            continue
        found[mbid] = RecordingInfo(
            mbid=current,
            title=recording.title,
            artist=credit_text(recording.artists),
            length=length_text(recording.duration),
            redirect=current if current != str(mbid) else None,
            releases=_release_rows(recording) if releases else (),
        )
    return Recordings(found, available=True)
