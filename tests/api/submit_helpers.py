"""Helpers of the submit tests: fingerprints, form bodies (plain and as pyacoustid sends them)."""

from __future__ import annotations

import gzip
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

import acoustid
import numpy as np
import requests
from httpx import Response

from earmark.chromaprint.codec import encode_fingerprint_base64
from earmark.db import submissions
from earmark.db.submissions import Submission
from tests.api.harness import ApiHarness

FORM = "application/x-www-form-urlencoded"
Pairs = Sequence[tuple[str, Any]]


def items(seed: int, size: int = 120) -> np.ndarray[Any, np.dtype[np.uint32]]:
    """Fingerprint items of a made-up recording: ``size`` random (hence distinct) values, so
    the importer accepts it (≥ 80 unique items) and matches it with nothing else."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 2**32, size=size, dtype=np.uint64).astype(np.uint32)


def fingerprint(seed: int, size: int = 120) -> str:
    return encode_fingerprint_base64(items(seed, size))


def keys(api: ApiHarness) -> list[tuple[str, Any]]:
    return [("client", api.client_key), ("user", api.user_key)]


def one(api: ApiHarness, seed: int = 1, **fields: Any) -> list[tuple[str, Any]]:
    """Keys plus one unsuffixed submission (fingerprint, duration 120, a title) and ``fields``
    (None removes a field)."""
    values: dict[str, Any] = {"fingerprint": fingerprint(seed), "duration": 120, "track": "Song"}
    values.update(fields)
    return keys(api) + [(k, v) for k, v in values.items() if v is not None]


def post(
    api: ApiHarness,
    pairs: Pairs | Mapping[str, Any],
    path: str = "/v2/submit",
    *,
    gzipped: bool = False,
) -> Response:
    """POST ``pairs`` urlencoded (repeated keys kept), optionally gzip-compressed."""
    body = urlencode(list(pairs.items()) if isinstance(pairs, Mapping) else list(pairs))
    data = body.encode("utf-8")
    headers = {"Content-Type": FORM}
    if gzipped:
        data = gzip.compress(data)
        headers["Content-Encoding"] = "gzip"
    return api.client.post(path, content=data, headers=headers)


def post_raw(api: ApiHarness, body: bytes, path: str = "/v2/submit") -> Response:
    return api.client.post(path, content=body, headers={"Content-Type": FORM})


def as_pyacoustid(api: ApiHarness, path: str, params: dict[str, Any]) -> Response:
    """POST ``params`` byte for byte as pyacoustid 1.3 does: requests form-encodes the dict,
    pyacoustid's adapter gzips the body and sets ``Content-Encoding: gzip``."""
    prepared = requests.Request(
        "POST",
        "http://testserver" + path,
        data=params,
        headers={"Accept-Encoding": "gzip", "Content-Type": FORM},
    ).prepare()
    acoustid.CompressedHTTPAdapter().add_headers(prepared)
    assert prepared.headers["Content-Encoding"] == "gzip"
    assert isinstance(prepared.body, bytes)
    return api.client.post(
        path,
        content=prepared.body,
        headers={k: prepared.headers[k] for k in ("Content-Type", "Content-Encoding")},
    )


def pyacoustid_submit_args(api: ApiHarness, data: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The form pyacoustid's ``submit`` builds for ``data`` (its code, repeated here because
    it posts at once): ``field.i`` for each dictionary."""
    args: dict[str, Any] = {"format": "json", "client": api.client_key, "user": api.user_key}
    for i, d in enumerate(data):
        for k, v in d.items():
            args[f"{k}.{i}"] = int(v) if k == "duration" else v
    return args


def error_of(response: Response) -> tuple[int, int, str]:
    body = response.json()
    assert body["status"] == "error", body
    return response.status_code, body["error"]["code"], body["error"]["message"]


def stored(api: ApiHarness, submission_id: int) -> Submission:
    with api.dbs.read() as conns:
        found = submissions.get(conns.ingest, submission_id)
    assert found is not None
    return found


def count_submissions(api: ApiHarness) -> int:
    with api.dbs.read() as conns:
        return sum(submissions.counts_by_status(conns.ingest).values())
