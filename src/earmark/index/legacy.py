"""The legacy TCP line protocol of the old C++ server (spec §6.7), on the index `main`.

One command per line; replies are `OK <payload>` or `ERR <message>`, CRLF-terminated.
Commands run on the event loop except commits, which fsync and so go to a worker thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field

import numpy as np

from earmark.index.engine import (
    Change,
    EngineError,
    Index,
    Insert,
    MultiIndex,
    SearchParams,
    SetMetadata,
)
from earmark.index.engine.types import MAX_U32

log = logging.getLogger(__name__)

INDEX_NAME = "main"
MAX_LINE = 256 * 1024
DEFAULT_IDLE_TIMEOUT_S = 60


class LegacyProtocolError(Exception):
    pass


@dataclass
class Session:
    max_results: int = 500
    top_score_percent: int = 10
    timeout: int = 0
    idle_timeout: int = DEFAULT_IDLE_TIMEOUT_S
    transaction: list[Change] | None = None
    pending_attributes: dict[str, str] = field(default_factory=dict)


_SESSION_ATTRIBUTES = ("max_results", "top_score_percent", "timeout", "idle_timeout")


def _parse_hashes(text: str) -> np.ndarray[tuple[int], np.dtype[np.uint32]]:
    values = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            v = int(part)
        except ValueError as exc:
            raise LegacyProtocolError(f"invalid hash {part!r}") from exc
        if not -(1 << 31) <= v <= MAX_U32:
            raise LegacyProtocolError(f"hash out of range {part!r}")
        values.append(v & MAX_U32)  # signed decimals are the same 32 bits
    return np.array(values, dtype=np.uint32)


class LegacyProtocol:
    def __init__(self, engine: MultiIndex) -> None:
        self.engine = engine

    def _index(self) -> Index:
        try:
            return self.engine.get(INDEX_NAME)
        except EngineError:
            self.engine.create(INDEX_NAME)
            return self.engine.get(INDEX_NAME)

    async def execute(self, session: Session, line: str) -> str:
        try:
            return "OK " + await self._execute(session, line)
        except LegacyProtocolError as exc:
            return f"ERR {exc}"
        except EngineError as exc:
            return f"ERR {exc.name}"

    async def _execute(self, session: Session, line: str) -> str:
        command, _, rest = line.strip().partition(" ")
        rest = rest.strip()
        if command == "":
            return ""
        if command == "echo":
            return rest
        if command == "search":
            hashes = _parse_hashes(rest)
            params = SearchParams(
                hashes,
                limit=session.max_results,
                min_score=1,
                score_pct=session.top_score_percent,
                timeout_ms=session.timeout,
                max_limit=max(session.max_results, 1),
            )
            results = self._index().search(params)
            return " ".join(f"{r.id}:{r.score}" for r in results)
        if command == "begin":
            if session.transaction is not None:
                raise LegacyProtocolError("already in transaction")
            session.transaction = []
            return ""
        needs_transaction = ("insert", "commit", "rollback", "optimize", "cleanup")
        if command in needs_transaction and session.transaction is None:
            raise LegacyProtocolError("not in transaction")
        if command == "insert":
            doc, _, hashes_text = rest.partition(" ")
            if not doc.isdigit() or not 0 < int(doc) <= MAX_U32:
                raise LegacyProtocolError("invalid document id")
            assert session.transaction is not None
            session.transaction.append(Insert(int(doc), _parse_hashes(hashes_text)))
            return ""
        if command == "commit":
            changes = list(session.transaction or [])
            if session.pending_attributes:
                changes.append(SetMetadata(tuple(session.pending_attributes.items())))
            index = self._index()
            await asyncio.to_thread(index.update, changes)
            session.transaction = None
            session.pending_attributes = {}
            return ""
        if command == "rollback":
            session.transaction = None
            session.pending_attributes = {}
            return ""
        if command in ("optimize", "cleanup"):
            return ""
        if command == "get":
            name = (
                rest.removeprefix("attribute ").strip() if rest.startswith("attribute ") else rest
            )
            if name in _SESSION_ATTRIBUTES:
                return str(getattr(session, name))
            return str(self._index().info().metadata.get(name, ""))
        if command == "set":
            if rest.startswith("attribute "):
                rest = rest[len("attribute ") :].strip()
            name, _, value = rest.partition(" ")
            value = value.strip()
            if not name:
                raise LegacyProtocolError("missing attribute name")
            if name in _SESSION_ATTRIBUTES:
                if not value.isdigit():
                    raise LegacyProtocolError(f"invalid value for {name}")
                setattr(session, name, int(value))
                return ""
            if session.transaction is None:
                raise LegacyProtocolError("not in transaction")
            session.pending_attributes[name] = value
            return ""
        raise LegacyProtocolError(f"unknown command {command!r}")

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = Session()
        try:
            while True:
                try:
                    line = await asyncio.wait_for(reader.readline(), session.idle_timeout or None)
                except (TimeoutError, asyncio.LimitOverrunError, ValueError):
                    break
                if not line:
                    break
                reply = await self.execute(session, line.decode("utf-8", "replace"))
                writer.write(reply.encode() + b"\r\n")
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()


async def serve_legacy(engine: MultiIndex, host: str, port: int) -> asyncio.Server:
    protocol = LegacyProtocol(engine)
    return await asyncio.start_server(protocol.handle, host, port, limit=MAX_LINE)
