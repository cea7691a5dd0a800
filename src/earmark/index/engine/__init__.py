"""Storage engine of the fingerprint index: WAL, segments, merges, snapshots.

Pure Python + numpy; knows nothing of HTTP. See docs/index.md for the design.
"""

from earmark.index.engine.errors import (
    CorruptFileError,
    EngineError,
    FingerprintNotFoundError,
    IndexAlreadyExistsError,
    IndexNotFoundError,
    InvalidFingerprintIdError,
    InvalidIndexNameError,
    NewerIndexAlreadyExistsError,
    OlderIndexAlreadyExistsError,
    SearchTimeoutError,
    VersionMismatchError,
)
from earmark.index.engine.index import Index, IndexInfo, IndexSettings
from earmark.index.engine.multi import CreateResult, MultiIndex
from earmark.index.engine.search import SearchParams, SearchResult
from earmark.index.engine.types import Change, Delete, Insert, SetMetadata

__all__ = [
    "Change",
    "CorruptFileError",
    "CreateResult",
    "Delete",
    "EngineError",
    "FingerprintNotFoundError",
    "Index",
    "IndexAlreadyExistsError",
    "IndexInfo",
    "IndexNotFoundError",
    "IndexSettings",
    "Insert",
    "InvalidFingerprintIdError",
    "InvalidIndexNameError",
    "MultiIndex",
    "NewerIndexAlreadyExistsError",
    "OlderIndexAlreadyExistsError",
    "SearchParams",
    "SearchResult",
    "SearchTimeoutError",
    "SetMetadata",
    "VersionMismatchError",
]
