"""A seeded, clearly labelled synthetic MusicBrainz data set (musicbrainz.md §3.2).

Nobody can mistake it for MusicBrainz data: every name starts with "Synthetic", every gid is a
uuid5 under :data:`SYNTHETIC_NAMESPACE` (``synthetic/<kind>/<number>``), every ISRC starts with
:data:`ISRC_PREFIX` (country "XS", registrant "SYN": no real registrant), and the
``replication_control`` row it adds has replication sequence 0. Vocabulary keeps its real values
because clients rely on them: ISO country codes, release group types, medium formats.

The same ``count`` and ``seed`` give the same rows (gids, names, shapes) whatever the database
already holds; internal ids continue after the largest id present, so it can sit next to
mbdata's sample. Besides volume it plants the cases the lookup must get right: recordings
without tracks, NULL lengths, credits of two or three artists with join phrases, a credit with
no names, gid redirects, a release group without primary type, unknown-country and two-country
release events, a medium without format and mediums with titles, one recording on many
releases, and non-Latin and combining-character names.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from earmark.musicbrainz.errors import MusicBrainzError
from earmark.musicbrainz.schema import execute, tables

SYNTHETIC_NAMESPACE = uuid.UUID("c7d0d97a-5a12-4702-9272-d52ce7bec4af")
ISRC_PREFIX = "XSSYN"
MIN_COUNT = 20
SCHEMA_SEQUENCE = 31  # the MusicBrainz schema of mbdata 31.0.1
REPLICATION_DATE = datetime(2026, 1, 1, tzinfo=UTC)

COUNTRIES = {
    "GB": "Synthetic United Kingdom",
    "US": "Synthetic United States",
    "DE": "Synthetic Germany",
    "JP": "Synthetic Japan",
    "XW": "Synthetic Worldwide",
    "XE": "Synthetic Europe",
}
FORMATS = ("CD", "Digital Media", '12" Vinyl')
PRIMARY_TYPES = ("Album", "Single", "EP")
SECONDARY_TYPES = ("Compilation", "Live")
# Appended to some names: scripts other than Latin, and a combining acute accent.
NON_LATIN = (" シンセティック", " Синтетика", " 合成音", " Cafe\u0301", " Σύνθεση")


def synthetic_gid(kind: str, number: int | str) -> uuid.UUID:
    return uuid.uuid5(SYNTHETIC_NAMESPACE, f"synthetic/{kind}/{number}")


@dataclass(frozen=True)
class SyntheticData:
    """What was generated: row counts and the MBIDs of the planted cases."""

    rows: dict[str, int]
    recordings: tuple[str, ...]
    standalone: tuple[str, ...]  # recordings with no track
    null_length: tuple[str, ...]
    multi_artist: tuple[str, ...]  # credited to two or three artists
    nameless_credit: str  # credited to an artist credit without artist_credit_name rows
    redirects: dict[str, str]  # old gid → recording gid
    fan_out: str  # the recording on many releases
    untyped_release_group: str
    unknown_country_releases: tuple[str, ...]
    non_latin: tuple[str, ...]  # recordings with non-Latin or combining characters
    unknown: tuple[str, ...] = field(default=())  # MBIDs that are not in the database
    #: Merged MBIDs of the other entities the catalog takes: kind → (old gid, current gid),
    #: kinds ``artist``, ``release``, ``release_group``, ``track``.
    entity_redirects: dict[str, tuple[str, str]] = field(default_factory=dict)
    #: Release gid → barcode, for the releases that have one.
    barcodes: dict[str, str] = field(default_factory=dict)


def synthetic_loaded(conn: Connection) -> bool:
    recording = tables().recording
    query = sa.select(recording.c.id).where(recording.c.gid == synthetic_gid("recording", 1))
    return execute(conn, query).first() is not None


class _Rows:
    """Rows per table, and the next free id of each table."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.tables = tables().by_name()
        self.by_table: dict[str, list[dict[str, Any]]] = {}
        self._next: dict[str, int] = {}

    def add(self, table: str, **values: Any) -> int:
        row_id = 0
        if "id" in self.tables[table].c and "id" not in values:
            row_id = self.next_id(table)
            values["id"] = row_id
        self.by_table.setdefault(table, []).append(values)
        return row_id

    def next_id(self, table: str) -> int:
        if table not in self._next:
            column = self.tables[table].c.id
            found = execute(self.conn, sa.select(sa.func.max(column))).scalar()
            self._next[table] = int(found or 0) + 1
        self._next[table] += 1
        return self._next[table] - 1

    def find(self, table: str, column: str, value: Any, result: str = "id") -> Any:
        source = self.tables[table]
        query = sa.select(source.c[result]).where(source.c[column] == value)
        return execute(self.conn, query).scalar()


