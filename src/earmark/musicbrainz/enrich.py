"""Adding MusicBrainz metadata to lookup results, as the ``meta`` parameter asks.

The web service hands over its result objects (``{"id": track_gid, "score": ...}`` in match
order; in batch mode the results of every fingerprint together) and, per result, the AcoustID
track's enabled MBID links and its user-submitted metadata. :func:`inject_metadata` adds
``recordings``, ``releasegroups`` or ``releases`` to each object exactly as the reference does
(acoustid-server.md §3.3), with one lookup for the whole response, and reports the MBIDs
MusicBrainz does not know (for the background merge/disable task of §10).

Differences from the reference, on purpose (docs/musicbrainz.md):

* merged MBIDs are answered with the MBID they were merged into; links that end up on the same
  MBID are shown once, with their ``sources`` added up;
* release groups, releases, mediums and tracks come in a defined order (release date, then
  MBID; medium and track position) instead of whatever order the database returns;
* ``compress`` compares every release group's artists with the recording's (the reference
  compares only the last group);
* ``meta=2`` leaves ``duration`` out for a track without length instead of failing;
* user metadata never shows internal ids, nulls or empty objects.

``meta=catalog`` (an Earmark extension) adds to each recording MusicBrainz knows its ISRCs and
its tracks as the catalog API shapes them (:mod:`earmark.musicbrainz.catalog_render`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy.engine import Connection

from earmark.db.links import MbidLink, MetaLink, mbids_for_tracks, meta_for_tracks
from earmark.db.meta import UserMeta
from earmark.musicbrainz import catalog_render
from earmark.musicbrainz.assemble import (
    Json,
    m2_tracks,
    prune_user_entry,
    recording_tree,
    recording_trees,
    release_groups_json,
    releases_json,
    shown_with_data,
)
from earmark.musicbrainz.cache import MetadataCache
from earmark.musicbrainz.catalog import CatalogQuery, load
from earmark.musicbrainz.flags import Flag, MetaFlags, Mode
from earmark.musicbrainz.metadata import (
    Appearance,
    CreditedArtist,
    Medium,
    MediumTrack,
    MetadataLookup,
    Recording,
    Release,
    ReleaseEvent,
    ReleaseGroup,
    lookup_metadata,
    normalize_mbid,
)
from earmark.musicbrainz.schema import MusicBrainzDatabase

MAX_USER_META_PER_TRACK = 10


@dataclass(frozen=True)
class ResultLinks:
    """What the fingerprint database knows about one result's track.

    ``mbids`` are the enabled links (any order); ``user_meta`` is ordered by submission count,
    highest first, and is only read for ``usermeta`` (the caller may leave it empty otherwise).
    """

    mbids: Sequence[MbidLink] = ()
    user_meta: Sequence[UserMeta] = ()
    #: How many submissions carried each ``user_meta`` entry (same order; may be left empty).
    user_sources: Sequence[int] = ()


def read_links(
    conn: Connection, hits: Sequence[tuple[int, Sequence[MbidLink] | None]], flags: MetaFlags
) -> list[ResultLinks]:
    """What :func:`inject_metadata` needs of each result's track, from the fingerprint database.

    ``hits`` are (track id, the track's enabled MBID links when the search read them already)
    in result order; the links of the others (trackid queries) are read here, and the user
    metadata when ``flags`` ask for ``usermeta``.
    """
    mbids = {track_id: found for track_id, found in hits if found is not None}
    unread = [track_id for track_id, found in hits if found is None]
    if unread:
        mbids.update(mbids_for_tracks(conn, unread))
    user_meta: dict[int, list[MetaLink]] = {}
    if Flag.USERMETA in flags and flags.mode is Mode.RECORDINGS:
        user_meta = meta_for_tracks(
            conn, [track_id for track_id, _ in hits], limit_per_track=MAX_USER_META_PER_TRACK
        )
    return [
        ResultLinks(
            mbids[track_id],
            [row.meta for row in user_meta.get(track_id, ())],
            [row.submission_count for row in user_meta.get(track_id, ())],
        )
        for track_id, _ in hits
    ]


@dataclass(frozen=True)
class Enrichment:
    """The results (the same objects, now with metadata) and what the lookup found out.

    ``missing``: MBIDs in neither ``recording`` nor ``recording_gid_redirect`` (candidates for
    the 7-day disable). ``redirects``: old MBID → the MBID it was merged into (candidates for
    the background merge of the links).
    """

    results: list[Json]
    missing: tuple[str, ...] = ()
    redirects: dict[str, str] = field(default_factory=dict)


def add_metadata(
    mirror: MusicBrainzDatabase | None,
    results: list[Json],
    links: Sequence[ResultLinks],
    flags: MetaFlags,
    cache: MetadataCache | None = None,
    *,
    shared: Connection | None = None,
) -> Enrichment:
    """:func:`inject_metadata` from ``mirror`` (None: no mirror configured), on ``shared`` (a
    connection of the mirror's engine opened for the lookup's other work) when given, else on
    a connection of its own."""
    if mirror is None:
        return inject_metadata(None, results, links, flags)
    if shared is not None:
        return inject_metadata(mirror.on(shared), results, links, flags, cache)
    with mirror.read() as conn:
        return inject_metadata(conn, results, links, flags, cache)


def inject_metadata(
    conn: Connection | None,
    results: list[Json],
    links: Sequence[ResultLinks],
    flags: MetaFlags,
    cache: MetadataCache | None = None,
) -> Enrichment:
    """Add the metadata ``flags`` ask for to ``results`` (in place) from one MusicBrainz lookup.

    ``links[i]`` belongs to ``results[i]``. ``conn`` reads the MusicBrainz database, through
    ``cache`` when given (the web service's recently looked-up recordings). Without a mirror
    (``conn`` None) the results get what a lookup gives when the mirror knows none of the
    MBIDs, and nothing is reported: nobody can then tell a missing MBID from one the mirror was
    never given.
    """
    if len(results) != len(links):
        raise ValueError(f"{len(results)} results but {len(links)} link lists")
    mode = flags.mode
    if mode is Mode.NONE or not results:
        return Enrichment(results)
    if conn is None:
        _inject_without_mirror(results, links, flags)
        return Enrichment(results)
    mbids = {normalize_mbid(link.mbid) for result_links in links for link in result_links.mbids}
    lookup = (cache.lookup if cache is not None else lookup_metadata)(
        conn,
        mbids,
        releases=flags.needs_releases,
        release_groups=mode is Mode.RELEASE_GROUPS
        or (mode is Mode.RECORDINGS and flags.release_groups),
        isrcs=mode is Mode.RECORDINGS and Flag.ISRCS in flags and Flag.RECORDINGIDS not in flags,
    )
    if mode is Mode.RECORDINGS:
        # One pass: load (above), assemble each recording's JSON once, inject into the results.
        trees = (
            cache.trees(lookup.recordings, flags)
            if cache is not None
            else recording_trees(lookup.recordings, flags)
        )
        _inject_recordings(results, links, flags, lookup, trees)
        if Flag.CATALOG in flags:
            _inject_catalog(conn, results)
    elif mode is Mode.M2:
        _inject_m2(results, links, flags, lookup)
    else:
        _inject_releases(results, links, flags, lookup, mode)
    return Enrichment(results, lookup.missing, dict(lookup.redirects))


def _merged(mbid_links: Sequence[MbidLink], lookup: MetadataLookup) -> list[tuple[str, int]]:
    """Current MBIDs in text order, with the sources of links merged onto them summed."""
    totals: dict[str, int] = {}
    for link in mbid_links:
        mbid = lookup.resolve(normalize_mbid(link.mbid))
        totals[mbid] = totals.get(mbid, 0) + link.submission_count
    return sorted(totals.items())


def _with_data(lookup: MetadataLookup, mbid: str, flags: MetaFlags) -> Recording | None:
    """The recording, unless the mode needs releases and it has none (it then stays a bare id)."""
    recording = lookup.recordings.get(mbid)
    if recording is None or not shown_with_data(recording, flags):
        return None
    return recording


def _inject_recordings(
    results: list[Json],
    links: Sequence[ResultLinks],
    flags: MetaFlags,
    lookup: MetadataLookup,
    trees: dict[str, Json],
) -> None:
    """``trees``: the JSON of each recording shown with data (``recording_trees``)."""
    # The reference falls back to user metadata only when MusicBrainz gave nothing at all.
    use_user_meta = Flag.USERMETA in flags and not trees
    sources = Flag.SOURCES in flags
    for result, result_links in zip(results, links, strict=True):
        entries: list[Json] = []
        for mbid, count in _merged(result_links.mbids, lookup):
            entry: Json = {"id": mbid}
            if sources:
                entry["sources"] = count
            tree = trees.get(mbid)
            if tree is not None:
                entry.update(tree)  # its top level copied: the tree itself stays shared
            entries.append(entry)
        if use_user_meta:
            entries.extend(_user_entries(result_links, flags))
        if entries:
            result["recordings"] = entries


def _inject_catalog(conn: Connection, results: list[Json]) -> None:
    """``meta=catalog``: each recording MusicBrainz knows gets ``isrcs`` and ``catalog_tracks``
    (the catalog API's track objects, earliest release first), from one catalog load for the
    whole response whose statement count does not depend on the number of recordings."""
    entries = [
        entry
        for result in results
        for entry in result.get("recordings", ())
        if isinstance(entry.get("id"), str)
    ]
    data = load(conn, CatalogQuery(recordings=sorted({e["id"] for e in entries})), fixed=True)
    resolved = data.resolved.get("recording", {})
    for entry in entries:
        recording = data.recordings.get(resolved.get(entry["id"], ""))
        if recording is not None:
            entry["isrcs"] = list(recording.isrcs)
            entry["catalog_tracks"] = catalog_render.tracks(data, recording.tracks)


def _inject_releases(
    results: list[Json],
    links: Sequence[ResultLinks],
    flags: MetaFlags,
    lookup: MetadataLookup,
    mode: Mode,
) -> None:
    for result, result_links in zip(results, links, strict=True):
        if not result_links.mbids:
            continue
        appearances: list[Appearance] = []
        for mbid, _sources in _merged(result_links.mbids, lookup):
            recording = _with_data(lookup, mbid, flags)
            if recording is not None:
                appearances.extend(recording.appearances)
        appearances.sort(key=Appearance.sort_key)
        # A track whose MBIDs MusicBrainz does not know gets an empty list, as in the reference.
        if mode is Mode.RELEASE_GROUPS:
            result["releasegroups"] = release_groups_json(appearances, flags)
        else:
            result["releases"] = releases_json(appearances, flags)


def _inject_m2(
    results: list[Json],
    links: Sequence[ResultLinks],
    flags: MetaFlags,
    lookup: MetadataLookup,
) -> None:
    for result, result_links in zip(results, links, strict=True):
        entries: list[Json] = []
        for mbid, _sources in _merged(result_links.mbids, lookup):
            entry: Json = {"id": mbid}
            recording = _with_data(lookup, mbid, flags)
            if recording is not None:
                if recording.duration:
                    entry["duration"] = float(recording.duration)
                entry["tracks"] = m2_tracks(recording.appearances)
            entries.append(entry)
        if entries:
            result["recordings"] = entries


def _inject_without_mirror(
    results: list[Json], links: Sequence[ResultLinks], flags: MetaFlags
) -> None:
    mode = flags.mode
    for result, result_links in zip(results, links, strict=True):
        if mode in (Mode.RECORDINGS, Mode.M2):
            entries: list[Json] = []
            for link in sorted(result_links.mbids, key=lambda link: str(link.mbid)):
                entry: Json = {"id": normalize_mbid(link.mbid)}
                if mode is Mode.RECORDINGS and Flag.SOURCES in flags:
                    entry["sources"] = link.submission_count
                entries.append(entry)
            if mode is Mode.RECORDINGS and Flag.USERMETA in flags:
                entries.extend(_user_entries(result_links, flags))
            if entries:
                result["recordings"] = entries
        elif result_links.mbids:
            result["releasegroups" if mode is Mode.RELEASE_GROUPS else "releases"] = []


def _user_entries(result_links: ResultLinks, flags: MetaFlags) -> list[Json]:
    entries = []
    counts = list(result_links.user_sources)
    for i, meta in enumerate(result_links.user_meta[:MAX_USER_META_PER_TRACK]):
        entry = prune_user_entry(recording_tree(user_recording(meta), flags))
        if entry and {Flag.SOURCES, Flag.CATALOG} <= flags.flags and i < len(counts):
            # An Earmark extension, only with ``catalog`` (the reference shows no count here,
            # docs/compatibility.md): how many submissions carried this metadata.
            entry["sources"] = counts[i]
        if entry:
            entries.append(entry)
    return entries


def user_recording(meta: UserMeta) -> Recording:
    """User metadata in the shape of a recording on a release (the reference's mapping).

    The album is both the release and its release group, the album artist their artist, the
    year the release date, the disc and track numbers the medium and track positions.
    """
    artists = (CreditedArtist(None, meta.artist),) if meta.artist else ()
    album_artists = (CreditedArtist(None, meta.album_artist),) if meta.album_artist else ()
    group = ReleaseGroup(None, meta.album or "", None, (), album_artists)
    events = (ReleaseEvent(None, meta.year, None, None),) if meta.year else ()
    release = Release(None, meta.album or "", None, None, album_artists, events, group)
    appearance = Appearance(
        track=MediumTrack(None, meta.track_no, meta.track or "", artists, None),
        medium=Medium(meta.disc_no, None, None, ""),
        release=release,
    )
    return Recording(None, meta.track or "", None, artists, (), (appearance,))
