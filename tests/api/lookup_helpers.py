"""Helpers of the lookup tests: a small catalogue of real fingerprints and request helpers."""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import numpy as np
import numpy.typing as npt

from earmark.chromaprint.codec import encode_fingerprint_base64
from tests.api.harness import ApiHarness
from tests.importer.harness import corpus_items

Items = npt.NDArray[np.uint32]
Pairs = Sequence[tuple[str, Any]] | Mapping[str, Any]

#: Three unrelated songs of the dev corpus (compare2 between any two is 0).
SONGS = {
    "breeze": "supertux/antarctic/arctic_breeze#120",
    "boss": "supertux/antarctic/bossattack#120",
    "disko": "supertux/antarctic/chipdisko#120",
}
#: The same song as "night", re-encoded (distorted), for fuzzy matches.
NIGHT = "supertux/antarctic/voc-night#120"
NIGHT_MP3 = "supertux/antarctic/voc-night#whole-mp3_64k"


@dataclass(frozen=True)
class Song:
    items: Items
    #: Whole seconds, from the item count (0.1238 s per item).
    length: int

    @property
    def text(self) -> str:
        return encode_fingerprint_base64(self.items)


def song(vectors: Any, name: str) -> Song:
    items = corpus_items(vectors, name)
    return Song(items, round(items.size * 0.1238))


def load_songs(vectors: Any) -> dict[str, Song]:
    """The three unrelated songs, plus "night" and its distorted copy "night_mp3"."""
    found = {key: song(vectors, name) for key, name in SONGS.items()}
    found["night"] = song(vectors, NIGHT)
    found["night_mp3"] = song(vectors, NIGHT_MP3)
    return found


def post(api: ApiHarness, params: Pairs, path: str = "/v2/lookup") -> Any:
    """POST ``params`` urlencoded (repeated and ordered keys kept)."""
    items = list(params.items()) if isinstance(params, Mapping) else list(params)
    return api.client.post(
        path,
        content=urlencode(items),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )


def ok(api: ApiHarness, params: Pairs, path: str = "/v2/lookup") -> Any:
    response = post(api, params, path)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ok", body
    return body


def error_of(response: Any) -> tuple[int, int, str]:
    body = response.json()
    assert body["status"] == "error", body
    return response.status_code, body["error"]["code"], body["error"]["message"]


def lookup_counts(api: ApiHarness) -> tuple[int, int]:
    """(hits, misses) counted since the last call (the counters are drained)."""
    counters = api.counters.counters
    hits = misses = 0
    for batch in counters.claim_lookups():
        for key, count in batch.counts.items():
            if key.hit:
                hits += count
            else:
                misses += count
        counters.release(batch)
    return hits, misses


def user_agent_requests(api: ApiHarness) -> int:
    counters = api.counters.counters
    total = 0
    for batch in counters.claim_user_agents():
        total += sum(batch.counts.values())
        counters.release(batch)
    return total


def raw_fingerprint(data: bytes) -> str:
    """Chromaprint's text form of arbitrary bytes (for hand-made headers)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")
