"""What ``/v2/submit`` stores and answers (reference §4.2), and the legacy ``/submit`` (§5.8)."""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET

import numpy as np
import pytest

from earmark.db import submissions
from earmark.db.meta import gid_of
from earmark.db.types import as_int32
from tests.api.harness import ApiHarness
from tests.api.submit_helpers import (
    as_pyacoustid,
    count_submissions,
    error_of,
    fingerprint,
    items,
    keys,
    one,
    post,
    pyacoustid_submit_args,
    stored,
)

MBIDS = [uuid.UUID(int=n + 1, version=4) for n in range(3)]
PUID = uuid.UUID("6d7b7cd4-254b-4c25-83f6-dd20f98ceacd")


def pending(api: ApiHarness) -> list[int]:
    with api.dbs.read() as conns:
        return submissions.pending_ids(conns.ingest, older_than=None, limit=10_000)


def test_one_submission_is_stored_with_every_field(api: ApiHarness) -> None:
    pairs = [
        *keys(api),
        ("clientversion", "2.5"),
        ("fingerprint", fingerprint(11)),
        ("duration", "213"),
        ("bitrate", "192"),
        ("fileformat", "FLAC"),
        ("puid", str(PUID)),
        ("foreignid", "spotify:4uLU6hMCjMI75M1A2tKUQC"),
        ("track", "Song"),
        ("artist", "Band"),
        ("album", "Record"),
        ("albumartist", "Various"),
        ("trackno", "3"),
        ("discno", "2"),
        ("year", "1999"),
    ]
    response = post(api, pairs)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json; charset=UTF-8"
    body = response.json()
    [entry] = body["submissions"]
    assert body == {"status": "ok", "submissions": [{"id": entry["id"], "status": "pending"}]}
    assert isinstance(entry["id"], int)
    row = stored(api, entry["id"])
    np.testing.assert_array_equal(row.fingerprint, as_int32(items(11)))
    assert (row.length, row.bitrate, row.format) == (213, 192, "FLAC")
    assert (row.account_id, row.application_id) == (api.account_id, api.application_id)
    assert row.application_version == "2.5"
    assert (row.mbid, row.puid, row.foreignid) == (None, PUID, "spotify:4uLU6hMCjMI75M1A2tKUQC")
    expected_meta = {
        "track": "Song",
        "artist": "Band",
        "album": "Record",
        "album_artist": "Various",
        "track_no": 3,
        "disc_no": 2,
        "year": 1999,
    }
    assert row.meta == expected_meta
    assert row.meta_gid == gid_of(expected_meta)
    assert (row.status, row.handled) == ("pending", False)
    assert pending(api) == [entry["id"]]


def test_k_mbids_make_k_rows_with_the_same_index(api: ApiHarness) -> None:
    pairs = [
        *keys(api),
        ("fingerprint.4", fingerprint(1)),
        ("duration.4", "100"),
        ("puid.4", str(PUID)),
        ("fileformat.4", "MP3"),
        *[("mbid.4", str(m)) for m in MBIDS],
        ("fingerprint.5", fingerprint(2)),
        ("duration.5", "200"),
        ("mbid.5", str(MBIDS[0]).upper()),
    ]
    entries = post(api, pairs).json()["submissions"]
    assert [(e["index"], e["status"]) for e in entries] == [("4", "pending")] * 3 + [
        ("5", "pending")
    ]
    rows = [stored(api, e["id"]) for e in entries]
    assert [r.mbid for r in rows] == [*MBIDS, MBIDS[0]]
    assert all(r.puid == PUID and r.format == "MP3" and r.length == 100 for r in rows[:3])
    assert (rows[3].puid, rows[3].length, rows[3].format) == (None, 200, None)
    assert len({e["id"] for e in entries}) == 4
    assert sorted(pending(api)) == sorted(e["id"] for e in entries)


def test_metadata_is_normalised(api: ApiHarness) -> None:
    fields = {
        "track": "  foo ",
        "artist": "A\x00\x00B\t\n C",
        "album": "x\x01y\x7fz",
        "albumartist": " \x00 ",
        "trackno": "10001",
        "discno": "0",
        "year": "-5",
    }
    [entry] = post(api, one(api, **fields)).json()["submissions"]
    row = stored(api, entry["id"])
    assert row.meta == {"track": "foo", "artist": "A B C", "album": "x y z", "year": -5}
    # The gid is the reference's for the same metadata (§9.3.8 vector for {"track":"foo"}).
    [plain] = post(api, one(api, seed=2, track=" foo\x00")).json()["submissions"]
    assert stored(api, plain["id"]).meta_gid == uuid.UUID("454238f5-bceb-53c9-8a2c-029e79b86e26")


