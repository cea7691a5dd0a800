"""A synthetic MusicBrainz mirror for the catalog benchmarks, seeded and deterministic.

    .venv/bin/python bench/catalog_mirror.py --sqlite /tmp/mb.db --recordings 1000000
    .venv/bin/python bench/catalog_mirror.py --postgresql-url --keep   # on the local server

Shaped like MusicBrainz's data (per recording: ~1.7 tracks, ~0.7 ISRCs; ~12 recordings per
artist; ~1.5 releases per release group): artists (persons and groups, with sort names) under
single credits and multi-artist credits with join phrases (" feat. ", " & ", ", "); albums, EPs
and singles (release groups) each with one to five releases (editions: other countries, dates,
barcodes, labels and catalogue numbers; a deluxe edition adds bonus recordings); mediums (some
releases have two discs) and tracks (a track's title sometimes differs from its recording's);
Various Artists compilations that put existing recordings on more releases; release events in
one to three countries or an unknown country; ISRCs (a few shared by two recordings); gid
redirects (merged MBIDs) of recordings, tracks, releases, release groups and artists. Titles
and names are drawn from a made-up vocabulary (some words accented) with a Zipf-like frequency,
so a search term matches few or many entities as real ones do.

The tables are created by the code `earmark mb import` uses
(:meth:`earmark.musicbrainz.schema.MusicBrainzDatabase.create_schema`), then bulk-loaded: the
secondary indexes are dropped and re-created after the load, rows go in with ``executemany`` in
one transaction on SQLite and with ``COPY`` on PostgreSQL (foreign keys are not checked during
the load: session_replication_role=replica, as a superuser; the rows are generated consistent).
Then the catalog's search index is built by :func:`earmark.musicbrainz.catalog_search.build_index`
and the planner statistics refreshed (``ANALYZE``), as `earmark mb import` does.

As a module: :func:`fill` writes a mirror at a database URL and returns a :class:`Mirror` with
samples of its ids (ISRCs, MBIDs, barcodes), search queries and a few recordings whose expected
catalog answers are known (:class:`Expected`); :func:`fresh_database` makes a SQLite file or a
fresh PostgreSQL database (``EARMARK_BENCH_POSTGRES_URL``, default the local server) and drops
it afterwards.
"""

from __future__ import annotations

import argparse
import os
import random
import sqlite3
import sys
import time
import unicodedata
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import accumulate, pairwise
from pathlib import Path
from typing import Any

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PG_ADMIN = os.environ.get(
    "EARMARK_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1/postgres"
)
DEFAULT_RECORDINGS = 1_000_000
DEFAULT_SEED = 16
#: Buffered rows (every table together) before they are written.
FLUSH_ROWS = 200_000
#: How many of each kind of id the :class:`Mirror` keeps as samples.
SAMPLES = 5_000
REPLICATION_SEQUENCE = 1
SCHEMA_SEQUENCE = 31

COUNTRIES = ("US", "GB", "DE", "FR", "JP", "NL", "SE", "CA", "AU", "IT", "ES", "BR", "XW", "XE")
ISRC_COUNTRIES = ("US", "GB", "DE", "FR", "JP", "NL", "SE", "CA", "AU", "QM", "QZ")
FORMATS = ("CD", "Digital Media", '12" Vinyl', "Cassette")
STATUSES = ("Official", "Promotion", "Bootleg")
PRIMARY_TYPES = ("Album", "Single", "EP")
SECONDARY_TYPES = ("Compilation", "Live")
ARTIST_TYPES = ("Person", "Group")
JOINS = (" feat. ", " & ", ", ")
SYLLABLES = (
    "ka",
    "la",
    "mo",
    "ri",
    "sen",
    "ta",
    "vo",
    "ne",
    "lu",
    "bri",
    "da",
    "fel",
    "gar",
    "hon",
    "is",
    "jun",
    "kor",
    "len",
    "mar",
    "nor",
    "op",
    "pel",
    "qui",
    "ros",
    "sun",
    "tor",
    "ul",
    "ven",
    "wil",
    "xan",
    "yor",
    "zel",
    "ber",
    "cal",
    "dor",
    "ex",
    "fin",
    "gol",
    "hav",
    "ir",
    "jol",
    "kir",
    "lam",
    "mir",
    "nev",
    "or",
    "pax",
    "rin",
    "sol",
    "tem",
    "ur",
    "val",
    "wen",
    "yel",
    "zor",
    "an",
    "el",
    "in",
    "on",
    "un",
    "ar",
    "er",
)
ACCENTED = {"e": "é", "o": "ø", "u": "ü", "a": "å", "i": "í"}
VOCABULARY = 4_000
ARTIST_COLUMNS = ("id", "gid", "name", "sort_name", "comment", "type", "area", "begin_date_year")


