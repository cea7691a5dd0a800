"""The cases the synthetic data set plants, looked up on SQLite and PostgreSQL.

Expected values come from the database itself (names, credits, ISRCs, release counts), never
from constants.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import sqlalchemy as sa

from earmark.db.meta import UserMeta
from earmark.musicbrainz.enrich import ResultLinks
from earmark.musicbrainz.metadata import ReleaseEvent
from earmark.musicbrainz.schema import MusicBrainzDatabase, execute, tables
from earmark.musicbrainz.synthetic import ISRC_PREFIX, synthetic_gid
from tests.musicbrainz.support import Mirror, links, lookup, mbid_link


def _one(database: MusicBrainzDatabase, meta: str, mbid: str, sources: int = 1) -> Any:
    """The metadata a single result linked to ``mbid`` gets."""
    found = lookup(database, meta, [("r", 1.0, links((mbid, sources)))])
    return found.results[0]


def _scalar(database: MusicBrainzDatabase, query: sa.Select[Any]) -> Any:
    with database.read() as conn:
        return execute(conn, query).scalar()


def _column(database: MusicBrainzDatabase, query: sa.Select[Any]) -> list[Any]:
    with database.read() as conn:
        return list(execute(conn, query).scalars())


def _recording_name(database: MusicBrainzDatabase, mbid: str) -> str:
    recording = tables().recording
    return str(
        _scalar(database, sa.select(recording.c.name).where(recording.c.gid == uuid.UUID(mbid)))
    )


def _on_releases(database: MusicBrainzDatabase, where: Any) -> list[str]:
    """Recordings with a track on the releases matching ``where`` (a release/medium clause)."""
    mb = tables()
    query = (
        sa.select(mb.recording.c.gid)
        .select_from(
            mb.recording.join(mb.track, mb.track.c.recording == mb.recording.c.id)
            .join(mb.medium, mb.medium.c.id == mb.track.c.medium)
            .join(mb.release, mb.release.c.id == mb.medium.c.release)
            .join(mb.release_group, mb.release_group.c.id == mb.release.c.release_group)
        )
        .where(where)
        .order_by(mb.recording.c.gid)
    )
    return [str(gid) for gid in _column(database, query)]


def test_standalone_recording_is_bare_when_releases_are_asked(mirror: Mirror) -> None:
    database, mbid = mirror.database, mirror.synthetic.standalone[0]
    full = _one(database, "recordings", mbid)["recordings"]
    assert full[0]["title"] == _recording_name(database, mbid)
    for meta in ("recordings releases", "recordings releasegroups tracks", "2"):
        assert _one(database, meta, mbid)["recordings"] == [{"id": mbid}]
    assert _one(database, "releases", mbid)["releases"] == []
    found = lookup(database, "recordings releases", [("r", 1.0, links((mbid, 1)))])
    assert found.missing == ()  # it exists: nothing for the merge/disable task


def test_null_lengths_leave_duration_out(mirror: Mirror) -> None:
    database, data = mirror.database, mirror.synthetic
    mbid = next(m for m in data.null_length if m not in data.standalone)
    assert "duration" not in _one(database, "recordings", mbid)["recordings"][0]
    m2 = _one(database, "2", mbid)["recordings"][0]
    assert "duration" not in m2
    assert m2["tracks"]
    assert all("duration" not in track for track in m2["tracks"])


def test_join_phrases_rebuild_the_credit_name(mirror: Mirror) -> None:
    database, data = mirror.database, mirror.synthetic
    mb = tables()
    for mbid in data.multi_artist[:5]:
        artists = _one(database, "recordings", mbid)["recordings"][0]["artists"]
        assert len(artists) >= 2
        assert all("joinphrase" in artist for artist in artists[:-1])
        assert "joinphrase" not in artists[-1]
        credit_name = _scalar(
            database,
            sa.select(mb.artist_credit.c.name)
            .select_from(
                mb.recording.join(
                    mb.artist_credit, mb.artist_credit.c.id == mb.recording.c.artist_credit
                )
            )
            .where(mb.recording.c.gid == uuid.UUID(mbid)),
        )
        assert "".join(a["name"] + a.get("joinphrase", "") for a in artists) == credit_name


def test_credit_without_names_gives_no_artists(mirror: Mirror) -> None:
    database, mbid = mirror.database, mirror.synthetic.nameless_credit
    recording = _one(database, "recordings releases tracks", mbid)["recordings"][0]
    assert "artists" not in recording
    tracks = [t for r in recording["releases"] for m in r["mediums"] for t in m["tracks"]]
    assert tracks
    assert all(track["artists"] == [] for track in tracks)


def test_redirected_mbids_answer_with_the_new_recording(mirror: Mirror) -> None:
    database = mirror.database
    old, new = next(iter(mirror.synthetic.redirects.items()))
    found = lookup(database, "recordings sources", [("r", 1.0, links((old, 2), (new, 3)))])
    assert found.redirects == {old: new}
    assert found.missing == ()
    (entry,) = found.results[0]["recordings"]
    assert entry["id"] == new
    assert entry["sources"] == 5
    assert entry["title"] == _recording_name(database, new)
    alone = lookup(database, "recordings", [("r", 1.0, links((old, 1)))]).results[0]
    assert alone["recordings"][0]["id"] == new
    merged = _one(database, "releases tracks", old)
    assert merged == _one(database, "releases tracks", new)


def test_release_group_without_type(mirror: Mirror) -> None:
    database, group = mirror.database, mirror.synthetic.untyped_release_group
    mbid = _on_releases(database, tables().release_group.c.gid == uuid.UUID(group))[0]
    groups = _one(database, "releasegroups", mbid)["releasegroups"]
    (untyped,) = [g for g in groups if g["id"] == group]
    assert "type" not in untyped
    assert untyped["title"].startswith("Synthetic Release Group")


def test_unknown_country_events_have_no_country(mirror: Mirror) -> None:
    database = mirror.database
    release_gid = mirror.synthetic.unknown_country_releases[0]
    mbid = _on_releases(database, tables().release.c.gid == uuid.UUID(release_gid))[0]
    releases = _one(database, "releases", mbid)["releases"]
    (release,) = [r for r in releases if r["id"] == release_gid]
    assert release["releaseevents"]
    assert all("country" not in event for event in release["releaseevents"])
    assert "country" not in release
    assert release["date"] == release["releaseevents"][0]["date"]


def test_medium_title_and_missing_format(mirror: Mirror) -> None:
    database, mb = mirror.database, tables()
    no_format = synthetic_gid("release", 2)
    mbid = _on_releases(database, mb.release.c.gid == no_format)[0]
    (release,) = [
        r for r in _one(database, "releases tracks", mbid)["releases"] if r["id"] == str(no_format)
    ]
    assert all("format" not in medium for medium in release["mediums"])
    titled = _on_releases(database, mb.medium.c.name != "")[0]
    mediums = [
        m for r in _one(database, "releases tracks", titled)["releases"] for m in r["mediums"]
    ]
    assert any(medium.get("title", "").startswith("Synthetic Disc") for medium in mediums)


def test_recording_on_many_releases(mirror: Mirror) -> None:
    database, mbid, mb = mirror.database, mirror.synthetic.fan_out, tables()
    expected = _scalar(
        database,
        sa.select(sa.func.count(sa.distinct(mb.medium.c.release)))
        .select_from(
            mb.track.join(mb.medium, mb.medium.c.id == mb.track.c.medium).join(
                mb.recording, mb.recording.c.id == mb.track.c.recording
            )
        )
        .where(mb.recording.c.gid == uuid.UUID(mbid)),
    )
    releases = _one(database, "recordings releases", mbid)["recordings"][0]["releases"]
    assert len(releases) == expected >= 20
    assert len({release["id"] for release in releases}) == expected
    # Earliest release first, undated releases last, then by MBID.
    keys = [_release_key(release) for release in releases]
    assert keys == sorted(keys)


def _release_key(release: dict[str, Any]) -> tuple[Any, ...]:
    date = release.get("date", {})
    event = ReleaseEvent(
        release.get("country"), date.get("year"), date.get("month"), date.get("day")
    )
    first = event.sort_key() if "releaseevents" in release else (10_001, 13, 32, "~")
    return first, release["id"]


def test_compress_drops_every_release_group_credit_equal_to_the_recording(mirror: Mirror) -> None:
    database, mbid = mirror.database, mirror.synthetic.fan_out
    plain = _one(database, "recordings releasegroups", mbid)["recordings"][0]
    same = [g for g in plain["releasegroups"] if g.get("artists") == plain["artists"]]
    assert len(same) >= 2  # the reference would keep the credit on all but the last of these
    compressed = _one(database, "recordings releasegroups compress", mbid)["recordings"][0]
    assert len(compressed["releasegroups"]) == len(plain["releasegroups"])
    assert all(g.get("artists") != plain["artists"] for g in compressed["releasegroups"])


def test_non_latin_names_come_back_unchanged(mirror: Mirror) -> None:
    database = mirror.database
    for mbid in mirror.synthetic.non_latin[:4]:
        title = _one(database, "recordings", mbid)["recordings"][0]["title"]
        assert title == _recording_name(database, mbid)
        assert not title.isascii()
        assert json.loads(json.dumps(title, ensure_ascii=False)) == title


def test_isrcs_are_sorted_and_only_shown_when_asked(mirror: Mirror) -> None:
    database, mb = mirror.database, tables()
    with_codes = _column(
        database,
        sa.select(mb.recording.c.gid)
        .select_from(mb.recording.join(mb.isrc, mb.isrc.c.recording == mb.recording.c.id))
        .group_by(mb.recording.c.gid)
        .having(sa.func.count() > 1)
        .order_by(mb.recording.c.gid),
    )
    mbid = str(with_codes[0])
    codes = _column(
        database,
        sa.select(mb.isrc.c.isrc)
        .select_from(mb.isrc.join(mb.recording, mb.recording.c.id == mb.isrc.c.recording))
        .where(mb.recording.c.gid == uuid.UUID(mbid)),
    )
    shown = _one(database, "isrcs", mbid)["recordings"][0]["isrcs"]
    assert shown == sorted(code.strip() for code in codes)
    assert all(code.startswith(ISRC_PREFIX) and len(code) == 12 for code in shown)
    assert "isrcs" not in _one(database, "recordings", mbid)["recordings"][0]
    assert _one(database, "recordingids isrcs", mbid)["recordings"] == [{"id": mbid}]


def test_user_meta_fallback_with_plain_string_artists(mirror: Mirror) -> None:
    unknown = mirror.synthetic.unknown[0]
    user = ResultLinks(
        [mbid_link(unknown, 1)],
        [UserMeta(track="Tagged Title", artist="Tagged Artist")] * 12,
    )
    found = lookup(mirror.database, "recordings usermeta", [("r", 1.0, user)])
    entries = found.results[0]["recordings"]
    assert entries[0] == {"id": unknown}
    assert entries[1:] == [{"title": "Tagged Title", "artists": ["Tagged Artist"]}] * 10
    assert found.missing == (unknown,)


def test_mbids_are_normalised(sqlite_mirror: Mirror) -> None:
    mbid = sqlite_mirror.synthetic.recordings[0]
    upper = _one(sqlite_mirror.database, "recordings", mbid.upper())
    assert upper["recordings"][0]["id"] == mbid