def generate(conn: Connection, count: int, seed: int) -> SyntheticData:
    """Add ``count`` synthetic recordings (with everything around them) in the caller's
    transaction. Refuses when synthetic data is already there."""
    if count < MIN_COUNT:
        raise MusicBrainzError(f"the synthetic data set needs at least {MIN_COUNT} recordings")
    if synthetic_loaded(conn):
        raise MusicBrainzError("synthetic data is already loaded in this database")
    return _Generator(conn, count, random.Random(seed)).run()


class _Generator:
    def __init__(self, conn: Connection, count: int, rng: random.Random) -> None:
        self.rows = _Rows(conn)
        self.count = count
        self.rng = rng
        self.counters: dict[str, int] = {}
        self.isrc_serial = 0

    def number(self, kind: str) -> int:
        self.counters[kind] = self.counters.get(kind, 0) + 1
        return self.counters[kind]

    def lookup_row(self, table: str, name: str, **extra: Any) -> int:
        """A row of a vocabulary table, reused by name when the database has it."""
        found = self.rows.find(table, "name", name)
        if found is not None:
            return int(found)
        return self.rows.add(table, gid=synthetic_gid(table, name), name=name, **extra)

    def run(self) -> SyntheticData:
        countries = {code: self.country(code, name) for code, name in COUNTRIES.items()}
        formats = [self.lookup_row("medium_format", name) for name in FORMATS]
        primary = {
            name: self.lookup_row("release_group_primary_type", name) for name in PRIMARY_TYPES
        }
        secondary = [self.lookup_row("release_group_secondary_type", n) for n in SECONDARY_TYPES]
        credits = self.artists()
        recordings = self.recordings(credits)
        releases = _Releases(self, countries, formats, primary, secondary)
        owned = [r for r in recordings if not r.standalone]
        for owner in range(len(credits.single)):
            mine = [r for r in owned if r.owner == owner]
            for start in range(0, len(mine), 10):
                releases.group(mine[start : start + 10], credits.single[owner])
        various = credits.various
        for _ in range(max(1, self.count // 60)):
            picked = self.rng.sample(owned, min(len(owned), self.rng.randint(10, 15)))
            releases.group(picked, various, compilation=True)
        hub = owned[0]
        fan_out = min(300, max(20, self.count // 5))
        for start in range(0, fan_out, 10):
            releases.group([hub], hub.credit, editions=min(10, fan_out - start), single=True)
        releases.labels()
        redirects = self.redirects(owned)
        entity_redirects = self.entity_redirects()
        for recording in recordings:
            self.isrcs(recording)
        self.replication_control()
        inserted = self.insert()
        return SyntheticData(
            rows=inserted,
            recordings=tuple(r.gid for r in recordings),
            standalone=tuple(r.gid for r in recordings if r.standalone),
            null_length=tuple(r.gid for r in recordings if r.length is None),
            multi_artist=tuple(r.gid for r in recordings if r.credit in credits.multi),
            nameless_credit=next(r.gid for r in recordings if r.credit == credits.nameless),
            redirects=redirects,
            fan_out=hub.gid,
            untyped_release_group=releases.untyped,
            unknown_country_releases=tuple(releases.unknown_country),
            non_latin=tuple(r.gid for r in recordings if not r.name.isascii()),
            unknown=tuple(str(synthetic_gid("unknown-recording", n)) for n in (1, 2)),
            entity_redirects=entity_redirects,
            barcodes=releases.barcodes,
        )

    def country(self, code: str, name: str) -> int:
        found = self.rows.find("iso_3166_1", "code", code, result="area")
        if found is not None:
            # Release events point at country_area, which may lack a known ISO area.
            if self.rows.find("country_area", "area", found, result="area") is None:
                self.rows.add("country_area", area=found)
            return int(found)
        area = self.rows.add("area", gid=synthetic_gid("area", code), name=name)
        self.rows.add("country_area", area=area)
        self.rows.add("iso_3166_1", area=area, code=code)
        return area

    def artists(self) -> _Credits:
        count = max(4, self.count // 8)
        artists = []
        for n in range(1, count + 1):
            name = f"Synthetic Artist {n:04d}"
            if n % 7 == 3:
                name += NON_LATIN[n % len(NON_LATIN)]
            artists.append(self.artist(name))
        credits = _Credits(single=[self.credit([(a, name, "")]) for a, name in artists])
        for n in range(max(2, self.count // 10)):
            first, second, third = self.rng.sample(artists, 3)
            if n % 3 == 2:
                names = [(first[0], first[1], ", "), (second[0], second[1], " & "), (*third, "")]
            else:
                names = [(first[0], first[1], " feat. "), (*second, "")]
            credits.multi.append(self.credit(names))
        various = self.artist("Synthetic Various Artists")
        credits.various = self.credit([(various[0], various[1], "")])
        credits.nameless = self.rows.add(
            "artist_credit",
            gid=synthetic_gid("artist_credit", "nameless"),
            name="Synthetic Nameless Credit",
            artist_count=1,
        )
        return credits

    def artist(self, name: str) -> tuple[int, str]:
        n = self.number("artist")
        artist = self.rows.add("artist", gid=synthetic_gid("artist", n), name=name, sort_name=name)
        return artist, name

    def credit(self, names: list[tuple[int, str, str]]) -> int:
        n = self.number("artist_credit")
        credit = self.rows.add(
            "artist_credit",
            gid=synthetic_gid("artist_credit", n),
            name="".join(name + join for _, name, join in names),
            artist_count=len(names),
        )
        for position, (artist, name, join) in enumerate(names):
            self.rows.add(
                "artist_credit_name",
                artist_credit=credit,
                position=position,
                artist=artist,
                name=name,
                join_phrase=join,
            )
        return credit

    def recordings(self, credits: _Credits) -> list[_Recording]:
        out = []
        for n in range(1, self.count + 1):
            owner = self.rng.randrange(len(credits.single))
            credit = credits.single[owner]
            if n == 2 or self.rng.random() < 0.1:
                credit = self.rng.choice(credits.multi)
            if n == 4:
                credit = credits.nameless
            length: int | None = self.rng.randint(90_000, 420_000)
            if n == 3 or self.rng.random() < 0.05:
                length = None
            name = f"Synthetic Recording {n:05d}"
            if n % 11 == 5:
                name += NON_LATIN[n % len(NON_LATIN)]
            gid = synthetic_gid("recording", n)
            row_id = self.rows.add(
                "recording", gid=gid, name=name, artist_credit=credit, length=length
            )
            out.append(_Recording(row_id, str(gid), name, credit, length, owner, n % 50 == 7))
        return out

    def redirects(self, owned: list[_Recording]) -> dict[str, str]:
        found = {}
        targets = self.rng.sample(owned, max(1, self.count * 3 // 100))
        for n, target in enumerate(targets, start=1):
            old = synthetic_gid("recording-redirect", n)
            self.rows.add("recording_gid_redirect", gid=old, new_id=target.id)
            found[str(old)] = target.gid
        return found

    def entity_redirects(self) -> dict[str, tuple[str, str]]:
        """One merged MBID each of an artist, a release, a release group and a track (the
        first of each); no random draw, so the rest of the data set is the same as without."""
        found = {}
        for kind in ("artist", "release", "release_group", "track"):
            target = self.rows.by_table[kind][0]
            old = synthetic_gid(f"{kind}-redirect", 1)
            self.rows.add(f"{kind}_gid_redirect", gid=old, new_id=target["id"])
            found[kind] = (str(old), str(target["gid"]))
        return found

    def isrcs(self, recording: _Recording) -> None:
        roll = self.rng.random()
        for _ in range(0 if roll < 0.35 else 1 if roll < 0.85 else 2):
            self.isrc_serial += 1
            code = f"{ISRC_PREFIX}{self.rng.randint(0, 99):02d}{self.isrc_serial:05d}"
            self.rows.add("isrc", recording=recording.id, isrc=code)

    def replication_control(self) -> None:
        control = tables().replication_control
        if execute(self.rows.conn, sa.select(control.c.id)).first() is None:
            self.rows.add(
                "replication_control",
                current_schema_sequence=SCHEMA_SEQUENCE,
                current_replication_sequence=0,
                last_replication_date=REPLICATION_DATE,
            )

    def insert(self) -> dict[str, int]:
        inserted = {}
        for table in self.rows.tables.values():
            found = self.rows.by_table.get(table.name)
            if found:
                execute(self.rows.conn, table.insert(), found)
                inserted[table.name] = len(found)
        return inserted


@dataclass
class _Credits:
    single: list[int]
    multi: list[int] = field(default_factory=list)
    various: int = 0
    nameless: int = 0


@dataclass(frozen=True)
class _Recording:
    id: int
    gid: str
    name: str
    credit: int
    length: int | None
    owner: int
    standalone: bool


class _Releases:
    """Release groups with their releases, events, mediums and tracks."""

    def __init__(
        self,
        gen: _Generator,
        countries: dict[str, int],
        formats: list[int],
        primary: dict[str, int],
        secondary: list[int],
    ) -> None:
        self.gen = gen
        self.countries = countries
        self.formats = formats
        self.primary = primary
        self.secondary = secondary
        self.untyped = ""
        self.unknown_country: list[str] = []
        self.barcodes: dict[str, str] = {}
        self.created: list[tuple[int, int]] = []  # (release id, release number)

    def group(
        self,
        recordings: list[_Recording],
        credit: int,
        *,
        compilation: bool = False,
        editions: int | None = None,
        single: bool = False,
    ) -> None:
        gen, rng = self.gen, self.gen.rng
        n = gen.number("release_group")
        kind = (
            "Single" if single or len(recordings) <= 2 else "EP" if len(recordings) < 7 else "Album"
        )
        type_id: int | None = self.primary["Album" if compilation else kind]
        gid = synthetic_gid("release_group", n)
        if n == 2:
            type_id, self.untyped = None, str(gid)
        name = f"Synthetic Release Group {n:05d}"
        group = gen.rows.add(
            "release_group", gid=gid, name=name, artist_credit=credit, type=type_id
        )
        if compilation:
            chosen = self.secondary if n % 2 else self.secondary[:1]
            for secondary in chosen:
                gen.rows.add(
                    "release_group_secondary_type_join",
                    release_group=group,
                    secondary_type=secondary,
                )
        if editions is None:
            editions = 1 + (rng.random() < 0.4) + (rng.random() < 0.15)
        for _ in range(editions):
            self.release(group, recordings, credit)

    def release(self, group: int, recordings: list[_Recording], credit: int) -> None:
        gen, rng = self.gen, self.gen.rng
        n = gen.number("release")
        gid = synthetic_gid("release", n)
        # Three releases in four have a barcode (no random draw: see entity_redirects).
        barcode = None if n % 4 == 0 else f"{(n * 7919) % 10**12:012d}"
        release = gen.rows.add(
            "release",
            gid=gid,
            name=f"Synthetic Release {n:05d}",
            artist_credit=credit,
            release_group=group,
            barcode=barcode,
        )
        if barcode is not None:
            self.barcodes[str(gid)] = barcode
        self.created.append((release, n))
        self.events(release, str(gid), n)
        discs = 2 if len(recordings) > 8 and rng.random() < 0.25 else 1
        per_disc = -(-len(recordings) // discs)
        for position in range(1, discs + 1):
            chunk = recordings[(position - 1) * per_disc : position * per_disc]
            medium_format: int | None = rng.choice(self.formats)
            if n == 2 or rng.random() < 0.05:
                medium_format = None
            medium = gen.rows.add(
                "medium",
                gid=synthetic_gid("medium", f"{n}/{position}"),
                release=release,
                position=position,
                format=medium_format,
                name=f"Synthetic Disc {position}" if discs > 1 else "",
                track_count=len(chunk),
            )
            for track_position, recording in enumerate(chunk, start=1):
                self.track(medium, track_position, recording)

    def labels(self) -> None:
        """Three labels; two releases in three get one (with a catalogue number), every
        seventh release a second one. No random draw (see entity_redirects)."""
        gen = self.gen
        labels = [
            gen.rows.add(
                "label",
                gid=synthetic_gid("label", n),
                name=f"Synthetic Label {n}",
                label_code=10_000 + n,
            )
            for n in (1, 2, 3)
        ]
        for release, n in self.created:
            if n % 3 == 0:
                continue
            number = f"SYN-{n:05d}"
            gen.rows.add(
                "release_label", release=release, label=labels[n % 3], catalog_number=number
            )
            if n % 7 == 0:
                gen.rows.add(
                    "release_label", release=release, label=labels[(n + 1) % 3], catalog_number=None
                )

    def events(self, release: int, gid: str, n: int) -> None:
        gen, rng = self.gen, self.gen.rng
        roll = rng.random()
        if n == 1 or roll < 0.1:
            gen.rows.add("release_unknown_country", release=release, **self.date())
            self.unknown_country.append(gid)
            return
        if roll < 0.15:
            return
        codes = rng.sample(sorted(self.countries), 2 if roll < 0.25 else 1)
        for code in codes:
            gen.rows.add(
                "release_country", release=release, country=self.countries[code], **self.date()
            )

    def date(self) -> dict[str, int | None]:
        rng = self.gen.rng
        month = rng.randint(1, 12) if rng.random() < 0.6 else None
        day = rng.randint(1, 28) if month is not None and rng.random() < 0.5 else None
        return {"date_year": rng.randint(1970, 2025), "date_month": month, "date_day": day}

    def track(self, medium: int, position: int, recording: _Recording) -> None:
        gen, rng = self.gen, self.gen.rng
        n = gen.number("track")
        name = recording.name
        if rng.random() < 0.1:
            name += " (Synthetic Edit)"
        gen.rows.add(
            "track",
            gid=synthetic_gid("track", n),
            recording=recording.id,
            medium=medium,
            position=position,
            number=str(position),
            name=name,
            artist_credit=recording.credit,
            length=recording.length,
        )