# --- what the generator hands back -------------------------------------------------------


@dataclass(frozen=True)
class ExpectedTrack:
    track: str  # track MBID
    release: str  # release MBID
    release_title: str
    barcode: str | None
    disc: int
    position: int


@dataclass(frozen=True)
class Expected:
    """A recording as generated: what the catalog must answer about it."""

    recording: str
    title: str
    credit: str  # the artist credit's full name (names and join phrases)
    artists: tuple[str, ...]  # artist MBIDs in credit order
    isrcs: tuple[str, ...]
    tracks: tuple[ExpectedTrack, ...]


@dataclass
class Mirror:
    """A generated mirror: where it is, sizes, and samples of what it holds."""

    url: str
    schema: str
    recordings: int
    seed: int
    rows: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    bytes_on_disk: int = 0
    isrcs: list[str] = field(default_factory=list)
    tracks: list[str] = field(default_factory=list)
    recording_ids: list[str] = field(default_factory=list)
    releases: list[str] = field(default_factory=list)
    artists: list[str] = field(default_factory=list)
    barcodes: list[str] = field(default_factory=list)
    #: Merged MBIDs: kind ("recording", "release", ...) → [(old gid, current gid)].
    redirects: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    #: Track searches: "title", "artist title", a typed prefix.
    queries: list[str] = field(default_factory=list)
    #: A few recordings with their expected catalog answers: the first one credited to
    #: several artists, every 997th, and the first two sharing an ISRC.
    expected: list[Expected] = field(default_factory=list)
    #: ISRC → recording MBIDs having it, for the ISRCs of :attr:`expected`.
    isrc_recordings: dict[str, list[str]] = field(default_factory=dict)


# --- rows --------------------------------------------------------------------------------


class _Sink:
    """Buffered rows per table, written in the tables' foreign-key order when full."""

    def __init__(self, write: Callable[[str, Sequence[str], list[tuple[Any, ...]]], None]) -> None:
        from earmark.musicbrainz.schema import tables

        self.write = write
        self.order = [t.name for t in tables().base_tables()]
        self.columns: dict[str, Sequence[str]] = {}
        self.buffers: dict[str, list[tuple[Any, ...]]] = {}
        self.counts: dict[str, int] = {}
        self.pending = 0

    def add(self, table: str, columns: Sequence[str], row: tuple[Any, ...]) -> None:
        if self.columns.setdefault(table, columns) != columns:
            raise ValueError(f"{table}: rows of other columns")
        self.buffers.setdefault(table, []).append(row)
        self.pending += 1
        if self.pending >= FLUSH_ROWS:
            self.flush()

    def flush(self) -> None:
        for table in self.order:
            rows = self.buffers.pop(table, None)
            if rows:
                self.write(table, self.columns[table], rows)
                self.counts[table] = self.counts.get(table, 0) + len(rows)
        self.pending = 0


