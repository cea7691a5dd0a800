"""Applying one day of the public data: upserts in dependency order through the id map.

Per day, in one transaction: tracks (and their merges), fingerprints with their
track_fingerprint rows, meta, then the MBID, PUID and meta links; rows that need a row not seen
yet wait in ``opendata_parked`` and are applied when it arrives. A row whose digest equals the
one recorded in the id map is skipped, so a day applied twice changes nothing.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from earmark.db import opendata as db
from earmark.db.tables import (
    fingerprint,
    meta,
    track,
    track_mbid,
    track_meta,
    track_puid,
)
from earmark.opendata.report import DataImportReport
from earmark.opendata.rows import Row, RowError, parse_row

#: Meta rows have no public gid upstream; Earmark's are derived from the upstream id.
META_NAMESPACE = uuid.UUID("4d0c8e7e-5e5c-4c4e-9f43-2c5b8f0a6a11")
#: The id map's digest of a merged track whose survivor has not arrived: never equal to a
#: real digest, so the row is applied again (and merged) when it is revived.
MERGE_PENDING = "merge-pending"

_LINKS: dict[str, tuple[sa.Table, str]] = {
    "track_mbid": (track_mbid, "mbid"),
    "track_puid": (track_puid, "puid"),
    "track_meta": (track_meta, "meta_id"),
}
Rows = dict[int, Row]


def _stamp(row: Row) -> tuple[str, str]:
    return (str(row.raw.get("updated", "")), str(row.raw.get("created", "")))


def keep_later(found: Rows, row: Row, where: str, report: DataImportReport) -> None:
    """Add ``row`` to ``found``; an id seen before with other content is a problem (the later
    ``updated``/``created`` wins, then the later row in the file)."""
    prior = found.get(row.id)
    if prior is not None and prior.digest != row.digest:
        report.problem("duplicate-id", f"{where}: id {row.id}")
        if _stamp(prior) > _stamp(row):
            return
    found[row.id] = row


class DayApplier:
    """Applies the rows of one day inside the caller's transaction."""

    def __init__(
        self, conn: Connection, provenance: str, day: dt.date, report: DataImportReport
    ) -> None:
        self.conn = conn
        self.provenance = provenance
        self.day = day
        self.start = dt.datetime.combine(day, dt.time(), dt.UTC)
        self.report = report
        self.to_park: list[db.Parked] = []
        self.revived: dict[str, Rows] = defaultdict(dict)
        self._tracks: dict[int, int] = {}

    # --- helpers ----------------------------------------------------------------------------

    def park(self, stream: str, row: Row, waits_for: str) -> None:
        body = json.dumps(row.raw, separators=(",", ":"))
        self.to_park.append(db.Parked(stream, row.id, waits_for, self.day, body))

    def revive(self, parked: Iterable[db.Parked]) -> None:
        for entry in parked:
            try:
                row = parse_row(entry.stream, json.loads(entry.body))
            except (RowError, ValueError):  # parked rows were valid when parked
                continue
            self.revived[entry.stream].setdefault(row.id, row)

    def _take_revived(self, stream: str, rows: Rows) -> Rows:
        return {**self.revived.pop(stream, {}), **rows}

    def resolve_tracks(self, upstream_ids: Iterable[int]) -> dict[int, int]:
        """upstream track id → the local track it is now (merges followed)."""
        wanted = {i for i in upstream_ids if i not in self._tracks}
        if wanted:
            local = db.mapped(self.conn, self.provenance, "track", wanted)
            survivors = db.survivors(self.conn, [v.local_id for v in local.values()])
            for upstream, entry in local.items():
                if entry.local_id in survivors:
                    self._tracks[upstream] = survivors[entry.local_id]
        return {i: self._tracks[i] for i in upstream_ids if i in self._tracks}

    def _created(self, row: Row) -> dt.datetime:
        value = row.values.get("created")
        return value if isinstance(value, dt.datetime) else self.start

    def _release(self, kind: str, ids: Iterable[int]) -> None:
        self.revive(db.take_waiting(self.conn, self.provenance, [f"{kind}:{i}" for i in ids]))

    # --- streams ----------------------------------------------------------------------------

    def tracks(self, rows: Rows) -> None:
        rows = self._take_revived("track", rows)
        known = db.mapped(self.conn, self.provenance, "track", rows)
        fresh: list[Row] = []
        mapping: dict[int, db.Mapped] = {}
        updates: list[dict[str, Any]] = []
        for row in rows.values():
            seen = known.get(row.id)
            if _unchanged(seen, row):
                self.report.unchanged["track"] += 1
            elif seen is None:
                fresh.append(row)
            else:
                mapping[row.id] = _entry(seen.local_id, row)
                updates.append({"_id": seen.local_id, "updated": row.values["updated"]})
        existing = self._tracks_by_gid([row.values["gid"] for row in fresh])
        inserts = [row for row in fresh if row.values["gid"] not in existing]
        new_ids = db.insert_many(
            self.conn,
            track,
            [
                {
                    "gid": r.values["gid"],
                    "created": self._created(r),
                    "updated": r.values["updated"],
                }
                for r in inserts
            ],
        )
        mapping.update((r.id, _entry(i, r)) for r, i in zip(inserts, new_ids, strict=True))
        mapping.update(
            (r.id, _entry(existing[r.values["gid"]], r)) for r in fresh if r.id not in mapping
        )
        db.update_many(self.conn, track, updates, ["updated"])
        for row in rows.values():
            target = row.values["new_id"]
            if row.id in mapping and target is not None:
                survivor = self.resolve_tracks([target]).get(target)
                if survivor is None:
                    self.report.problem("merge-unknown", f"track {row.id} into {target}")
                    mapping[row.id] = db.Mapped(mapping[row.id].local_id, MERGE_PENDING)
                    self.park("track", row, f"track:{target}")
                else:
                    db.merge_tracks(
                        self.conn, mapping[row.id].local_id, survivor, row.values["updated"]
                    )
                    self._tracks.clear()
        db.set_mapped(self.conn, self.provenance, "track", mapping)
        self.report.applied["track"] += len(mapping)
        self._release("track", mapping)
        if self.revived.get("track"):  # merges that waited for one of these tracks
            self.tracks({})

    def _tracks_by_gid(self, gids: Sequence[uuid.UUID]) -> dict[uuid.UUID, int]:
        found: dict[uuid.UUID, int] = {}
        for part in db.chunked(gids):
            rows = self.conn.execute(
                sa.select(track.c.gid, track.c.id).where(track.c.gid.in_(part))
            )
            found.update((r.gid, r.id) for r in rows)
        return found

    def fingerprints(self, fp_rows: Rows, tf_rows: Rows) -> None:
        fps = self._take_revived("fingerprint", {})
        tfs = self._take_revived("track_fingerprint", {})
        ids = set(fp_rows) | set(tf_rows) | set(fps) | set(tfs)
        self.revive(
            db.take_rows(self.conn, self.provenance, ["fingerprint", "track_fingerprint"], ids)
        )
        fps = {**fps, **self.revived.pop("fingerprint", {}), **fp_rows}
        tfs = {**tfs, **self.revived.pop("track_fingerprint", {}), **tf_rows}
        ids = set(fps) | set(tfs)
        known = db.mapped(self.conn, self.provenance, "fingerprint", ids)
        known_tf = db.mapped(self.conn, self.provenance, "track_fingerprint", ids)
        tracks = self.resolve_tracks({tf.values["track_id"] for tf in tfs.values()})
        fp_map: dict[int, db.Mapped] = {}
        tf_map: dict[int, db.Mapped] = {}
        fp_updates: list[dict[str, Any]] = []
        tf_updates: list[dict[str, Any]] = []
        inserts: list[tuple[Row, Row, int]] = []
        for fp_id in sorted(ids):
            fp, tf = fps.get(fp_id), tfs.get(fp_id)
            seen = known.get(fp_id)
            track_id = tracks.get(tf.values["track_id"]) if tf is not None else None
            if seen is not None:
                if fp is not None and _unchanged(seen, fp):
                    self.report.unchanged["fingerprint"] += 1
                elif fp is not None:
                    self.report.problem("changed-content", f"fingerprint {fp_id}")
                    fp_updates.append({"_id": seen.local_id, **_fp_values(fp)})
                    fp_map[fp_id] = _entry(seen.local_id, fp)
                if tf is None:
                    continue
                if _unchanged(known_tf.get(fp_id), tf):
                    self.report.unchanged["track_fingerprint"] += 1
                elif track_id is None:
                    self.park("track_fingerprint", tf, f"track:{tf.values['track_id']}")
                else:
                    tf_updates.append(
                        {
                            "_id": seen.local_id,
                            "track_id": track_id,
                            "updated": tf.values["updated"],
                            "submission_count": tf.values["submission_count"],
                        }
                    )
                    tf_map[fp_id] = _entry(seen.local_id, tf)
            elif fp is None and tf is not None:
                self.park("track_fingerprint", tf, f"fingerprint:{fp_id}")
            elif tf is None and fp is not None:
                self.park("fingerprint", fp, f"track_fingerprint:{fp_id}")
            elif track_id is None and fp is not None and tf is not None:
                self.park("track_fingerprint", tf, f"track:{tf.values['track_id']}")
                self.park("fingerprint", fp, f"track_fingerprint:{fp_id}")
            elif fp is not None and tf is not None and track_id is not None:
                inserts.append((fp, tf, track_id))
        new_ids = db.insert_fingerprints(
            self.conn,
            [
                {
                    **_fp_values(fp),
                    "created": self._created(fp),
                    "updated": tf.values["updated"],
                    "track_id": track_id,
                    "submission_count": tf.values["submission_count"],
                }
                for fp, tf, track_id in inserts
            ],
        )
        for (fp, tf, _), local in zip(inserts, new_ids, strict=True):
            fp_map[fp.id] = _entry(local, fp)
            tf_map[tf.id] = _entry(local, tf)
        db.update_many(self.conn, fingerprint, fp_updates, ["fingerprint", "length"])
        db.update_many(
            self.conn,
            fingerprint,
            tf_updates,
            ["track_id", "updated"],
            grow=["submission_count"],
        )
        self._outbox(new_ids + [u["_id"] for u in fp_updates])
        db.set_mapped(self.conn, self.provenance, "fingerprint", fp_map)
        db.set_mapped(self.conn, self.provenance, "track_fingerprint", tf_map)
        self.report.applied["fingerprint"] += len(fp_map)
        self.report.applied["track_fingerprint"] += len(tf_map)
        self.report.fingerprints_written += len(new_ids) + len(fp_updates)

    def _outbox(self, ids: Sequence[int]) -> None:
        db.outbox_add_many(self.conn, ids)

    def metas(self, rows: Rows) -> None:
        known = db.mapped(self.conn, self.provenance, "meta", rows)
        mapping: dict[int, db.Mapped] = {}
        updates: list[dict[str, Any]] = []
        fresh: list[Row] = []
        for row in rows.values():
            seen = known.get(row.id)
            if _unchanged(seen, row):
                self.report.unchanged["meta"] += 1
            elif seen is not None:
                self.report.problem("changed-content", f"meta {row.id}")
                updates.append({"_id": seen.local_id, **_meta_fields(row)})
                mapping[row.id] = _entry(seen.local_id, row)
            else:
                fresh.append(row)
        gids = {row.id: self.meta_gid(row.id) for row in fresh}
        existing: dict[uuid.UUID, int] = {}
        for part in db.chunked(list(gids.values())):
            found = self.conn.execute(sa.select(meta.c.gid, meta.c.id).where(meta.c.gid.in_(part)))
            existing.update((r.gid, r.id) for r in found)
        inserts = [row for row in fresh if gids[row.id] not in existing]
        new_ids = db.insert_many(
            self.conn,
            meta,
            [{**_meta_fields(r), "gid": gids[r.id], "created": self._created(r)} for r in inserts],
        )
        mapping.update((r.id, _entry(i, r)) for r, i in zip(inserts, new_ids, strict=True))
        mapping.update(
            (r.id, _entry(existing[gids[r.id]], r)) for r in fresh if r.id not in mapping
        )
        db.update_many(self.conn, meta, updates, list(_META_NAMES))
        db.set_mapped(self.conn, self.provenance, "meta", mapping)
        self.report.applied["meta"] += len(mapping)
        self._release("meta", mapping)

    def meta_gid(self, upstream_id: int) -> uuid.UUID:
        return uuid.uuid5(META_NAMESPACE, f"{self.provenance}:meta:{upstream_id}")

    def links(self, stream: str, rows: Rows) -> None:
        table, key = _LINKS[stream]
        rows = self._take_revived(stream, rows)
        known = db.mapped(self.conn, self.provenance, stream, rows)
        tracks = self.resolve_tracks({row.values["track_id"] for row in rows.values()})
        metas: dict[int, db.Mapped] = {}
        if stream == "track_meta":
            metas = db.mapped(
                self.conn, self.provenance, "meta", {r.values["meta_id"] for r in rows.values()}
            )
        mapping: dict[int, db.Mapped] = {}
        updates: list[dict[str, Any]] = []
        wanted: dict[tuple[int, Any], list[Row]] = {}
        for row in rows.values():
            seen = known.get(row.id)
            if _unchanged(seen, row):
                self.report.unchanged[stream] += 1
                continue
            track_id = tracks.get(row.values["track_id"])
            if track_id is None:
                self.park(stream, row, f"track:{row.values['track_id']}")
                continue
            value = (
                row.values[key]
                if stream != "track_meta"
                else _local(metas.get(row.values["meta_id"]))
            )
            if value is None:
                self.park(stream, row, f"meta:{row.values['meta_id']}")
                continue
            if seen is not None:
                updates.append(self._link_update(stream, seen.local_id, row))
                mapping[row.id] = _entry(seen.local_id, row)
            else:
                wanted.setdefault((track_id, value), []).append(row)
        existing = self._links_by_pair(table, key, list(wanted))
        inserts: list[tuple[tuple[int, Any], Row]] = []
        for pair, found in wanted.items():
            if pair in existing:
                for row in found:
                    updates.append(self._link_update(stream, existing[pair], row))
                    mapping[row.id] = _entry(existing[pair], row)
            else:
                inserts.append((pair, found[0]))
        new_ids = db.insert_many(
            self.conn,
            table,
            [
                {
                    "track_id": pair[0],
                    key: pair[1],
                    "submission_count": row.values["submission_count"],
                    "created": self._created(row),
                    "updated": row.values["updated"],
                    **({"disabled": row.values["disabled"]} if stream == "track_mbid" else {}),
                }
                for pair, row in inserts
            ],
        )
        for (pair, _), local in zip(inserts, new_ids, strict=True):
            for row in wanted[pair]:
                mapping[row.id] = _entry(local, row)
        columns = ["updated", "disabled"] if stream == "track_mbid" else ["updated"]
        db.update_many(self.conn, table, updates, columns, grow=["submission_count"])
        db.set_mapped(self.conn, self.provenance, stream, mapping)
        self.report.applied[stream] += len(mapping)

    def _link_update(self, stream: str, local: int, row: Row) -> dict[str, Any]:
        update = {
            "_id": local,
            "updated": row.values["updated"],
            "submission_count": row.values["submission_count"],
        }
        if stream == "track_mbid":
            update["disabled"] = row.values["disabled"]
        return update

    def _links_by_pair(
        self, table: sa.Table, key: str, pairs: Sequence[tuple[int, Any]]
    ) -> dict[tuple[int, Any], int]:
        found: dict[tuple[int, Any], int] = {}
        for part in db.chunked(pairs):
            rows = self.conn.execute(
                sa.select(table.c.track_id, table.c[key], table.c.id).where(
                    sa.tuple_(table.c.track_id, table.c[key]).in_(list(part))
                )
            )
            found.update(((r[0], r[1]), r[2]) for r in rows)
        return found

    def finish(self) -> None:
        """Park what still waits (revived rows whose dependency is still missing included)."""
        for stream, rows in self.revived.items():
            for row in rows.values():
                self.park(stream, row, _waits_for(stream, row))
        db.park(self.conn, self.provenance, self.to_park)


