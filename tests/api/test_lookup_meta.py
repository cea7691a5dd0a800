"""``/v2/lookup`` with ``meta`` on a MusicBrainz mirror, end to end, and the legacy ``/lookup``.

The catalogue reproduces the requests of the golden lookups (tests/musicbrainz/cases.py) with
real fingerprints, submissions and imports: each golden result becomes an Earmark track linked
to the same MBIDs the same number of times, so a batch lookup must answer exactly what the
golden files (reviewed against reference §3.3) say, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pytest

from earmark.chromaprint.codec import encode_fingerprint_base64
from earmark.db.meta import UserMeta
from earmark.musicbrainz.enrich import ResultLinks
from tests.api.harness import ApiHarness
from tests.api.lookup_helpers import Song, error_of, ok, post, song
from tests.musicbrainz.cases import (
    MISSING,
    MOON,
    SAMPLE_META,
    SAMPLE_REQUEST,
    USERMETA_META,
    USERMETA_REQUEST,
    golden_name,
)
from tests.musicbrainz.support import Mirror, golden

#: One unrelated real song per golden result (compare2 between any two is 0).
CORPUS = [
    "supertux/antarctic/arctic_breeze#120",
    "supertux/antarctic/bossattack#120",
    "supertux/antarctic/chipdisko#120",
    "supertux/antarctic/jewels#120",
    "supertux/antarctic/salcon#120",
]


@dataclass(frozen=True)
class Entry:
    song: Song
    gid: uuid.UUID


@pytest.fixture
def mirror_data(api_mb: ApiHarness, request: pytest.FixtureRequest) -> Mirror:
    """The mirror behind ``api_mb`` (its synthetic data names the planted MBIDs)."""
    name = "sqlite_mirror" if api_mb.dbs.app.dialect.name == "sqlite" else "postgres_mirror"
    found: Mirror = request.getfixturevalue(name)
    return found


def _meta_dict(meta: UserMeta) -> dict[str, object]:
    return {k: v for k, v in dataclasses.asdict(meta).items() if v is not None}


def build(
    api: ApiHarness, vectors: Any, requests: Sequence[tuple[str, float, ResultLinks]]
) -> list[Entry]:
    """One track per golden request: one submission per link source (and per user-meta row),
    imported; an empty request becomes a track linked to a PUID only (a submission with no
    link at all is not imported), which lookups never show."""
    songs = [song(vectors, name) for name in CORPUS[: len(requests)]]
    submissions: list[tuple[Song, uuid.UUID | None, Mapping[str, object] | None]] = []
    puids = []
    for fingerprint, (_name, _score, links) in zip(songs, requests, strict=True):
        metas = [_meta_dict(m) for m in links.user_meta]
        for link in links.mbids:
            for _ in range(link.submission_count):
                submissions.append((fingerprint, link.mbid, metas.pop(0) if metas else None))
        submissions += [(fingerprint, None, meta) for meta in metas]
        if not links.mbids and not links.user_meta:
            puids.append(fingerprint)
    for fingerprint, mbid, meta in submissions:
        api.submit(fingerprint.items, fingerprint.length, mbid=mbid, meta=meta)
    for fingerprint in puids:
        api.submit(fingerprint.items, fingerprint.length, puid=uuid.uuid4())
    outcomes = api.import_pending()
    assert all(o.track_id is not None for o in outcomes), outcomes
    # Each song's first submission created its track; ask the service for the gid.
    entries = []
    for fingerprint in songs:
        body = ok(
            api,
            {
                "client": api.client_key,
                "fingerprint": fingerprint.text,
                "duration": fingerprint.length,
            },
        )
        [result] = body["results"]
        entries.append(Entry(fingerprint, uuid.UUID(result["id"])))
    assert len({e.gid for e in entries}) == len(entries)
    return entries


def batch(api: ApiHarness, entries: Sequence[Entry], meta: str) -> list[Any]:
    params: list[tuple[str, Any]] = [("client", api.client_key), ("batch", "1"), ("meta", meta)]
    for i, entry in enumerate(entries):
        params += [(f"fingerprint.{i}", entry.song.text), (f"duration.{i}", entry.song.length)]
    body = ok(api, params)
    assert [f["index"] for f in body["fingerprints"]] == list(range(len(entries)))
    results = []
    for entry, answer in zip(entries, body["fingerprints"], strict=True):
        [result] = answer["results"]
        assert (result["id"], result["score"]) == (str(entry.gid), 1.0)
        results.append(result)
    return results


def _metadata(result: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in result.items() if k not in ("id", "score")}


def test_every_meta_value_matches_the_golden_lookups(
    api_mb: ApiHarness, dev_corpus_vectors: Any
) -> None:
    entries = build(api_mb, dev_corpus_vectors, SAMPLE_REQUEST)
    api_mb.counters.missing_mbids.take(1000)
    for meta in SAMPLE_META:
        expected = golden(golden_name("sample", meta))
        found = batch(api_mb, entries, meta)
        assert [_metadata(r) for r in found] == [_metadata(r) for r in expected], meta
        # The MBID MusicBrainz does not know is reported for the cron.
        assert api_mb.counters.missing_mbids.take(1000) == [MISSING], meta


def test_user_metadata_matches_the_golden_lookups(
    api_mb: ApiHarness, dev_corpus_vectors: Any
) -> None:
    entries = build(api_mb, dev_corpus_vectors, USERMETA_REQUEST)
    for meta in USERMETA_META:
        expected = golden(golden_name("usermeta", meta))
        found = batch(api_mb, entries, meta)
        assert [_metadata(r) for r in found] == [_metadata(r) for r in expected], meta


def test_single_lookup_with_recordings_and_release_groups(
    api_mb: ApiHarness, dev_corpus_vectors: Any
) -> None:
    """The benchmark's request (``meta=recordings releasegroups``), non-batch, form-encoded
    with ``+`` as the separator as pyacoustid sends it."""
    entries = build(api_mb, dev_corpus_vectors, SAMPLE_REQUEST[:1])
    moon = entries[0]
    response = api_mb.client.post(
        "/v2/lookup",
        content=(
            f"client={api_mb.client_key}&meta=recordings+releasegroups&duration="
            f"{moon.song.length}&fingerprint={moon.song.text}"
        ),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    [result] = response.json()["results"]
    expected = golden(golden_name("sample", "recordings releasegroups"))[0]
    assert _metadata(result) == _metadata(expected)
    assert result["recordings"][0]["id"] == MOON


def test_redirected_and_unknown_mbids_are_reported(
    api_mb: ApiHarness, mirror_data: Mirror, dev_corpus_vectors: Any
) -> None:
    old, new = next(iter(mirror_data.synthetic.redirects.items()))
    unknown = mirror_data.synthetic.unknown[0]
    known = mirror_data.synthetic.recordings[0]
    breeze = song(dev_corpus_vectors, CORPUS[0])
    gid = api_mb.add_track(
        breeze.items, breeze.length, mbids=[uuid.UUID(m) for m in (old, unknown, known)]
    )
    query = {"client": api_mb.client_key, "fingerprint": breeze.text, "duration": breeze.length}
    # No metadata asked: MusicBrainz is not read, nothing is reported.
    assert ok(api_mb, query)["results"] == [{"id": str(gid), "score": 1.0}]
    assert api_mb.counters.missing_mbids.take(100) == []
    body = ok(api_mb, {**query, "meta": "recordingids"})
    ids = [r["id"] for r in body["results"][0]["recordings"]]
    # The redirect is answered with the MBID it was merged into.
    assert ids == sorted([new, unknown, known])
    assert api_mb.counters.missing_mbids.take(100) == sorted([old, unknown])


def test_disabled_links_are_not_shown(api_mb: ApiHarness, dev_corpus_vectors: Any) -> None:
    from earmark.db import links, tracks

    breeze = song(dev_corpus_vectors, CORPUS[0])
    gid = api_mb.add_track(breeze.items, breeze.length, mbids=[uuid.UUID(MOON), uuid.UUID(MISSING)])
    with api_mb.dbs.write() as conns:
        track = tracks.get_by_gid(conns.fingerprint, gid)
        assert track is not None
        link = links.mbid_link(conns.fingerprint, track.id, uuid.UUID(MISSING))
        assert link is not None
        links.set_mbid_disabled(conns.fingerprint, link.id, True)
    body = ok(
        api_mb,
        {
            "client": api_mb.client_key,
            "fingerprint": breeze.text,
            "duration": breeze.length,
            "meta": "1",
        },
    )
    assert body["results"][0]["recordings"] == [{"id": MOON}]


# Legacy v1 /lookup (reference §5.8).


def _moon(api: ApiHarness, vectors: Any) -> Entry:
    return build(api, vectors, SAMPLE_REQUEST[:1])[0]


XML_DECLARATION = b"<?xml version='1.0' encoding='UTF-8'?>\n"


def test_v1_lookup_is_xml_with_tracks(api_mb: ApiHarness, dev_corpus_vectors: Any) -> None:
    moon = _moon(api_mb, dev_corpus_vectors)
    params = {
        "client": api_mb.client_key,
        "fingerprint": moon.song.text,
        "length": moon.song.length,
        "meta": "1",
        "format": "json",  # ignored
    }
    response = post(api_mb, params, "/lookup")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/xml; charset=UTF-8"
    first, second = sorted([MOON, MISSING])
    assert response.content == (
        XML_DECLARATION + b"<response><results><result><id>" + str(moon.gid).encode() + b"</id>"
        b"<score>1.0</score><tracks><track><id>" + first.encode() + b"</id></track>"
        b"<track><id>" + second.encode() + b"</id></track></tracks></result></results>"
        b"<status>ok</status></response>"
    )
    # Any non-empty meta other than 0 means the MBIDs only.
    for meta in ("recordings releasegroups", "2", "anything"):
        assert post(api_mb, {**params, "meta": meta}, "/lookup").content == response.content, meta
    for meta in ("0", "", " "):
        plain = post(api_mb, {**params, "meta": meta}, "/lookup").content
        assert b"<tracks>" not in plain, meta
        assert b"<score>1.0</score>" in plain, meta


def test_v1_lookup_uses_length_not_duration(api_mb: ApiHarness, dev_corpus_vectors: Any) -> None:
    moon = _moon(api_mb, dev_corpus_vectors)
    response = post(
        api_mb,
        {"client": api_mb.client_key, "fingerprint": moon.song.text, "duration": moon.song.length},
        "/lookup",
    )
    assert response.status_code == 400
    assert response.content == (
        XML_DECLARATION + b"<response><error><code>2</code><message>missing required parameter "
        b'"length"</message></error><status>error</status></response>'
    )
    batch_response = post(
        api_mb,
        {
            "client": api_mb.client_key,
            "batch": "1",
            "fingerprint.3": moon.song.text,
            "length.3": moon.song.length,
            "meta": "1",
        },
        "/lookup",
    )
    assert batch_response.content.startswith(
        XML_DECLARATION + b"<response><fingerprints><fingerprint><index>3</index><results>"
        b"<result><id>" + str(moon.gid).encode() + b"</id><score>1.0</score><tracks><track>"
    )


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, (2, 'missing required parameter "client"')),
        ({"client": "nope"}, (4, "invalid API key")),
        ({"client": "$client", "fingerprint": "!!", "length": "9"}, (3, "invalid fingerprint")),
        (
            {"client": "$client", "maxdurationdiff": "50"},
            (11, 'parameter "maxdurationdiff" must be between 1 and 30'),
        ),
    ],
)
def test_v1_lookup_errors_are_xml(
    api_mb: ApiHarness, params: dict[str, str], expected: tuple[int, str]
) -> None:
    filled = {k: api_mb.client_key if v == "$client" else v for k, v in params.items()}
    response = post(api_mb, filled, "/lookup")
    assert response.status_code == 400
    code, message = expected
    assert response.content == (
        XML_DECLARATION
        + b"<response><error><code>"
        + str(code).encode()
        + b"</code><message>"
        + message.encode()
        + b"</message></error><status>error</status></response>"
    )


def test_v1_and_v2_agree_on_the_ids(api_mb: ApiHarness, dev_corpus_vectors: Any) -> None:
    moon = _moon(api_mb, dev_corpus_vectors)
    text = encode_fingerprint_base64(moon.song.items)
    v2 = ok(
        api_mb,
        {
            "client": api_mb.client_key,
            "fingerprint": text,
            "duration": moon.song.length,
            "meta": "recordingids",
        },
    )
    v1 = post(
        api_mb,
        {
            "client": api_mb.client_key,
            "fingerprint": text,
            "length": moon.song.length,
            "meta": "1",
            "format": "xml",
        },
        "/lookup",
    )
    ids = [r["id"] for r in v2["results"][0]["recordings"]]
    assert all(f"<track><id>{i}</id></track>".encode() in v1.content for i in ids)
    assert error_of(post(api_mb, {"client": api_mb.client_key}))[1] == 2
