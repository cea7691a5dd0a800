"""The synthetic mirror's shape (bench/catalog_mirror.py): sizes, vocabularies and what the
generator hands back for the benchmark to ask and check."""

from __future__ import annotations

from dataclasses import dataclass, field

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
