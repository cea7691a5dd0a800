"""The pure decisions of ``earmark tag``: which recording, which release, album mode, the
values and the differences (no files, no server)."""

from __future__ import annotations

from typing import Any

import pytest

from earmark.library.tagmatch import (
    Candidate,
    ReleaseTrack,
    TagAlbum,
    TagArtist,
    agreement,
    choose_recording,
    fold,
    parse_candidates,
)
from earmark.library.tagplan import Looked, TagOptions, decide_folder, differences
from earmark.library.tagrelease import (
    ReleasePreferences,
    choose_album,
    choose_release,
    split_list,
)
from earmark.library.tags import Tags
from earmark.library.tagvalues import release_values

R1 = "11111111-1111-4111-8111-111111111111"
R2 = "22222222-2222-4222-8222-222222222222"
BAND = (TagArtist("Band", "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"),)


def _album(number: int, **fields: Any) -> TagAlbum:
    return TagAlbum(id=f"{number:08d}-0000-4000-8000-000000000000", title=f"A{number}", **fields)


def _track(album: TagAlbum, number: int = 1, **fields: Any) -> ReleaseTrack:
    return ReleaseTrack(
        id=f"{album.id[:8]}-{number:04d}-4000-8000-000000000000",
        album=album,
        number=number,
        **fields,
    )


def _candidate(mbid: str | None = R1, **fields: Any) -> Candidate:
    values: dict[str, Any] = {"acoustid": "acid", "score": 0.95, "id": mbid, "title": "Song"}
    values.update(fields)
    return Candidate(**values)


def test_recording_agreeing_with_the_tags_wins() -> None:
    song = _candidate(R1, title="Song", artists=BAND, duration=200.0, sources=1)
    other = _candidate(R2, title="Other", artists=BAND, duration=200.0, sources=9)
    tags = Tags(title="song!", artist="BAND")
    choice = choose_recording([other, song], tags, 201.0, min_score=0.8)
    assert (choice.status, choice.candidate) == ("matched", song)


def test_existing_mbid_is_decisive_and_duration_counts() -> None:
    a = _candidate(R1, title="Song", duration=200.0)
    b = _candidate(R2, title="Song", duration=200.0)
    choice = choose_recording([a, b], Tags(mbids=(R2,)), 200.0, min_score=0.8)
    assert choice.candidate == b
    assert agreement(_candidate(duration=300.0), Tags(), 200.0) < 0
    assert agreement(_candidate(duration=203.0), Tags(), 200.0) == 1


def test_more_submissions_break_an_agreement_tie() -> None:
    a, b = _candidate(R1, sources=2), _candidate(R2, sources=5)
    assert choose_recording([a, b], Tags(), 0.0, min_score=0.8).candidate == b


def test_a_full_tie_is_reported_not_guessed() -> None:
    a, b = _candidate(R1, sources=3), _candidate(R2, sources=3)
    choice = choose_recording([a, b], Tags(), 0.0, min_score=0.8)
    assert choice.status == "ambiguous"
    assert R1 in (choice.reason or "")
    assert R2 in (choice.reason or "")


def test_a_low_score_is_reported() -> None:
    choice = choose_recording([_candidate(score=0.5)], Tags(), 0.0, min_score=0.8)
    assert choice.status == "low_confidence"
    assert "0.50" in (choice.reason or "")
    assert choose_recording([], Tags(), 0.0, min_score=0.8).status == "no_match"


def test_release_preferences_in_their_documented_order() -> None:
    official_single = _track(_album(1, status="Official", type="Single", countries=("GB",)))
    bootleg_album = _track(_album(2, status="Bootleg", type="Album", countries=("GB",)))
    compilation = _track(
        _album(3, status="Official", type="Album", secondary_types=("Compilation",))
    )
    album_us = _track(_album(4, status="Official", type="Album", countries=("US",)))
    album_gb = _track(_album(5, status="Official", type="Album", countries=("XE", "GB")))
    tracks = [official_single, bootleg_album, compilation, album_us, album_gb]
    prefs = ReleasePreferences(countries=("GB",))
    assert choose_release(tracks, prefs) == album_gb
    assert choose_release(tracks, ReleasePreferences(countries=("US",))) == album_us
    listed = ReleasePreferences(types=("Album", "Compilation"), countries=("DE",))
    assert choose_release([compilation, album_us], listed) == compilation  # by MBID then
    assert (
        choose_release(tracks[:3], ReleasePreferences(types=("Single", "Album"))) == official_single
    )
    assert choose_release([], prefs) is None