# Which rows are kept (Earmark keeps foreign-id-only rows: §17 quirk 4 fixed).
KEEP_CASES: list[tuple[str, dict[str, str], bool]] = [
    ("nothing to link", {}, False),
    ("only the nil mbid", {"mbid": str(uuid.UUID(int=0))}, False),
    ("only the nil puid", {"puid": str(uuid.UUID(int=0))}, False),
    ("only blank text", {"track": " \t ", "artist": "\x00"}, False),
    ("only a zero track number", {"trackno": "0"}, False),
    ("only a bitrate and format", {"bitrate": "128", "fileformat": "MP3"}, False),
    ("an mbid", {"mbid": str(MBIDS[0])}, True),
    ("a puid", {"puid": str(PUID)}, True),
    ("a title", {"track": "x"}, True),
    ("a year", {"year": "2001"}, True),
    ("a foreign id alone", {"foreignid": "youtube:dQw4w9WgXcQ"}, True),
]


@pytest.mark.parametrize(
    ("fields", "kept"), [pytest.param(f, k, id=case) for case, f, k in KEEP_CASES]
)
def test_rows_without_link_data_are_skipped(
    api: ApiHarness, fields: dict[str, str], kept: bool
) -> None:
    pairs = [*keys(api), ("fingerprint.0", fingerprint(1)), ("duration.0", "100")]
    pairs += [(k + ".0", v) for k, v in fields.items()]
    pairs += [("fingerprint.1", fingerprint(2)), ("duration.1", "100"), ("track.1", "other")]
    body = post(api, pairs).json()
    assert body["status"] == "ok"
    assert [e["index"] for e in body["submissions"]] == (["0", "1"] if kept else ["1"])
    assert count_submissions(api) == (2 if kept else 1)


def test_nothing_to_store_answers_an_empty_list(api: ApiHarness) -> None:
    pairs = [*keys(api), ("fingerprint", fingerprint(1)), ("duration", "100")]
    assert post(api, pairs).json() == {"status": "ok", "submissions": []}
    assert count_submissions(api) == 0


def test_xml_and_jsonp_shapes(api: ApiHarness) -> None:
    pairs = [
        *keys(api),
        ("format", "xml"),
        ("fingerprint.0", fingerprint(1)),
        ("duration.0", "100"),
        *[("mbid.0", str(m)) for m in MBIDS[:2]],
    ]
    response = post(api, pairs)
    assert response.headers["content-type"] == "text/xml; charset=UTF-8"
    root = ET.fromstring(response.content)
    assert root.findtext("status") == "ok"
    subs = root.findall("submissions/submission")
    assert [(s.findtext("index"), s.findtext("status")) for s in subs] == [("0", "pending")] * 2
    assert all(stored(api, int(s.findtext("id") or "")).mbid in MBIDS for s in subs)

    jsonp = post(api, [*one(api, seed=3), ("format", "jsonp"), ("jsoncallback", "cb")])
    assert jsonp.headers["content-type"] == "application/javascript; charset=UTF-8"
    assert jsonp.text.startswith('cb({"status": "ok", "submissions": [{"id": ')


def test_gzip_form_body(api: ApiHarness) -> None:
    body = post(api, one(api, mbid=str(MBIDS[1])), gzipped=True).json()
    [entry] = body["submissions"]
    assert stored(api, entry["id"]).mbid == MBIDS[1]


