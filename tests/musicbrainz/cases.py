"""The golden lookups on mbdata's sample: requests and the meta values each golden file answers."""

from __future__ import annotations

from earmark.db.meta import UserMeta
from earmark.musicbrainz.enrich import ResultLinks
from earmark.musicbrainz.sample import SAMPLE_RECORDING
from tests.musicbrainz.support import links, mbid_link

MOON = SAMPLE_RECORDING  # "Moon", 367000 ms: the reference server's own test case
# Not in the sample (the reference's test expects it back as a bare id).
MISSING = "b81f83ee-4da4-11e0-9ed8-0025225356f3"
SMALL_PIANO_PIECE = "77ef7468-e8f8-4447-9c7e-52b11272c6cc"  # Pølar Mix disc 1, track 1
MOTHERS_HEALTH = "be80f050-1549-4a3e-8a65-5d28e14b1a20"  # disc 2; track title differs
SILENT_SHOUT = "e2c36349-6092-4b26-8eec-40c5a3c89e54"  # Pølar Mix, 14986 ms
LITHIUM = "4bbda17a-f2e2-4584-9a86-ac9254ea4a06"  # XVI Reflections (2009)

SAMPLE_REQUEST = [
    ("moon", 0.98, links((MOON, 3), (MISSING, 1))),
    ("polar", 0.91, links((SMALL_PIANO_PIECE, 5), (MOTHERS_HEALTH, 2))),
    ("nothing", 0.5, ResultLinks()),
    ("two-releases", 0.45, links((LITHIUM, 4), (SILENT_SHOUT, 1))),
    ("unknown", 0.4, links((MISSING, 7))),
]

USERMETA_REQUEST = [
    (
        "moon-user",
        1.0,
        ResultLinks(
            [mbid_link(MISSING, 2)],
            [
                UserMeta(
                    track="Moon",
                    artist="Alva Noto & Ryuichi Sakamoto",
                    album="XVI Reflections on Classical Music",
                    album_artist="Various Artists",
                    track_no=5,
                    disc_no=1,
                    year=2009,
                ),
                UserMeta(track="Moon (live)", artist="Alva Noto"),
            ],
        ),
    ),
    ("album-only", 0.7, ResultLinks([], [UserMeta(album="Tagged Album", year=2001)])),
    ("bare", 0.6, ResultLinks()),
]

SAMPLE_META = [
    "recordings",
    "recordingids",
    "recordings sources",
    "isrcs",
    "recordings releasegroups",
    "recordings releasegroupids",
    "recordings releases",
    "recordings releaseids",
    "recordings releasegroups releases tracks",
    "recordings releasegroups releases tracks compress sources",
    "recordings releases tracks compress",
    "recordingids releasegroups releaseids",
    "releasegroups",
    "releasegroupids",
    "releasegroups releases tracks compress",
    "releases",
    "releaseids",
    "releases tracks compress",
    "2",
]

USERMETA_META = [
    "recordings usermeta",
    "recordings releasegroups releases tracks usermeta",
    "recordings releases tracks compress sources usermeta",
]


def golden_name(prefix: str, meta: str) -> str:
    return f"{prefix}_{'_'.join(meta.split())}.json"
