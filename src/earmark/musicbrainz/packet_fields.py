"""The fields of replication packet rows that are more than a number: table names, v1 row
data, key-column arrays (see :mod:`earmark.musicbrainz.packet`). Each raises ValueError."""

from __future__ import annotations

import re

SCHEMA = "musicbrainz"
_V1_PAIR = re.compile(r'"((?:[^"]|"")+)"(?:=\'((?:[^\']|\'\')*)\')? ')


def parse_table_name(text: str) -> tuple[str, str]:
    """``schema.table`` with identifiers quoted when needed → (schema, table); no schema means
    ``musicbrainz`` (the oldest v1 packets)."""
    parts: list[str] = []
    rest = text
    while True:
        if rest.startswith('"'):
            end = 1
            while True:
                end = rest.find('"', end)
                if end < 0:
                    raise ValueError(f"bad table name {text!r}")
                if rest[end + 1 : end + 2] == '"':
                    end += 2
                    continue
                break
            parts.append(rest[1:end].replace('""', '"'))
            rest = rest[end + 1 :]
        else:
            name, dot, after = rest.partition(".")
            parts.append(name)
            rest = dot + after
        if not rest:
            break
        if not rest.startswith("."):
            raise ValueError(f"bad table name {text!r}")
        rest = rest[1:]
    if len(parts) == 1:
        parts.insert(0, SCHEMA)
    if len(parts) != 2 or not all(parts):
        raise ValueError(f"bad table name {text!r}")
    return parts[0], parts[1]


def parse_v1_data(text: str) -> dict[str, str | None]:
    """A v1 ``Data`` field: ``"col"='value' `` pairs (``''`` is a quote, ``\\\\`` a backslash),
    a column without ``=`` is NULL."""
    values: dict[str, str | None] = {}
    position = 0
    for match in _V1_PAIR.finditer(text):
        if match.start() != position:
            break
        name, value = match.group(1).replace('""', '"'), match.group(2)
        values[name] = None if value is None else value.replace("''", "'").replace("\\\\", "\\")
        position = match.end()
    if position != len(text):
        raise ValueError(f"bad v1 data at character {position}")
    return values


def text_array(text: str) -> tuple[str, ...]:
    """A PostgreSQL text[] of plain identifiers (``{id}``, ``{artist_credit,position}``)."""
    if not (text.startswith("{") and text.endswith("}")):
        raise ValueError(f"not an array: {text[:40]!r}")
    names = tuple(name.strip().strip('"') for name in text[1:-1].split(","))
    if not names or not all(name.isidentifier() for name in names):
        raise ValueError(f"bad key columns {text[:80]!r}")
    return names
