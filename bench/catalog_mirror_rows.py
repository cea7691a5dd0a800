"""The synthetic mirror's rows (bench/catalog_mirror.py): a seeded generator shaped like
MusicBrainz, writing through a sink that flushes in large batches."""

from __future__ import annotations

import random
import unicodedata
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from itertools import accumulate, pairwise
from typing import Any

from catalog_mirror_shape import (
    ACCENTED,
    ARTIST_COLUMNS,
    ARTIST_TYPES,
    COUNTRIES,
    FLUSH_ROWS,
    FORMATS,
    ISRC_COUNTRIES,
    JOINS,
    PRIMARY_TYPES,
    REPLICATION_SEQUENCE,
    SAMPLES,
    SCHEMA_SEQUENCE,
    SECONDARY_TYPES,
    STATUSES,
    SYLLABLES,
    VOCABULARY,
    Expected,
    ExpectedTrack,
    Mirror,
)

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