def test_formats_then_dates_original_or_latest() -> None:
    cd = _track(_album(1, date="2001-05"), format="CD")
    digital_old = _track(_album(2, date="1999"), format="Digital Media")
    digital_new = _track(_album(3, date="2010-01-02"), format="Digital Media")
    undated = _track(_album(4), format="Digital Media")
    tracks = [cd, digital_old, digital_new, undated]
    assert choose_release(tracks, ReleasePreferences()) == digital_old
    assert choose_release(tracks, ReleasePreferences(date="latest")) == digital_new
    assert choose_release(tracks, ReleasePreferences(formats=("CD",))) == cd
    assert split_list(" GB, ,XE,") == ("GB", "XE")


def test_album_mode_takes_the_release_covering_most_files() -> None:
    album = _album(1, type="Album")
    single = _album(2, type="Single")
    first = _candidate(R1, tracks=(_track(single, 1), _track(album, 1)))
    second = _candidate(R2, tracks=(_track(album, 2),))
    loner = _candidate(R1, tracks=(_track(_album(9, type="EP"), 1),))
    prefs = ReleasePreferences(types=("Single", "Album"))
    assert choose_release(first.tracks, prefs) == first.tracks[0]
    choice, tracks = choose_album([first, second, loner, None], prefs)
    assert (choice.album_id, choice.covered, choice.files) == (album.id, 2, 4)
    assert tracks == [first.tracks[1], second.tracks[0], loner.tracks[0], None]


def test_values_and_differences() -> None:
    album = _album(
        7,
        status="Official",
        type="Album",
        secondary_types=("Live",),
        date="2004-05-01",
        countries=("GB",),
        label="L",
        catalog_number="C1",
        barcode="123",
        medium_count=2,
        artists=BAND,
    )
    track = _track(album, 3, disc=2, track_total=12, format="CD", artists=BAND, title="Song (live)")
    older = _track(
        TagAlbum(id="99999999-0000-4000-8000-000000000000", date="1990", release_group_id=None), 1
    )
    values = release_values(_candidate(isrcs=("GBAAA0000001",), tracks=(track, older)), track)
    assert values["title"] == ("Song (live)",)
    assert values["tracknumber"] == ("3",)
    assert values["totaltracks"] == ("12",)
    assert (values["discnumber"], values["totaldiscs"]) == (("2",), ("2",))
    assert values["releasetype"] == ("album", "live")
    assert values["releasestatus"] == ("official",)
    assert values["originaldate"] == ("2004-05-01",)  # only the same group's releases count
    assert values["isrc"] == ("GBAAA0000001",)
    current = {"title": ("Old",), "album": ("A7",), "label": ("Mine",)}
    overwrite = {c.field: c.after for c in differences(current, values, "overwrite")}
    assert overwrite["title"] == ("Song (live)",)
    assert "album" not in overwrite
    fill = {c.field for c in differences(current, values, "fill")}
    assert "title" not in fill
    assert "label" not in fill
    assert "date" in fill


def test_fold_ignores_case_accents_and_punctuation() -> None:
    assert fold("Beyoncé — Halo!") == fold("beyonce halo")
    assert fold(None) == ""


@pytest.mark.parametrize(
    "results",
    [
        None,
        "text",
        [1, "x", None],
        [{"id": 5, "score": "high", "recordings": "none"}],
        [
            {
                "id": "t",
                "score": 0.9,
                "recordings": [
                    {
                        "id": "not-a-uuid",
                        "sources": -1,
                        "duration": "x",
                        "artists": [None, {"name": 3}],
                        "catalog_tracks": [{"id": R1, "album": "x"}, {"album": {"id": R2}}],
                    }
                ],
            }
        ],
        [
            {
                "id": "t",
                "score": 1e300,
                "recordings": [
                    {
                        "id": R1,
                        "catalog_tracks": [
                            {
                                "id": R1,
                                "position": True,
                                "disc_number": -4,
                                "album": {"id": R2, "release_events": "x", "secondary_types": [1]},
                            }
                        ],
                    }
                ],
            }
        ],
    ],
)
def test_hostile_answers_parse_to_typed_values(results: Any) -> None:
    candidates = parse_candidates(results)
    for candidate in candidates:
        assert 0.0 <= candidate.score <= 1.0
        assert all(isinstance(t.album.id, str) for t in candidate.tracks)
        assert all(isinstance(t.number, int | type(None)) for t in candidate.tracks)
    decide_folder(
        [Looked("f", results=results if isinstance(results, list) else [])],
        TagOptions(),
        album=True,
    )


def test_user_metadata_fallback_needs_enough_submissions() -> None:
    answer = [
        {
            "id": "acid",
            "score": 0.97,
            "recordings": [{"title": "Song", "artists": ["Band"], "sources": 4}],
        }
    ]
    plan = decide_folder(
        [Looked("f", results=answer)], TagOptions(user_meta_min_sources=3), album=False
    )[0]
    assert plan.status == "matched"
    assert {c.field: c.after for c in plan.changes} == {
        "title": ("Song",),
        "artist": ("Band",),
        "acoustid_id": ("acid",),
    }
    assert any("mirror" in note for note in plan.notes)
    plan = decide_folder(
        [Looked("f", results=answer)], TagOptions(user_meta_min_sources=5), album=False
    )[0]
    assert plan.status == "no_match"