def test_pyacoustid_wire_format(api: ApiHarness) -> None:
    data = [
        {"fingerprint": fingerprint(1), "duration": 187.6, "mbid": str(MBIDS[0]), "bitrate": 320},
        {
            "fingerprint": fingerprint(2),
            "duration": 99,
            "track": "Tïtle ☃",
            "artist": "Ärtist",
            "album": "Album",
            "albumartist": "AA",
            "year": 2004,
            "trackno": 7,
            "discno": 1,
            "fileformat": "Ogg Vorbis",
        },
    ]
    response = as_pyacoustid(api, "/v2/submit", pyacoustid_submit_args(api, data))
    body = response.json()
    assert body["status"] == "ok", body
    assert [e["index"] for e in body["submissions"]] == ["0", "1"]
    first, second = (stored(api, e["id"]) for e in body["submissions"])
    assert (first.mbid, first.length, first.bitrate) == (MBIDS[0], 187, 320)
    assert second.format == "Ogg Vorbis"
    assert second.meta == {
        "track": "Tïtle ☃",
        "artist": "Ärtist",
        "album": "Album",
        "album_artist": "AA",
        "track_no": 7,
        "disc_no": 1,
        "year": 2004,
    }
    status = as_pyacoustid(
        api,
        "/v2/submission_status",
        {"format": "json", "client": api.client_key, "id": body["submissions"][0]["id"]},
    ).json()
    assert status == {
        "status": "ok",
        "submissions": [{"id": body["submissions"][0]["id"], "status": "pending"}],
    }


def test_submissions_are_counted_in_the_metrics(api: ApiHarness) -> None:
    registry = api.services.metrics.registry

    def total() -> float:
        return registry.get_sample_value("earmark_api_submissions_total") or 0.0

    before = total()
    pairs = one(api) + [("mbid", str(m)) for m in MBIDS]
    post(api, pairs)
    post(api, [*keys(api), ("fingerprint", fingerprint(1)), ("duration", "9")])  # nothing kept
    assert total() - before == 3


# Legacy v1 /submit (§5.8): `length.N`, `format.N`, always XML.


def test_v1_submit_stores_and_answers_xml(api: ApiHarness) -> None:
    pairs = [
        *keys(api),
        ("format", "json"),  # ignored by v1 as an output format
        ("fingerprint.0", fingerprint(1)),
        ("length.0", "245"),
        ("format.0", "MP3"),
        ("mbid.0", str(MBIDS[0])),
        ("fingerprint", fingerprint(2)),
        ("length", "12"),
        ("track", "t"),
    ]
    response = post(api, pairs, "/submit")
    assert response.headers["content-type"] == "text/xml; charset=UTF-8"
    root = ET.fromstring(response.content)
    assert root.tag == "response"
    assert root.findtext("status") == "ok"
    subs = root.findall("submissions/submission")
    assert [(s.findtext("index"), s.findtext("status")) for s in subs] == [
        (None, "pending"),
        ("0", "pending"),
    ]
    unsuffixed, suffixed = (stored(api, int(s.findtext("id") or "")) for s in subs)
    assert (unsuffixed.length, unsuffixed.format, unsuffixed.meta) == (12, "json", {"track": "t"})
    assert (suffixed.length, suffixed.format, suffixed.mbid) == (245, "MP3", MBIDS[0])


@pytest.mark.parametrize("length", [None, "", "0", "-3", "32768", "12.5", "x", "9" * 5000])
def test_v1_bad_length_is_error_2(api: ApiHarness, length: str | None) -> None:
    pairs = [*keys(api), ("fingerprint.0", fingerprint(1)), ("duration.0", "100")]
    if length is not None:
        pairs.append(("length.0", length))
    response = post(api, pairs, "/submit")
    assert response.status_code == 400
    root = ET.fromstring(response.content)
    assert root.findtext("status") == "error"
    assert root.findtext("error/code") == "2"
    assert root.findtext("error/message") == 'missing required parameter "length.0"'


def test_v1_other_errors_are_xml_too(api: ApiHarness) -> None:
    response = post(api, [("fingerprint", fingerprint(1)), ("length", "10")], "/submit")
    root = ET.fromstring(response.content)
    assert (root.findtext("error/code"), root.findtext("status")) == ("2", "error")
    assert root.findtext("error/message") == 'missing required parameter "client"'
    bad_fp = [*keys(api), ("fingerprint", "@@"), ("length", "10"), ("mbid", "nope")]
    assert ET.fromstring(post(api, bad_fp, "/submit").content).findtext("error/code") == "7"


def test_json_error_envelope(api: ApiHarness) -> None:
    assert error_of(post(api, one(api, duration="0"))) == (
        400,
        8,
        'parameter "duration" must be a positive integer',
    )