class _Generator:
    """The rows of the data set, in creation order (parents before children)."""

    def __init__(self, sink: _Sink, recordings: int, seed: int, mirror: Mirror) -> None:
        self.sink = sink
        self.target = recordings
        self.rng = random.Random(seed)
        # Samples are drawn by their own generator: taking them does not change the data.
        self.pick = random.Random(seed + 1)
        self.sample_rate = min(1.0, 2 * SAMPLES / recordings)
        self.mirror = mirror
        self.ids: dict[str, int] = {}
        self.words, self.cum = self._vocabulary()
        self.release_groups = 0
        # Every recording made (index = id - 1): compilations and tracks read them.
        self.rec_names: list[str] = []
        self.rec_credits: list[int] = []
        self.rec_lengths: list[int | None] = []
        self.credit_names: dict[int, str] = {}
        self.credit_artists: dict[int, tuple[str, ...]] = {}
        self.isrc_serial = 0
        self.album_isrcs: dict[int, list[str]] = {}  # ISRCs of the album being made
        self.rec_gids: dict[int, str] = {}  # MBIDs of the album's recordings
        self.shared_isrcs: dict[str, list[int]] = {}  # ISRC → recording ids, when shared
        self.isrcs_of: dict[int, list[str]] = {}  # of the followed recordings
        self.followed: dict[int, tuple[str, str, int]] = {}  # id → (gid, title, credit)
        self.followed_tracks: dict[int, list[ExpectedTrack]] = {}
        self.gids: dict[str, list[tuple[int, str]]] = {}  # sampled (id, gid) per kind
        self.group_name = ""
        self.names_seen: dict[tuple[str, str], int] = {}
        self.multi_followed = False

    # -- helpers --

    def next_id(self, table: str) -> int:
        self.ids[table] = self.ids.get(table, 0) + 1
        return self.ids[table]

    def gid(self) -> uuid.UUID:
        return uuid.UUID(int=self.rng.getrandbits(128), version=4)

    def _vocabulary(self) -> tuple[list[str], list[float]]:
        rng = self.rng
        words: list[str] = []
        seen: set[str] = set()
        while len(words) < VOCABULARY:
            word = "".join(rng.choice(SYLLABLES) for _ in range(rng.choice((1, 2, 2, 2, 3))))
            if word in seen or len(word) < 3:
                continue
            seen.add(word)
            if rng.random() < 0.05:  # some words carry an accent ("Pølar", "Caféx")
                plain = next((c for c in word if c in ACCENTED), None)
                if plain is not None:
                    word = word.replace(plain, ACCENTED[plain], 1)
            words.append(word.capitalize())
        weights = [1.0 / (rank + 10) for rank in range(len(words))]  # Zipf-like
        return words, list(accumulate(weights))

    def phrase(self, low: int, high: int) -> str:
        count = self.rng.randint(low, high)
        return " ".join(self.rng.choices(self.words, cum_weights=self.cum, k=count))

    def sample(self, kind: str, row_id: int, gid: uuid.UUID) -> bool:
        if self.pick.random() >= self.sample_rate:
            return False
        self.gids.setdefault(kind, []).append((row_id, str(gid)))
        return True

    def disambiguation(self, kind: str, name: str) -> str:
        """A comment telling apart artists (labels) of the same name, as MusicBrainz requires
        (unique name and comment)."""
        key = (kind, name)
        seen = self.names_seen.get(key, 0)
        self.names_seen[key] = seen + 1
        return "" if not seen else f"{kind} no. {seen + 1} of that name"

    def add(self, table: str, columns: Sequence[str], row: tuple[Any, ...]) -> None:
        self.sink.add(table, columns, row)

    # -- the data set --

    def run(self) -> None:
        self.vocabularies()
        self.artists()
        while len(self.rec_names) < self.target:
            if self.release_groups % 25 == 24 and len(self.rec_names) > 40:
                self.compilation()
            else:
                self.album()
        self.redirects()
        self.sink.flush()
        self.finish()

    def vocabulary_row(self, table: str, name: str) -> int:
        row_id = self.next_id(table)
        self.add(table, ("id", "gid", "name"), (row_id, self.gid(), name))
        return row_id

    def vocabularies(self) -> None:
        country_type = self.vocabulary_row("area_type", "Country")
        self.countries: list[int] = []
        for code in COUNTRIES:
            area = self.next_id("area")
            self.add("area", ("id", "gid", "name", "type"), (area, self.gid(), code, country_type))
            self.add("country_area", ("area",), (area,))
            self.add("iso_3166_1", ("area", "code"), (area, code))
            self.countries.append(area)
        self.formats = [self.vocabulary_row("medium_format", n) for n in FORMATS]
        self.statuses = [self.vocabulary_row("release_status", n) for n in STATUSES]
        self.primary = {
            n: self.vocabulary_row("release_group_primary_type", n) for n in PRIMARY_TYPES
        }
        self.secondary = [
            self.vocabulary_row("release_group_secondary_type", n) for n in SECONDARY_TYPES
        ]
        self.artist_types = [self.vocabulary_row("artist_type", n) for n in ARTIST_TYPES]
        self.labels = []
        for _ in range(max(3, self.target // 500)):
            label = self.next_id("label")
            name = f"{self.phrase(1, 2)} Records"
            comment = self.disambiguation("label", name)
            self.add("label", ("id", "gid", "name", "comment"), (label, self.gid(), name, comment))
            self.labels.append(label)
        self.add(
            "replication_control",
            (
                "id",
                "current_schema_sequence",
                "current_replication_sequence",
                "last_replication_date",
            ),
            (1, SCHEMA_SEQUENCE, REPLICATION_SEQUENCE, datetime(2026, 1, 1, tzinfo=UTC)),
        )

    def artists(self) -> None:
        rng = self.rng
        made: list[tuple[int, str, uuid.UUID]] = []
        for _ in range(max(10, self.target // 12)):
            artist, gid = self.next_id("artist"), self.gid()
            group = rng.random() < 0.45
            name = sort_name = self.phrase(1, 3)
            if group and rng.random() < 0.3:
                name, sort_name = f"The {name}", f"{name}, The"
            elif not group and " " in name:
                first, last = name.rsplit(" ", 1)
                sort_name = f"{last}, {first}"
            area = rng.choice(self.countries) if rng.random() < 0.7 else None
            self.add(
                "artist",
                ARTIST_COLUMNS,
                (
                    artist,
                    gid,
                    name,
                    sort_name,
                    self.disambiguation("artist", name),
                    self.artist_types[group],
                    area,
                    rng.randint(1940, 2020),
                ),
            )
            made.append((artist, name, gid))
            self.sample("artist", artist, gid)
        self.single = [self.credit([a]) for a in made]
        self.multi = [
            self.credit(rng.sample(made, rng.choice((2, 2, 2, 3))))
            for _ in range(max(3, len(made) // 4))
        ]
        various, gid = self.next_id("artist"), self.gid()
        self.add(
            "artist",
            ARTIST_COLUMNS,
            (various, gid, "Various Artists", "Various Artists", "", None, None, None),
        )
        self.various = self.credit([(various, "Various Artists", gid)])

    def credit(self, artists: Sequence[tuple[int, str, uuid.UUID]]) -> int:
        credit = self.next_id("artist_credit")
        if len(artists) == 3:
            joins = [", ", " & ", ""]
        elif len(artists) == 2:
            joins = [self.rng.choice(JOINS[:2]), ""]
        else:
            joins = [""]
        full = "".join(name + join for (_, name, _), join in zip(artists, joins, strict=True))
        self.add(
            "artist_credit",
            ("id", "gid", "name", "artist_count"),
            (credit, self.gid(), full, len(artists)),
        )
        for position, ((artist, name, _), join) in enumerate(zip(artists, joins, strict=True)):
            self.add(
                "artist_credit_name",
                ("artist_credit", "position", "artist", "name", "join_phrase"),
                (credit, position, artist, name, join),
            )
        self.credit_names[credit] = full
        self.credit_artists[credit] = tuple(str(gid) for _, _, gid in artists)
        return credit

    def recording(self, credit: int) -> int:
        rng = self.rng
        recording, gid = self.next_id("recording"), self.gid()
        if rng.random() < 0.12:
            credit = rng.choice(self.multi)  # with a featured artist
        name = self.phrase(1, 4)
        length = rng.randint(90_000, 420_000) if rng.random() > 0.04 else None
        self.add(
            "recording",
            ("id", "gid", "name", "artist_credit", "length"),
            (recording, gid, name, credit, length),
        )
        self.rec_names.append(name)
        self.rec_credits.append(credit)
        self.rec_lengths.append(length)
        if self.sample("recording", recording, gid):
            self.mirror.queries.append(self.query(name, credit))
        multi = len(self.credit_artists[credit]) > 1
        if (multi and not self.multi_followed) or (recording % 997 == 1 and len(self.followed) < 6):
            self.multi_followed = self.multi_followed or multi
            self.follow(recording, str(gid), name, credit)
        self.rec_gids[recording] = str(gid)
        self.isrcs(recording)
        return recording

    def follow(self, recording: int, gid: str, name: str, credit: int) -> None:
        self.followed[recording] = (gid, name, credit)
        self.followed_tracks[recording] = []

    def query(self, name: str, credit: int) -> str:
        """A search a user would type for this recording: its title, the artist's first word
        and the title's first word, or the title typed part way without its accents."""
        roll = self.pick.random()
        if roll < 0.4:
            return name.lower()
        if roll < 0.75:
            return f"{self.credit_names[credit].split()[0]} {name.split()[0]}"
        bare = "".join(
            c for c in unicodedata.normalize("NFKD", name) if not unicodedata.combining(c)
        )
        return bare[: max(3, len(bare) * 2 // 3)].strip().lower()

    def isrcs(self, recording: int) -> None:
        rng = self.rng
        roll = rng.random()
        codes = []
        for _ in range(0 if roll < 0.3 else 1 if roll < 0.92 else 2):
            self.isrc_serial += 1
            n = self.isrc_serial
            registrant = _base36(n // 100_000 + 46_656)[-3:]
            country = ISRC_COUNTRIES[n % len(ISRC_COUNTRIES)]
            codes.append(f"{country}{registrant}{(n // 37) % 100:02d}{n % 100_000:05d}")
        for code in codes:
            self.isrc(recording, code)
        self.album_isrcs[recording] = codes

    def isrc(self, recording: int, code: str) -> None:
        self.add("isrc", ("id", "recording", "isrc"), (self.next_id("isrc"), recording, code))
        if recording in self.followed:
            self.isrcs_of.setdefault(recording, []).append(code)
        if self.pick.random() < self.sample_rate:
            self.mirror.isrcs.append(code)

    def share_isrcs(self, recordings: list[int]) -> None:
        """Now and then an ISRC of a recording also on the next one of the same album (real
        data has thousands of ISRCs on two recordings). Both are followed the first time."""
        for before, after in pairwise(recordings):
            codes = self.album_isrcs.get(before)
            # The first pair that can share always does: every mirror has the case.
            if not codes or (self.shared_isrcs and self.rng.random() >= 0.01):
                continue
            code = codes[0]
            if not self.shared_isrcs or before in self.followed or after in self.followed:
                for row_id in (before, after):
                    if row_id not in self.followed:
                        at = row_id - 1
                        self.follow(
                            row_id, self.rec_gids[row_id], self.rec_names[at], self.rec_credits[at]
                        )
                        self.isrcs_of[row_id] = list(self.album_isrcs.get(row_id, []))
            self.shared_isrcs.setdefault(code, [before]).append(after)
            self.isrc(after, code)

    def album(self) -> None:
        rng = self.rng
        credit = rng.choice(self.single)
        roll = rng.random()
        kind = "Album" if roll < 0.5 else "EP" if roll < 0.7 else "Single"
        low, high = {"Album": (8, 14), "EP": (4, 6), "Single": (1, 3)}[kind]
        self.album_isrcs, self.rec_gids = {}, {}
        recordings = [self.recording(credit) for _ in range(rng.randint(low, high))]
        self.share_isrcs(recordings)
        group = self.release_group(credit, kind, live=rng.random() < 0.03)
        editions = rng.choices((1, 2, 3, 4, 5), weights=(60, 25, 8, 4, 3))[0]
        for edition in range(editions):
            tracks = recordings
            if edition and kind == "Album" and rng.random() < 0.3:  # a deluxe edition
                bonus = [self.recording(credit) for _ in range(rng.randint(1, 3))]
                tracks = recordings + bonus
            self.release(group, credit, tracks)

    def compilation(self) -> None:
        rng = self.rng
        group = self.release_group(self.various, "Album", compilation=True)
        count = min(len(self.rec_names), rng.randint(12, 20))
        picked = [1 + i for i in rng.sample(range(len(self.rec_names)), count)]
        self.release(group, self.various, picked)

    def release_group(
        self, credit: int, kind: str, *, compilation: bool = False, live: bool = False
    ) -> int:
        self.release_groups += 1
        group, gid = self.next_id("release_group"), self.gid()
        self.group_name = self.phrase(1, 4)
        self.add(
            "release_group",
            ("id", "gid", "name", "artist_credit", "type"),
            (group, gid, self.group_name, credit, self.primary[kind]),
        )
        self.sample("release_group", group, gid)
        for secondary, wanted in zip(self.secondary, (compilation, live), strict=True):
            if wanted:
                self.add(
                    "release_group_secondary_type_join",
                    ("release_group", "secondary_type"),
                    (group, secondary),
                )
        return group

    def release(self, group: int, credit: int, recordings: list[int]) -> None:
        rng = self.rng
        release, gid = self.next_id("release"), self.gid()
        barcode = None
        if rng.random() < 0.8:
            digits = 12 if rng.random() < 0.7 else 13
            barcode = str(rng.randrange(10 ** (digits - 1), 10**digits))
        status = self.statuses[0] if rng.random() < 0.9 else rng.choice(self.statuses)
        title = self.group_name
        if rng.random() < 0.1:
            title += " (Deluxe Edition)"
        self.add(
            "release",
            ("id", "gid", "name", "artist_credit", "release_group", "status", "barcode"),
            (release, gid, title, credit, group, status, barcode),
        )
        if self.sample("release", release, gid) and barcode:
            self.mirror.barcodes.append(barcode)
        self.events(release)
        for _ in range(1 if rng.random() < 0.85 else 2):
            letters = "".join(rng.choices("ABCDEFGHKLMRSTVX", k=rng.randint(2, 4)))
            self.add(
                "release_label",
                ("id", "release", "label", "catalog_number"),
                (
                    self.next_id("release_label"),
                    release,
                    rng.choice(self.labels),
                    f"{letters}-{rng.randint(1, 99_999)}",
                ),
            )
        discs = 2 if len(recordings) > 10 and rng.random() < 0.2 else 1
        per_disc = -(-len(recordings) // discs)
        medium_format = rng.choice(self.formats) if rng.random() < 0.95 else None
        for disc in range(1, discs + 1):
            chunk = recordings[(disc - 1) * per_disc : disc * per_disc]
            medium = self.next_id("medium")
            self.add(
                "medium",
                ("id", "gid", "release", "position", "format", "name", "track_count"),
                (medium, self.gid(), release, disc, medium_format, "", len(chunk)),
            )
            for position, recording in enumerate(chunk, start=1):
                self.track(recording, medium, position)
                if recording in self.followed:
                    self.followed_tracks[recording].append(
                        ExpectedTrack(self.last_track, str(gid), title, barcode, disc, position)
                    )

    last_track = ""

    def track(self, recording: int, medium: int, position: int) -> None:
        rng = self.rng
        at = recording - 1
        name = self.rec_names[at]
        if rng.random() < 0.06:
            name += rng.choice((" (Remastered)", " (Radio Edit)", " (Live)"))
        track, gid = self.next_id("track"), self.gid()
        self.add(
            "track",
            (
                "id",
                "gid",
                "recording",
                "medium",
                "position",
                "number",
                "name",
                "artist_credit",
                "length",
            ),
            (
                track,
                gid,
                recording,
                medium,
                position,
                str(position),
                name,
                self.rec_credits[at],
                self.rec_lengths[at],
            ),
        )
        self.sample("track", track, gid)
        self.last_track = str(gid)

    def events(self, release: int) -> None:
        rng = self.rng
        roll = rng.random()
        if roll < 0.05:
            return  # no release event
        year = rng.randint(1960, 2025)
        month = rng.randint(1, 12) if rng.random() < 0.8 else None
        day = rng.randint(1, 28) if month and rng.random() < 0.7 else None
        if roll < 0.1:
            self.add(
                "release_unknown_country",
                ("release", "date_year", "date_month", "date_day"),
                (release, year, month, day),
            )
            return
        count = rng.choices((1, 2, 3), weights=(80, 15, 5))[0]
        for country in rng.sample(self.countries, count):
            self.add(
                "release_country",
                ("release", "country", "date_year", "date_month", "date_day"),
                (release, country, year, month, day),
            )

    def redirects(self) -> None:
        """Merged MBIDs: 2 % of the recordings, 1 % of the other entities. The first ones
        point at sampled entities (their current MBID is known: :attr:`Mirror.redirects`)."""
        rng = self.rng
        shares = {"recording": 0.02, "track": 0.01, "release": 0.01}
        shares |= {"release_group": 0.01, "artist": 0.01}
        for kind, share in shares.items():
            total = self.ids[kind]
            known = self.gids.get(kind, [])[:50]
            found = self.mirror.redirects.setdefault(kind, [])
            targets = [row_id for row_id, _ in known]
            targets += rng.choices(range(1, total + 1), k=max(1, int(total * share)))
            for n, target in enumerate(targets):
                old = self.gid()
                self.add(f"{kind}_gid_redirect", ("gid", "new_id"), (old, target))
                if n < len(known):
                    found.append((str(old), known[n][1]))

    def finish(self) -> None:
        mirror = self.mirror
        for kind, attribute in (
            ("track", "tracks"),
            ("recording", "recording_ids"),
            ("release", "releases"),
            ("artist", "artists"),
        ):
            setattr(mirror, attribute, [gid for _, gid in self.gids.get(kind, [])])
        for recording, (gid, name, credit) in self.followed.items():
            codes = tuple(self.isrcs_of.get(recording, ()))
            mirror.expected.append(
                Expected(
                    recording=gid,
                    title=name,
                    credit=self.credit_names[credit],
                    artists=self.credit_artists[credit],
                    isrcs=codes,
                    tracks=tuple(self.followed_tracks[recording]),
                )
            )
            for code in codes:
                holders = self.shared_isrcs.get(code, [recording])
                mirror.isrc_recordings[code] = [self.followed[r][0] for r in holders]


def _base36(n: int) -> str:
    digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    out = ""
    while n:
        n, r = divmod(n, 36)
        out = digits[r] + out
    return out or "0"


# --- writing -----------------------------------------------------------------------------


def _sqlite_path(url: str) -> str:
    return sa.make_url(url).database or ""


class _SqliteLoad:
    """Rows into a SQLite file: one transaction, ``executemany``, no foreign key checks (the
    rows are consistent), no fsync until the end."""

    def __init__(self, url: str) -> None:
        self.conn = sqlite3.connect(_sqlite_path(url), isolation_level=None)
        self.conn.execute("PRAGMA foreign_keys=OFF")
        self.conn.execute("PRAGMA synchronous=OFF")
        self.conn.execute("PRAGMA cache_size=-262144")  # 256 MiB
        self.conn.execute("BEGIN")

    def write(self, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
        # Gids are stored as 32 hex digits (SQLAlchemy's UUID type on SQLite), dates as text.
        converted = [
            tuple(
                v.hex
                if isinstance(v, uuid.UUID)
                else v.strftime("%Y-%m-%d %H:%M:%S.%f")
                if isinstance(v, datetime)
                else v
                for v in row
            )
            for row in rows
        ]
        marks = ", ".join("?" for _ in columns)
        self.conn.executemany(
            f'INSERT INTO "{table}" ({", ".join(columns)}) VALUES ({marks})', converted
        )

    def indexes(self, tables: Sequence[str]) -> list[tuple[str, str]]:
        found = self.conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
            f"AND tbl_name IN ({', '.join('?' for _ in tables)}) ORDER BY name",
            list(tables),
        )
        return [(str(name), str(sql)) for name, sql in found]

    def execute(self, sql: str) -> None:
        self.conn.execute(sql)

    def drop_index(self, name: str) -> None:
        self.conn.execute(f'DROP INDEX "{name}"')

    def commit(self) -> None:
        self.conn.execute("COMMIT")
        self.conn.close()


class _PostgresLoad:
    """Rows into PostgreSQL with ``COPY``, in one transaction, foreign keys unchecked."""

    def __init__(self, url: str, schema: str) -> None:
        import psycopg

        parsed = sa.make_url(url).set(drivername="postgresql")
        self.conn = psycopg.connect(parsed.render_as_string(hide_password=False))
        self.schema = schema
        with self.conn.cursor() as cur:
            cur.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
            row = cur.fetchone()
            if row and row[0]:
                cur.execute("SET session_replication_role = replica")
            cur.execute("SET maintenance_work_mem = '512MB'")

    def write(self, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
        statement = f'COPY "{self.schema}"."{table}" ({", ".join(columns)}) FROM STDIN'
        with self.conn.cursor() as cur, cur.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)

    def indexes(self, tables: Sequence[str]) -> list[tuple[str, str]]:
        with self.conn.cursor() as cur:
            cur.execute(
                "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.schemaname = %s "
                "AND i.tablename = ANY(%s) AND NOT EXISTS (SELECT 1 FROM pg_constraint c "
                "JOIN pg_namespace n ON n.oid = c.connamespace "
                "WHERE n.nspname = i.schemaname AND c.conname = i.indexname) "
                "ORDER BY i.indexname",
                (self.schema, list(tables)),
            )
            return [(str(name), str(sql)) for name, sql in cur.fetchall()]

    def execute(self, sql: str) -> None:
        with self.conn.cursor() as cur:
            cur.execute(sql)  # type: ignore[arg-type]

    def drop_index(self, name: str) -> None:
        self.execute(f'DROP INDEX "{self.schema}"."{name}"')

    def commit(self) -> None:
        self.conn.commit()
        self.conn.close()


# --- the whole mirror --------------------------------------------------------------------


def fill(
    url: str,
    recordings: int = DEFAULT_RECORDINGS,
    seed: int = DEFAULT_SEED,
    schema: str = "musicbrainz",
    progress: Callable[[str], None] = lambda _line: None,
) -> Mirror:
    """Create the mirror's tables at ``url`` (an empty database), load ``recordings``
    recordings with everything around them, build the search index and ANALYZE."""
    from earmark.musicbrainz import catalog_search
    from earmark.musicbrainz.schema import SUBSET_TABLES, MusicBrainzDatabase

    if recordings < 20:
        raise ValueError("the mirror needs at least 20 recordings")
    mirror = Mirror(url=url, schema=schema, recordings=recordings, seed=seed)
    database = MusicBrainzDatabase.from_url(url, schema)
    try:
        started = time.perf_counter()
        database.create_schema()
        sqlite = database.engine.dialect.name == "sqlite"
        load: _SqliteLoad | _PostgresLoad = (
            _SqliteLoad(url) if sqlite else _PostgresLoad(url, schema)
        )
        indexes = load.indexes(SUBSET_TABLES)
        for name, _ in indexes:
            load.drop_index(name)
        sink = _Sink(load.write)
        _Generator(sink, recordings, seed, mirror).run()
        mirror.rows = dict(sink.counts)
        mirror.seconds["rows"] = time.perf_counter() - started
        progress(f"{sum(mirror.rows.values()):,} rows in {mirror.seconds['rows']:.1f} s")
        started = time.perf_counter()
        for _, sql in indexes:
            load.execute(sql)
        load.commit()
        mirror.seconds["indexes"] = time.perf_counter() - started
        progress(f"{len(indexes)} indexes in {mirror.seconds['indexes']:.1f} s")
        started = time.perf_counter()
        catalog_search.build_index(database)
        mirror.seconds["search index"] = time.perf_counter() - started
        progress(f"search index in {mirror.seconds['search index']:.1f} s")
        started = time.perf_counter()
        database.analyze()
        mirror.seconds["analyze"] = time.perf_counter() - started
        mirror.bytes_on_disk = _size(database)
    finally:
        database.dispose()
    return mirror


def _size(database: Any) -> int:
    engine = database.engine
    if engine.dialect.name == "sqlite":
        path = Path(_sqlite_path(str(engine.url)))
        return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))
    with engine.connect() as conn:
        return int(conn.exec_driver_sql("SELECT pg_database_size(current_database())").scalar())


@contextmanager
def fresh_database(
    kind: str, workdir: Path, *, keep: bool = False, admin_url: str = PG_ADMIN
) -> Iterator[str]:
    """A URL of an empty database: a SQLite file in ``workdir``, or a new PostgreSQL database
    on ``EARMARK_BENCH_POSTGRES_URL`` dropped afterwards unless ``keep``."""
    if kind == "sqlite":
        yield f"sqlite:///{workdir / 'musicbrainz.db'}"
        return
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"earmark_bench_catalog_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    try:
        yield sa.make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        if not keep:
            with admin.connect() as conn:
                conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.dispose()


def describe(mirror: Mirror) -> str:
    rows = mirror.rows
    lines = [
        f"{mirror.url.split('@')[-1]}: {mirror.recordings:,} recordings (seed {mirror.seed})",
        "  "
        + ", ".join(
            f"{name} {rows.get(name, 0):,}"
            for name in ("artist", "release_group", "release", "medium", "track", "isrc")
        ),
        f"  {sum(rows.values()):,} rows; "
        + ", ".join(f"{k} {v:.1f} s" for k, v in mirror.seconds.items())
        + f"; {mirror.bytes_on_disk / 2**20:,.0f} MiB on disk",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--recordings", type=int, default=DEFAULT_RECORDINGS)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--sqlite", type=Path, help="write a SQLite mirror at this path")
    parser.add_argument(
        "--postgresql-url",
        help="server to create a fresh database on (default: EARMARK_BENCH_POSTGRES_URL)",
        nargs="?",
        const=PG_ADMIN,
    )
    parser.add_argument("--keep", action="store_true", help="keep the PostgreSQL database")
    args = parser.parse_args()
    if args.sqlite is None and args.postgresql_url is None:
        parser.error("give --sqlite PATH and/or --postgresql-url [URL]")
    if args.sqlite is not None:
        if args.sqlite.exists():
            parser.error(f"{args.sqlite} exists")
        mirror = fill(f"sqlite:///{args.sqlite}", args.recordings, args.seed, progress=print)
        print(describe(mirror))
    if args.postgresql_url is not None:
        with fresh_database(
            "postgresql", Path("."), keep=args.keep, admin_url=args.postgresql_url
        ) as url:
            mirror = fill(url, args.recordings, args.seed, progress=print)
            print(describe(mirror))
            if args.keep:
                print(f"kept: {url}")


if __name__ == "__main__":
    main()
