"""Typed values shared by the engine modules."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

U32Array = npt.NDArray[np.uint32]
U64Array = npt.NDArray[np.uint64]
BoolArray = npt.NDArray[np.bool_]

MAX_U32 = 0xFFFFFFFF


@dataclass(frozen=True, slots=True)
class Insert:
    """Upsert of one document: its previous terms are replaced entirely."""

    id: int
    hashes: U32Array


@dataclass(frozen=True, slots=True)
class Delete:
    id: int


@dataclass(frozen=True, slots=True)
class SetMetadata:
    entries: tuple[tuple[str, str], ...]


Change = Insert | Delete | SetMetadata
