"""The `current` file of an index name: which generation is live, or that it was deleted.

Generations are the lineage id of a name (spec §2.3): each create gets a number above every
earlier one, so data of a deleted index can never reappear under the same name.
"""

from __future__ import annotations

import json
import re
import zlib
from dataclasses import dataclass
from pathlib import Path

from earmark.index.engine.durable import write_atomic
from earmark.index.engine.errors import CorruptFileError, InvalidIndexNameError

CURRENT_NAME = "current"
_NAME_RE = re.compile(r"[A-Za-z0-9_-]{1,255}")


def is_valid_name(name: str) -> bool:
    return _NAME_RE.fullmatch(name) is not None


def check_name(name: str) -> None:
    if not is_valid_name(name):
        raise InvalidIndexNameError()


def generation_dir(name_dir: Path, generation: int) -> Path:
    return name_dir / f"v{generation:06d}"


@dataclass(frozen=True)
class Lineage:
    name: str
    generation: int
    deleted: bool


def write_lineage(name_dir: Path, lineage: Lineage) -> None:
    body = json.dumps(
        {"name": lineage.name, "generation": lineage.generation, "deleted": lineage.deleted},
        sort_keys=True,
    ).encode()
    write_atomic(name_dir / CURRENT_NAME, body + b"\n" + b"%08x\n" % zlib.crc32(body))


def read_lineage(name_dir: Path) -> Lineage | None:
    path = name_dir / CURRENT_NAME
    if not path.exists():
        return None
    try:
        body, crc_line, _ = path.read_bytes().rsplit(b"\n", 2)
        if int(crc_line, 16) != zlib.crc32(body):
            raise CorruptFileError(path, "checksum mismatch")
        data = json.loads(body)
        return Lineage(str(data["name"]), int(data["generation"]), bool(data["deleted"]))
    except CorruptFileError:
        raise
    except (ValueError, KeyError, TypeError) as exc:
        raise CorruptFileError(path, f"{type(exc).__name__}: {exc}") from exc
