"""The `current` file of an index name: which generation is live, or that it was deleted.

Generations are the lineage id of a name (spec §2.3): each create gets a number above every
earlier one, so data of a deleted index can never reappear under the same name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from earmark.index.engine.durable import read_checked_json, write_checked_json
from earmark.index.engine.errors import InvalidIndexNameError

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
    data = {"name": lineage.name, "generation": lineage.generation, "deleted": lineage.deleted}
    write_checked_json(name_dir / CURRENT_NAME, data)


def read_lineage(name_dir: Path) -> Lineage | None:
    return read_checked_json(name_dir / CURRENT_NAME, _parse_lineage)


def _parse_lineage(data: dict[str, Any]) -> Lineage:
    return Lineage(str(data["name"]), int(data["generation"]), bool(data["deleted"]))
