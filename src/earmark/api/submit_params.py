"""The parameters of ``/v2/submit`` and the legacy ``/submit`` (reference §4.1, §5.8).

Validated at the edge into :class:`FingerprintSubmission` values: one per ``.N`` suffix of a
``fingerprint`` key. As in lookup (§3.1), a suffix that fails to parse is dropped silently
unless it is the last one and none before it parsed, in which case its error is the answer
(§17 quirk 3, kept: clients batch-submit whole libraries and one bad file must not lose the
rest).

Beyond the reference, values that would break a later step are handled here instead of
failing as an internal error or poisoning the importer: integers too large for their column,
NUL and control characters (PostgreSQL text cannot hold NUL), and labels that end up in a
unique index (file format, client version, foreign id) longer than :data:`MAX_LABEL_LENGTH`.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from earmark.api import errors
from earmark.api.errors import ApiError
from earmark.api.params import (
    CONTROL,
    MAX_LABEL_LENGTH,
    Params,
    Suffix,
    clean_label,
    clean_text,
    decode_fingerprint,
    parse_int,
    parse_uuid,
    suffixed,
)
from earmark.db import foreignids
from earmark.db.meta import MetaValue

#: ``submission.length`` and ``submission.bitrate`` are SMALLINT (reference §4.1: 32767).
MAX_SMALLINT = 0x7FFF
#: ``meta.track_no`` / ``disc_no`` / ``year`` are INTEGER.
MAX_INT = 2**31 - 1
#: Longest file format, client version and foreign id kept. They become keys of unique
#: indexes in the importer (``format.name``, ``source.version``, ``foreignid.name``), and a
#: PostgreSQL B-tree entry cannot exceed ~2.7 kB.
#: Stand-in for integers with more digits than Python converts (``sys.int_max_str_digits``):
#: beyond every range checked here, so they fail or are dropped like any too-large value.
_HUGE = 10**30

_INT_TEXT = re.compile(r"\s*[-+]?[0-9]+\s*", re.A)  # what parse_int accepts


@dataclass(frozen=True, slots=True)
class Dialect:
    """How the v2 and v1 APIs name the per-fingerprint length and file format."""

    duration: str
    file_format: str
    legacy: bool


V2 = Dialect(duration="duration", file_format="fileformat", legacy=False)
V1 = Dialect(duration="length", file_format="format", legacy=True)


@dataclass(frozen=True, slots=True)
class FingerprintSubmission:
    """One submitted fingerprint and what was said about it (one ``.N`` suffix)."""

    #: The suffix as text ("0"), None for unsuffixed input (the response's ``index``).
    index: str | None
    fingerprint: npt.NDArray[np.uint32]
    length: int
    bitrate: int | None
    file_format: str | None
    mbids: tuple[uuid.UUID, ...]
    puid: uuid.UUID | None
    foreignid: str | None
    #: The raw metadata fields (not normalised: :func:`earmark.db.submissions.create` does it).
    meta: dict[str, MetaValue]


def bounded_int(text: str | None) -> int | None:
    """``text`` as an integer (None when it is not one), with absurdly long numbers mapped to
    ±10**30 instead of raising (Python refuses to convert more than 4300 digits)."""
    try:
        value = parse_int(text)
    except ValueError:
        value = None
    if value is not None:
        return max(-_HUGE, min(_HUGE, value))
    if text is not None and _INT_TEXT.fullmatch(text):
        return -_HUGE if text.strip().startswith("-") else _HUGE
    return None


def parse_submissions(params: Params, dialect: Dialect = V2) -> list[FingerprintSubmission]:
    """Every parseable submission, in suffix order (no suffix first); see the module doc."""
    suffixes = params.suffixes("fingerprint")
    if not suffixes:
        raise errors.missing_parameter("fingerprint")
    parsed: list[FingerprintSubmission] = []
    for position, suffix in enumerate(suffixes):
        try:
            parsed.append(parse_one(params, suffix, dialect))
        except ApiError:
            if not parsed and position == len(suffixes) - 1:
                raise
    return parsed


def parse_one(params: Params, suffix: Suffix, dialect: Dialect) -> FingerprintSubmission:
    """One suffix, validated in the reference's order: puid, foreignid, mbid, duration,
    fingerprint, bitrate; then the free fields, which never fail."""

    def name(base: str) -> str:
        return suffixed(base, suffix)

    def get(base: str) -> str | None:
        return params.get(name(base))

    puid_text = get("puid")
    puid = parse_uuid(puid_text, name("puid")) if puid_text else None
    foreignid = _foreignid(get("foreignid"), name("foreignid"))
    mbids = tuple(parse_uuid(value, name("mbid")) for value in params.getlist(name("mbid")))
    length = _length(get(dialect.duration), name(dialect.duration), dialect)
    fingerprint = _fingerprint(get("fingerprint"), name("fingerprint"))
    bitrate = _bitrate(get("bitrate"), name("bitrate"))
    meta: dict[str, MetaValue] = {}
    for field, param in (
        ("track", "track"),
        ("artist", "artist"),
        ("album", "album"),
        ("album_artist", "albumartist"),
    ):
        text = clean_text(get(param))
        if text is not None:
            meta[field] = text
    for field, param in (("track_no", "trackno"), ("disc_no", "discno"), ("year", "year")):
        number = bounded_int(get(param))
        # A non-integer is dropped silently (the reference's ``type=int``); so is a value the
        # ``meta`` table's INTEGER columns cannot hold.
        if number is not None and -MAX_INT <= number <= MAX_INT:
            meta[field] = number
    return FingerprintSubmission(
        index=None if suffix is None else str(suffix),
        fingerprint=fingerprint,
        length=length,
        bitrate=bitrate,
        file_format=clean_label(get(dialect.file_format)),
        mbids=mbids,
        puid=puid,
        foreignid=foreignid,
        meta=meta,
    )


def _foreignid(text: str | None, name: str) -> str | None:
    """``vendor:id`` (error 10), empty meaning absent. Stricter than the reference: the id must
    be one line without control characters and at most :data:`MAX_LABEL_LENGTH` long."""
    if not text:
        return None
    if (
        len(text) > MAX_LABEL_LENGTH
        or CONTROL.search(text) is not None
        or not foreignids.is_valid(text)
    ):
        raise errors.invalid_foreignid(name)
    return text


def _length(text: str | None, name: str, dialect: Dialect) -> int:
    """v2 ``duration``: missing or not an integer → 2, outside 1..32767 → 8.
    v1 ``length``: any of those → 2 (a negative length, accepted by the reference, too)."""
    value = bounded_int(text)
    if dialect.legacy:
        if value is None or not 0 < value <= MAX_SMALLINT:
            raise errors.missing_parameter(name)
        return value
    if value is None:
        raise errors.missing_parameter(name)
    if not 0 < value <= MAX_SMALLINT:
        raise errors.invalid_duration(name)
    return value


def _fingerprint(text: str | None, name: str) -> npt.NDArray[np.uint32]:
    """Missing → 2; undecodable, empty or not Chromaprint's version 1 → 3."""
    if not text:
        raise errors.missing_parameter(name)
    return decode_fingerprint(text)


def _bitrate(text: str | None, name: str) -> int | None:
    """Not an integer or 0 → absent; negative → 9. Beyond the reference, a bitrate the SMALLINT
    column cannot hold is dropped too (the reference fails with an internal error)."""
    value = bounded_int(text)
    if not value:
        return None
    if value < 0:
        raise errors.invalid_bitrate(name)
    return value if value <= MAX_SMALLINT else None
