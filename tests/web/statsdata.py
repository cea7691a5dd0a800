"""A small data set whose /stats figures are known, written through the data functions and
rolled up by the real daily job (:func:`earmark.db.stats.update_stats`).

Four tracks, six fingerprints, fourteen recordings:

- T1: three fingerprints, linked to M1 and M2;
- T2: one fingerprint, linked to M1;
- T3: one fingerprint, its link to M2 disabled (so: no recording);
- T4: one fingerprint, linked to M3..M14 (12 recordings: the "10 or more" bucket), added on
  the second day.

Contributors: the accounts with a source (two of the three). Lookups of one application:
yesterday 7 + 1 hits and 2 misses (two hours), three days ago 5 hits and 5 misses, today 100
hits (not on the chart: today is not over).
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

import numpy as np

from earmark.db import accounts, applications, fingerprints, links, sources, stats, tracks
from earmark.db.engine import Connections, Databases

MBIDS = [uuid.UUID(int=0xE000 + n) for n in range(1, 15)]


@dataclass(frozen=True)
class KnownData:
    today: dt.date
    application_id: int
    track_gids: list[uuid.UUID]


def _track(conns: Connections, fingerprint_count: int, mbids: list[uuid.UUID], seed: int) -> int:
    track = tracks.insert(conns.fingerprint)
    rng = np.random.default_rng(seed)
    for _ in range(fingerprint_count):
        items = rng.integers(0, 2**32, size=200, dtype=np.uint64).astype(np.uint32)
        fingerprints.insert(
            conns.fingerprint,
            items=items.astype(np.int32),
            length=25,
            bitrate=None,
            format_id=None,
            track_id=track.id,
        )
    for mbid in mbids:
        links.add_mbid(conns.fingerprint, track.id, mbid)
    return track.id


def write_known_data(dbs: Databases, today: dt.date) -> KnownData:
    yesterday = today - dt.timedelta(days=1)
    with dbs.write() as conns:
        users = [accounts.create(conns.app, name=f"contributor{n}") for n in range(3)]
        app = applications.create(conns.app, name="Tagger", version="1", account_id=users[0].id)
        for user in users[:2]:
            sources.find_or_insert(
                conns.app, application_id=app.id, account_id=user.id, version="1"
            )
        ids = [
            _track(conns, 3, MBIDS[:2], 1),
            _track(conns, 1, MBIDS[:1], 2),
            _track(conns, 1, [MBIDS[1]], 3),
        ]
        disabled = links.mbid_link(conns.fingerprint, ids[2], MBIDS[1])
        assert disabled is not None
        links.set_mbid_disabled(conns.fingerprint, disabled.id, True)
        stats.add_lookup_counts(
            conns.app,
            [
                stats.LookupCount(app.id, yesterday, 3, hits=7, misses=2),
                stats.LookupCount(app.id, yesterday, 4, hits=1),
                stats.LookupCount(app.id, today - dt.timedelta(days=3), 9, hits=5, misses=5),
                stats.LookupCount(app.id, today, 0, hits=100),
            ],
        )
    with dbs.write() as conns:
        stats.update_stats(conns, yesterday)
    with dbs.write() as conns:
        ids.append(_track(conns, 1, MBIDS[2:], 4))
    with dbs.write() as conns:
        stats.update_stats(conns, today)
    with dbs.read() as conns:
        gids = [t.gid for t in (tracks.get(conns.fingerprint, i) for i in ids) if t is not None]
    return KnownData(today, app.id, gids)
