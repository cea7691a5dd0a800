"""Parsing ``meta`` and the precedence of the metadata modes (acoustid-server.md §3.1, §3.3)."""

from __future__ import annotations

import pytest

from earmark.musicbrainz.flags import Flag, MetaFlags, Mode, parse_meta


@pytest.mark.parametrize(
    ("value", "flags"),
    [
        (None, set()),
        ("", set()),
        ("   ", set()),
        ("0", set()),
        ("1", {Flag.RECORDINGIDS}),
        ("2", {Flag.M2}),
        (" 1 ", {Flag.RECORDINGIDS}),
        ("recordings releasegroups", {Flag.RECORDINGS, Flag.RELEASEGROUPS}),
        ("recordings\treleases\ncompress", {Flag.RECORDINGS, Flag.RELEASES, Flag.COMPRESS}),
        ("m2", {Flag.M2}),
        # Shortcuts only count as the whole value, as in the reference.
        ("1 recordings", {Flag.RECORDINGS}),
        ("0 releases", {Flag.RELEASES}),
    ],
)
def test_parse_meta(value: str | None, flags: set[Flag]) -> None:
    assert parse_meta(value).flags == flags


def test_unknown_words_are_kept_aside() -> None:
    parsed = parse_meta("recordings Recordings bogus")
    assert parsed.flags == {Flag.RECORDINGS}
    assert parsed.ignored == {"Recordings", "bogus"}


@pytest.mark.parametrize(
    ("value", "mode"),
    [
        ("", Mode.NONE),
        ("compress sources tracks usermeta", Mode.NONE),
        ("2 ", Mode.M2),
        ("m2 recordings releases", Mode.M2),
        ("isrcs", Mode.RECORDINGS),
        ("recordingids releasegroups releases", Mode.RECORDINGS),
        ("releasegroups releases", Mode.RELEASE_GROUPS),
        ("releasegroupids", Mode.RELEASE_GROUPS),
        ("releases tracks", Mode.RELEASES),
        ("releaseids", Mode.RELEASES),
    ],
)
def test_mode_precedence(value: str, mode: Mode) -> None:
    assert parse_meta(value).mode is mode


@pytest.mark.parametrize(
    ("value", "needs"),
    [
        ("recordings", False),
        ("isrcs sources", False),
        ("recordings releaseids", True),
        ("recordings releasegroupids", True),
        ("releases", True),
        ("releasegroupids", True),
        ("2", True),
        ("tracks", False),
    ],
)
def test_which_lookups_join_releases(value: str, needs: bool) -> None:
    assert parse_meta(value).needs_releases is needs


def test_flags_support_membership() -> None:
    flags = MetaFlags(frozenset({Flag.SOURCES}))
    assert Flag.SOURCES in flags
    assert Flag.COMPRESS not in flags
