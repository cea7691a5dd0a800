"""The JSON objects of the lookup response, built from :mod:`earmark.musicbrainz.metadata` values.

Field names, omission rules and ``compress`` follow acoustid-server.md §3.3 and musicbrainz.md
§1.5. Entities without an id come from user-submitted metadata (``usermeta``): they never show
an id, and an empty title is left out instead of being sent as ``""``.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import Any

from earmark.musicbrainz.flags import Flag, MetaFlags
from earmark.musicbrainz.metadata import (
    Appearance,
    Credit,
    Medium,
    Recording,
    Release,
    ReleaseEvent,
    ReleaseGroup,
)

Json = dict[str, Any]


def artists_json(credit: Credit) -> list[Any]:
    """Credited artists as objects, or as plain strings for user-submitted names."""
    out: list[Any] = []
    for artist in credit:
        if artist.id is None:
            out.append(artist.name)
            continue
        item: Json = {"id": artist.id, "name": artist.name}
        if artist.joinphrase:
            item["joinphrase"] = artist.joinphrase
        out.append(item)
    return out


def _head(entity_id: str | None, title: str, ids_only: bool) -> Json:
    out: Json = {} if entity_id is None else {"id": entity_id}
    if not ids_only and (entity_id is not None or title):
        out["title"] = title
    return out


def recording_json(recording: Recording, flags: MetaFlags) -> Json:
    """A recording's own fields (no releases); ``recordingids`` keeps only the id."""
    out = _head(recording.id, recording.title, Flag.RECORDINGIDS in flags)
    if Flag.RECORDINGIDS in flags:
        return out
    if recording.duration:
        out["duration"] = float(recording.duration)
    if recording.artists:
        out["artists"] = artists_json(recording.artists)
    if Flag.ISRCS in flags and recording.isrcs:
        out["isrcs"] = list(recording.isrcs)
    return out


def release_group_json(group: ReleaseGroup, ids_only: bool) -> Json:
    out = _head(group.id, group.title, ids_only)
    if ids_only:
        return out
    if group.type:
        out["type"] = group.type
    if group.secondary_types:
        out["secondarytypes"] = list(group.secondary_types)
    if group.artists:
        out["artists"] = artists_json(group.artists)
    return out


def event_json(event: ReleaseEvent) -> Json:
    out: Json = {}
    if event.country:
        out["country"] = event.country
    date = {
        part: value
        for part, value in (("year", event.year), ("month", event.month), ("day", event.day))
        if value
    }
    if date:
        out["date"] = date
    return out


def release_json(release: Release, ids_only: bool) -> Json:
    out = _head(release.id, release.title, ids_only)
    if ids_only:
        return out
    if release.medium_count:
        out["medium_count"] = release.medium_count
    if release.track_count:
        out["track_count"] = release.track_count
    if release.artists:
        out["artists"] = artists_json(release.artists)
    if release.events:
        out["releaseevents"] = [event_json(event) for event in release.events]
        # The reference copies the first event's country and date to the release itself.
        out.update(out["releaseevents"][0])
    return out


def _key(entity_id: str | None, entity: object) -> Hashable:
    return entity_id if entity_id is not None else ("object", id(entity))


def _medium_head(medium: Medium) -> Json:
    out: Json = {}
    if medium.position is not None:
        out["position"] = medium.position
    if medium.track_count is not None:
        out["track_count"] = medium.track_count
    if medium.format:
        out["format"] = medium.format
    if medium.title:
        out["title"] = medium.title
    out["tracks"] = []
    return out


def mediums_json(appearances: Iterable[Appearance]) -> list[Json]:
    """The mediums of one release holding the given tracks, keyed by medium position."""
    mediums: dict[Hashable, Json] = {}
    for appearance in appearances:
        key = appearance.medium.position
        medium = mediums.get(key)
        if medium is None:
            medium = mediums[key] = _medium_head(appearance.medium)
        track = appearance.track
        item = _head(track.id, track.title, ids_only=False)
        if track.position is not None:
            item["position"] = track.position
        item["artists"] = artists_json(track.artists)
        medium["tracks"].append(item)
    return list(mediums.values())


def releases_json(appearances: Sequence[Appearance], flags: MetaFlags) -> list[Json]:
    """Releases in the order of the appearances, with their mediums when ``tracks`` is set."""
    groups: dict[Hashable, tuple[Json, list[Appearance]]] = {}
    for appearance in appearances:
        release = appearance.release
        key = _key(release.id, release)
        if key not in groups:
            groups[key] = (release_json(release, Flag.RELEASEIDS in flags), [])
        groups[key][1].append(appearance)
    out = []
    for release_out, members in groups.values():
        if Flag.TRACKS in flags:
            release_out["mediums"] = mediums_json(members)
            if Flag.COMPRESS in flags:
                for medium in release_out["mediums"]:
                    for track in medium["tracks"]:
                        _drop_if_equal(track, "artists", release_out)
        out.append(release_out)
    return out