def test_without_release_data_only_recording_fields_are_written() -> None:
    answer = [
        {"id": "acid", "score": 0.97, "recordings": [{"id": R1, "title": "Song", "sources": 2}]}
    ]
    plan = decide_folder([Looked("f", results=answer)], TagOptions(), album=True)[0]
    assert plan.status == "matched"
    assert {c.field for c in plan.changes} == {"title", "musicbrainz_recordingid", "acoustid_id"}
    assert any("MusicBrainz mirror" in note for note in plan.notes)


def _result(*recordings: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"id": "acid", "score": 0.95, "recordings": list(recordings)}]


def _on(recording: str, album: int, position: int) -> dict[str, Any]:
    album_data = {"id": f"{album:08d}-0000-4000-8000-000000000000", "type": "Album"}
    track_id = f"{album:08d}-{position:04d}-4000-8000-000000000000"
    return {"id": track_id, "position": position, "disc_number": 1, "album": album_data}


def test_album_mode_settles_a_tie_with_the_folders_release() -> None:
    r3 = "33333333-3333-4333-8333-333333333333"
    first = {"id": R1, "sources": 1, "catalog_tracks": [_on(R1, 1, 1)]}
    second = {"id": r3, "sources": 1, "catalog_tracks": [_on(r3, 1, 2)]}
    # The third file's track carries two recordings with one submission each: a tie, but
    # only R2 is on the release holding the folder's other files.
    tied = (
        {"id": R2, "sources": 1, "catalog_tracks": [_on(R2, 1, 3)]},
        {
            "id": "44444444-4444-4444-8444-444444444444",
            "sources": 1,
            "catalog_tracks": [_on("x", 2, 1)],
        },
    )
    files = [
        Looked("1", results=_result(first)),
        Looked("2", results=_result(second)),
        Looked("3", results=_result(*tied)),
    ]
    alone = decide_folder(files, TagOptions(), album=False)
    assert alone[2].status == "ambiguous"
    together = decide_folder(files, TagOptions(), album=True)
    assert together[2].status == "matched"
    assert together[2].recording == R2
    assert {c.field: c.after for c in together[2].changes}["tracknumber"] == ("3",)


def test_the_table_lines_up_and_cuts_long_values() -> None:
    from earmark.library.tagplan import FieldChange, TagPlan

    plan = TagPlan("f.mp3", "matched")
    plan.changes = [FieldChange("title", (), ("New",)), FieldChange("album", ("x" * 300,), ("A",))]
    lines = plan.to_text().splitlines()
    assert lines[0] == "f.mp3"
    assert len({line.index("|") for line in lines[1:]}) == 1
    assert len({line.rindex("|") for line in lines[1:]}) == 1
    assert lines[2] == "  title | -" + " " * 39 + " | New"
    assert "x" * 39 + "…" in lines[3]
    assert TagPlan("g.ogg", "matched").to_text() == "g.ogg\n  unchanged\n"


def test_artist_sorts_come_from_the_catalogs_credits() -> None:
    """Picard's artist sort and album artist sort: sort names with the credit's join phrases,
    from the catalog's track and album credits; the lookup's own credits have none."""
    a, b = "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa", "bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb"
    track = _on(R1, 1, 1)
    track["artists"] = [
        {"id": a, "name": "The Band", "join_phrase": " feat. ", "sort_name": "Band, The"},
        {"id": b, "name": "Ann Other", "join_phrase": "", "sort_name": "Other, Ann"},
    ]
    track["album"]["artists"] = [{"id": a, "name": "The Band", "sort_name": "Band, The"}]
    recording = {"id": R1, "sources": 1, "artists": [{"id": a, "name": "The Band"}]}
    plan = decide_folder(
        [Looked("f", results=_result({**recording, "catalog_tracks": [track]}))],
        TagOptions(),
        album=False,
    )[0]
    after = {c.field: c.after for c in plan.changes}
    assert after["artist"] == ("The Band feat. Ann Other",)
    assert after["artistsort"] == ("Band, The feat. Other, Ann",)
    assert after["albumartistsort"] == ("Band, The",)
    # Without catalog data (no sort names, or one missing) nothing is made up.
    track["artists"][1].pop("sort_name")
    track["album"]["artists"][0]["sort_name"] = {"not": "text"}
    plan = decide_folder(
        [Looked("f", results=_result({**recording, "catalog_tracks": [track]}))],
        TagOptions(),
        album=False,
    )[0]
    assert not {"artistsort", "albumartistsort"} & {c.field for c in plan.changes}
    alone = decide_folder([Looked("f", results=_result(recording))], TagOptions(), album=False)
    assert "artistsort" not in {c.field for c in alone[0].changes}
