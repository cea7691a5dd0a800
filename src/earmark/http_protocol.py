"""uvicorn's HTTP protocol with each answer sent as one TCP segment instead of two.

uvicorn writes a response's head as soon as the app starts it and the body when the app sends
it: two ``send()`` calls, two segments, two wake-ups of the peer. On loopback and on virtual
machines the kernel's share of a small answer (an index search, a lookup) is a large part of
its cost; measured on the web service's benchmark, the index server spent a quarter of its CPU
in those sends. :class:`CoalescingTransport` holds the writes made during one turn of the
event loop and sends them together at the end of that turn, so the head and the body of an
answer leave in one ``send()``; nothing waits longer than the current turn.

Used by ``earmark run api``, ``earmark serve`` and ``earmark run index`` through
:func:`protocol_class` (uvicorn's ``http`` option).
"""

from __future__ import annotations

import asyncio
from typing import Any, cast


class CoalescingTransport:
    """A transport whose writes of one event-loop turn leave in one ``write()`` of the real
    transport; anything else is the real transport's."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not data:
            return
        if not self._pending:
            self._loop.call_soon(self.flush)
        self._pending.append(bytes(data))

    def writelines(self, chunks: Any) -> None:
        for chunk in chunks:
            self.write(chunk)

    def flush(self) -> None:
        """Send what this turn wrote (a no-op when it was sent already)."""
        if not self._pending:
            return
        data = b"".join(self._pending) if len(self._pending) > 1 else self._pending[0]
        self._pending.clear()
        if not self._transport.is_closing():
            self._transport.write(data)

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + sum(map(len, self._pending))

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def close(self) -> None:
        self.flush()  # the answer before the FIN (``Connection: close``, shutdown)
        self._transport.close()

    def abort(self) -> None:
        self._pending.clear()
        self._transport.abort()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


def protocol_class() -> type[asyncio.Protocol]:
    """uvicorn's HTTP protocol (httptools when installed, else h11) over a
    :class:`CoalescingTransport`."""
    from uvicorn.protocols.http.auto import AutoHTTPProtocol

    class CoalescingProtocol(AutoHTTPProtocol):  # type: ignore[misc, valid-type]
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            real = cast(asyncio.Transport, transport)
            super().connection_made(CoalescingTransport(real, self.loop))

    return CoalescingProtocol