def release_groups_json(appearances: Sequence[Appearance], flags: MetaFlags) -> list[Json]:
    """Release groups in the order of the appearances, with releases nested when asked."""
    groups: dict[Hashable, tuple[Json, list[Appearance]]] = {}
    for appearance in appearances:
        group = appearance.release.release_group
        if group is None:  # not loaded: release groups were not asked for
            continue
        key = _key(group.id, group)
        if key not in groups:
            groups[key] = (release_group_json(group, Flag.RELEASEGROUPIDS in flags), [])
        groups[key][1].append(appearance)
    out = []
    for group_out, members in groups.values():
        if flags.releases:
            group_out["releases"] = releases_json(members, flags)
            if Flag.COMPRESS in flags:
                for release in group_out["releases"]:
                    _drop_if_equal(release, "artists", group_out)
                    _drop_if_equal(release, "title", group_out)
        out.append(group_out)
    return out


def _drop_if_equal(item: Json, field: str, other: Json) -> None:
    if field in item and item[field] == other.get(field):
        del item[field]


def recording_tree(recording: Recording, flags: MetaFlags) -> Json:
    """A recording with its release groups or releases (recording mode)."""
    out = recording_json(recording, flags)
    compress = Flag.COMPRESS in flags
    if flags.release_groups:
        out["releasegroups"] = release_groups_json(recording.appearances, flags)
        if compress:
            for group in out["releasegroups"]:
                for release in group.get("releases", []):
                    _drop_track_titles(release, out)
                # The reference compares only the last group here (a bug); we compare each.
                _drop_if_equal(group, "artists", out)
    elif flags.releases:
        out["releases"] = releases_json(recording.appearances, flags)
        if compress:
            for release in out["releases"]:
                _drop_track_titles(release, out)
                _drop_if_equal(release, "artists", out)
    return out


def recording_trees(recordings: Mapping[str, Recording], flags: MetaFlags) -> dict[str, Json]:
    """The :func:`recording_tree` of every recording shown with data (by MBID), each built
    once whatever the number of results linking to it. A recording without appearances when
    the flags need releases has none: it is shown as a bare id.

    A tree is shared by every entry showing its recording (and, through the metadata cache,
    by later responses): callers copy its top level into their entry and never change what
    lies below.
    """
    return {
        mbid: recording_tree(recording, flags)
        for mbid, recording in recordings.items()
        if shown_with_data(recording, flags)
    }


def shown_with_data(recording: Recording, flags: MetaFlags) -> bool:
    """Whether a recording is shown with its data: not when the flags need releases and it
    has none (it then stays a bare id)."""
    return bool(recording.appearances) or not flags.needs_releases


def _drop_track_titles(release: Json, recording: Json) -> None:
    for medium in release.get("mediums", []):
        for track in medium["tracks"]:
            _drop_if_equal(track, "title", recording)


def prune_user_entry(entry: Json) -> Json:
    """Drop the release groups and releases of a user-metadata entry left with no field."""
    for field in ("releasegroups", "releases"):
        if field not in entry:
            continue
        kept = [prune_user_entry(child) for child in entry[field]]
        kept = [child for child in kept if child]
        if kept:
            entry[field] = kept
        else:
            del entry[field]
    return entry


def m2_tracks(appearances: Sequence[Appearance]) -> list[Json]:
    """The tracks of a recording in the legacy ``meta=2`` form.

    Sorted by (release MBID, medium position, track position) as in the reference. A track
    without a length has no ``duration`` (the reference fails with an internal error there).
    """

    def order(appearance: Appearance) -> tuple[str, int, int]:
        return (
            appearance.release.id or "",
            appearance.medium.position or 0,
            appearance.track.position or 0,
        )

    out = []
    for appearance in sorted(appearances, key=order):
        track, medium, release = appearance.track, appearance.medium, appearance.release
        medium_out: Json = {
            "track_count": medium.track_count,
            "position": medium.position,
            "release": {"id": release.id, "title": release.title},
        }
        if medium.format:
            medium_out["format"] = medium.format
        item: Json = {"title": track.title}
        if track.duration is not None:
            item["duration"] = float(track.duration)
        item.update(
            {
                "artists": artists_json(track.artists),
                "position": track.position,
                "medium": medium_out,
            }
        )
        out.append(item)
    return out
