"""The data pages under test: the API (submissions, imports, lookups) and the website over the
same databases, index and MusicBrainz mirror.

Tracks are made the way they are in production: a submission of a real fingerprint (the dev
corpus, or a file fingerprinted here), imported by the importer's decision procedure, indexed.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa

from earmark.db import accounts, tracks
from earmark.db.accounts import Account
from earmark.db.engine import Databases
from earmark.db.tables import track
from tests.api.harness import ApiHarness
from tests.api.lookup_helpers import Song, ok
from tests.musicbrainz.support import Mirror
from tests.web.harness import WebHarness

#: "Moon", the sample recording of mbdata (in every test mirror).
MOON = "7853bd8c-2141-4b4d-9f62-578bab214ab9"
#: An MBID no test mirror holds.
MISSING = "b81f83ee-4da4-11e0-9ed8-0025225356f3"
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def noisy_copy(song: Song, shift: int = 24, noise: float = 0.08, seed: int = 5) -> Song:
    """``song`` from item ``shift`` on with ``noise`` of its bits flipped: the importer keeps it
    as a second fingerprint of the same track (compare2 about 0.83, between the track and the
    fingerprint merge thresholds), found at offset ``-shift``."""
    rng = np.random.default_rng(seed)
    items = song.items[shift:].copy()
    flips = rng.random((items.size, 32)) < noise
    items ^= (flips * (1 << np.arange(32, dtype=np.uint64))).sum(axis=1).astype(np.uint32)
    return Song(items, round(items.size * 0.1238))


@dataclass
class DataSite:
    api: ApiHarness
    web: WebHarness
    mirror: Mirror

    @property
    def dbs(self) -> Databases:
        return self.api.dbs

    def add_track(
        self,
        song: Song,
        mbids: Sequence[str] = (),
        meta: Mapping[str, object] | None = None,
    ) -> uuid.UUID:
        """A track of ``song`` linked to ``mbids`` (one submission per MBID)."""
        return self.api.add_track(
            song.items, song.length, mbids=[uuid.UUID(m) for m in mbids], meta=meta
        )

    def track_id(self, gid: uuid.UUID) -> int:
        with self.dbs.read() as conns:
            found = tracks.get_by_gid(conns.fingerprint, gid)
        assert found is not None
        return found.id

    def merge(self, old: uuid.UUID, into: uuid.UUID) -> None:
        """Mark track ``old`` as merged into ``into`` (what a track merge leaves behind)."""
        with self.dbs.write() as conns:
            conns.fingerprint.execute(
                sa.update(track).where(track.c.gid == old).values(new_id=self.track_id(into))
            )

    def moderator(self, login: str = "curator") -> Account:
        """A signed-in (on ``web.client``) account with the moderator role."""
        created = self.web.create_account(login)
        with self.dbs.write() as conns:
            accounts.set_roles(conns.app, created.id, is_moderator=True)
        self.web.sign_in(login)
        return created

    def lookup_mbids(self, song: Song) -> list[str]:
        """The recording ids a ``/v2/lookup`` answers for ``song`` (its best track)."""
        body = ok(
            self.api,
            {
                "client": self.api.client_key,
                "fingerprint": song.text,
                "duration": song.length,
                "meta": "recordingids",
            },
        )
        results: list[dict[str, Any]] = body["results"]
        assert results, body
        return [r["id"] for r in results[0].get("recordings", [])]


@pytest.fixture
def data_site(dbs: Databases, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[DataSite]:
    """The API and the website over fresh databases (SQLite, PostgreSQL) and the session's
    MusicBrainz mirror on the same engine kind."""
    name = "sqlite_mirror" if dbs.app.dialect.name == "sqlite" else "postgres_mirror"
    mirror: Mirror = request.getfixturevalue(name)
    api = ApiHarness(dbs, tmp_path / "index", mirror.database)
    web = WebHarness(dbs, mirror=mirror.database, searcher=api.searcher)
    yield DataSite(api, web, mirror)
    web.close()
    api.close()