def _unchanged(seen: db.Mapped | None, row: Row) -> bool:
    """The row was applied already, or a newer version of it was (a day applied again)."""
    if seen is None:
        return False
    return seen.digest == row.digest or bool(seen.stamp and row.stamp and row.stamp < seen.stamp)


def _entry(local_id: int, row: Row) -> db.Mapped:
    return db.Mapped(local_id, row.digest, row.stamp)


def _local(seen: db.Mapped | None) -> int | None:
    return None if seen is None else seen.local_id


def _waits_for(stream: str, row: Row) -> str:
    if stream == "track":
        return f"track:{row.values['new_id']}"
    if stream == "fingerprint":
        return f"track_fingerprint:{row.id}"
    return f"track:{row.values['track_id']}"


def _fp_values(row: Row) -> dict[str, Any]:
    return {"fingerprint": row.values["fingerprint"], "length": row.values["length"]}


_META_NAMES = ("track", "artist", "album", "album_artist", "track_no", "disc_no", "year")


def _meta_fields(row: Row) -> dict[str, Any]:
    return {name: row.values[name] for name in _META_NAMES}


def apply_day(
    conn: Connection,
    provenance: str,
    day: dt.date,
    rows: dict[str, Rows],
    streams: Sequence[str],
    report: DataImportReport,
) -> None:
    """Apply one day's rows of ``streams`` and record the day as done for them."""
    applier = DayApplier(conn, provenance, day, report)
    applier.tracks(rows.get("track", {}))
    applier.fingerprints(rows.get("fingerprint", {}), rows.get("track_fingerprint", {}))
    applier.metas(rows.get("meta", {}))
    for stream in ("track_mbid", "track_puid", "track_meta"):
        applier.links(stream, rows.get(stream, {}))
    applier.finish()
    db.set_progress(conn, provenance, streams, day)
    report.days += 1
