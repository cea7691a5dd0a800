"""Engine errors. Each carries the error name of the reference wire contract (spec §2.1)."""

from __future__ import annotations

from pathlib import Path


class EngineError(Exception):
    """Base class; `name` is the error name clients see (`{"error": name}`)."""

    name = "InternalError"


class IndexNotFoundError(EngineError):
    name = "IndexNotFound"


class IndexAlreadyExistsError(EngineError):
    name = "IndexAlreadyExists"


class OlderIndexAlreadyExistsError(EngineError):
    name = "OlderIndexAlreadyExists"


class NewerIndexAlreadyExistsError(EngineError):
    name = "NewerIndexAlreadyExists"


class InvalidIndexNameError(EngineError):
    name = "InvalidIndexName"


class InvalidFingerprintIdError(EngineError):
    name = "InvalidFingerprintId"


class FingerprintNotFoundError(EngineError):
    name = "FingerprintNotFound"


class VersionMismatchError(EngineError):
    name = "VersionMismatch"


class VersionWentBackwardsError(EngineError):
    """A commit with an upstream version not above the index's version (spec §4.2)."""

    name = "VersionWentBackwards"


class SearchTimeoutError(EngineError):
    name = "SearchTimeout"


class IndexClosedError(EngineError):
    """The index was deleted or the engine shut down while the call was in flight."""

    name = "IndexNotFound"


class CorruptFileError(EngineError):
    """A segment, manifest or lineage file failed its checksum or structure check.

    Raised at open time so that a damaged file stops startup loudly, naming the file,
    instead of silently dropping the documents it holds.
    """

    name = "CorruptFile"

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"corrupt index file {path}: {reason}")
        self.path = path
        self.reason = reason
