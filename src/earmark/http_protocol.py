"""uvicorn's HTTP protocol (httptools) with Earmark's limits, each answer sent in one segment.

The limits, timeouts and connection cap, and how refusals are answered: docs/serving.md ("The
HTTP front"); what hostile input gets: docs/reliability.md. Head bytes are counted by
:class:`~earmark.http_limits.HeadScanner` *before* httptools sees them (it appends header pieces
one by one), so no more than a cap is ever read. :class:`CoalescingTransport` sends the writes
of one event-loop turn in one ``send()`` (uvicorn writes head and body apart: two segments, two
wake-ups; a quarter of the index server's CPU on the web-service benchmark).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, ClassVar, cast

import httptools
from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from earmark.http_limits import (
    BAD_REQUEST,
    HEAD_TOO_LARGE,
    OVERLOADED,
    PREFIX_BYTES,
    REQUEST_TIMEOUT,
    URI_TOO_LONG,
    ErrorAnswer,
    ErrorRenderer,
    HeadScanner,
    HeadVerdict,
    HttpLimits,
    connection_cap,
    last_head_end,
    plain_text,
    request_target,
)

log = logging.getLogger(__name__)


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


class LimitedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol behind the limits of the module docstring, over a
    :class:`CoalescingTransport`. :func:`protocol_class` makes a subclass with the limits and
    the renderer set."""

    limits: ClassVar[HttpLimits] = HttpLimits()
    renderer: ClassVar[ErrorRenderer] = staticmethod(plain_text)
    #: The connections this process holds at most (``limits.max_connections``, lowered when
    #: the open-file limit is too low for it).
    max_connections: ClassVar[int] = HttpLimits().max_connections

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.timeout_keep_alive = self.limits.keep_alive_timeout  # type: ignore[assignment]
        self.head = HeadScanner(self.limits.max_request_line, self.limits.max_head)
        self.in_head = True
        self.body_left: int | None = None
        self.over_cap = False
        self.finished = False
        self.head_timer: asyncio.TimerHandle | None = None
        self.body_timer: asyncio.TimerHandle | None = None

    # --- connection ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        coalescing = cast(
            asyncio.Transport, CoalescingTransport(cast(asyncio.Transport, transport), self.loop)
        )
        if len(self.connections) >= self.max_connections:
            # Not counted among the connections: it only waits for its request to refuse it.
            self.over_cap = True
            self.transport = coalescing
            self.head_timer = self.loop.call_later(
                min(OVER_CAP_WAIT_S, self.limits.head_timeout), self._refuse, None
            )
            return
        super().connection_made(coalescing)
        self.head_timer = self.loop.call_later(self.limits.head_timeout, self._head_timed_out)

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timers()
        super().connection_lost(exc)

    def _cancel_timers(self) -> None:
        for timer in (self.head_timer, self.body_timer):
            if timer is not None:
                timer.cancel()
        self.head_timer = self.body_timer = None

    # --- reading ------------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if self.finished:
            return
        if self.over_cap:
            self._refuse(data)
            return
        self._unset_keepalive_if_required()
        position, size = 0, len(data)
        while position < size and not self.finished:
            if self.in_head:
                if self.head_timer is None:
                    self.head_timer = self.loop.call_later(
                        self.limits.head_timeout, self._head_timed_out
                    )
                end, verdict = self.head.scan(data, position)
                if verdict is HeadVerdict.LINE_TOO_LONG:
                    self._reject(URI_TOO_LONG)
                    return
                if verdict is HeadVerdict.HEAD_TOO_LARGE:
                    self._reject(HEAD_TOO_LARGE)
                    return
                if not self._feed(data, position, end):
                    return
                position = end
                continue
            # A body: as much as it has left when its length is known, else all of it.
            known = bool(self.body_left)
            end = min(size, position + self.body_left) if self.body_left else size
            if self.body_left:
                self.body_left -= end - position
            if not self._feed(data, position, end):
                return
            if not known and self._reading_head():
                # A chunked body ended inside this read and a new head began after it: count
                # that head from the body's last empty line on.
                start = last_head_end(data, position, end)
                _, verdict = self.head.scan(data, start, end)
                if verdict is HeadVerdict.LINE_TOO_LONG:
                    self._reject(URI_TOO_LONG)
                elif verdict is HeadVerdict.HEAD_TOO_LARGE:
                    self._reject(HEAD_TOO_LARGE)
            position = end

    def _reading_head(self) -> bool:
        """Whether the parser is between messages or inside a head (the parser's callbacks
        change it while it is fed)."""
        return self.in_head

    def _feed(self, data: bytes, start: int, end: int) -> bool:
        """Give ``data[start:end]`` to the parser; False when reading this connection ends."""
        try:
            self.parser.feed_data(memoryview(data)[start:end])
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.finished = True  # another protocol reads from now on
                self.handle_websocket_upgrade()
            else:
                # As uvicorn: the request is answered as a plain one, the rest of this read
                # is dropped, and the connection goes on.
                self._unsupported_upgrade_warning()
                self.in_head = True
                self.head.reset()
            return False
        except httptools.HttpParserError:
            self._reject(BAD_REQUEST)
            return False
        return not self.finished

    # --- parser callbacks ---------------------------------------------------------------

    def on_headers_complete(self) -> None:
        self.in_head = False
        if self.head_timer is not None:
            self.head_timer.cancel()
            self.head_timer = None
        self.body_left = _content_length(self.headers)
        super().on_headers_complete()
        self.body_timer = self.loop.call_later(self.limits.body_timeout, self._body_timed_out)

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self.in_head = True
        self.head.reset()
        if self.body_timer is not None:
            self.body_timer.cancel()
            self.body_timer = None

    # --- refusals -----------------------------------------------------------------------

    def _head_timed_out(self) -> None:
        self.head_timer = None
        if self.finished or self.transport.is_closing():
            return
        if self.head.started:
            log.debug("%s: head incomplete after %gs", self.client, self.limits.head_timeout)
            self._reject(REQUEST_TIMEOUT)
        elif self.cycle is None or self.cycle.response_complete:
            self.finished = True
            self.transport.close()  # nothing was sent: nobody to answer

    def _body_timed_out(self) -> None:
        self.body_timer = None
        if self.finished or self.transport.is_closing():
            return
        if self.flow.read_paused:
            # The app is not reading the body (yet): not the client's fault.
            self.body_timer = self.loop.call_later(self.limits.body_timeout, self._body_timed_out)
            return
        log.debug("%s: request body incomplete after %gs", self.client, self.limits.body_timeout)
        self.finished = True
        self._cancel_timers()
        cycle = self.cycle
        if cycle.response_started:
            self.transport.close()  # the app answered without waiting for the body
            return
        # The app waits for the body: it gets a disconnect, the client the 408.
        cycle.disconnected = True
        cycle.message_event.set()
        self._answer(self.renderer(REQUEST_TIMEOUT, self.url))

    def _reject(self, status: int) -> None:
        """Refuse the head being received: answer ``status`` through the renderer and close;
        read nothing more."""
        self.finished = True
        self._cancel_timers()
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:
            # The request before it (pipelined) is still being answered: let that answer
            # finish, then close.
            cycle.keep_alive = False
            self.flow.pause_reading()
            return
        log.debug("%s: answered %d to a refused request", self.client, status)
        self._answer(self.renderer(status, request_target(self.head.prefix)))

    def _refuse(self, data: bytes | None) -> None:
        """Over the connection cap: answer 503 (in the format of the request's path, when it
        arrived in time) and close."""
        if self.finished:
            return
        self.finished = True
        self._cancel_timers()
        log.debug("refused a connection over the cap of %d", self.max_connections)
        target = request_target(data[:PREFIX_BYTES]) if data else None
        self._answer(self.renderer(OVERLOADED, target))

    def _answer(self, answer: ErrorAnswer) -> None:
        if not self.transport.is_closing():
            self.transport.write(answer.encode(self.server_state.default_headers))
            self.transport.close()


#: Seconds a connection over the cap waits for its request before it is closed.
OVER_CAP_WAIT_S = 1.0


def _content_length(headers: list[tuple[bytes, bytes]]) -> int | None:
    """The body length a head announces (0 without one); None for a chunked body."""
    length = 0
    for name, value in headers:
        if name == b"transfer-encoding":
            return None
        if name == b"content-length" and value.strip().isdigit():
            length = int(value)
    return length


def protocol_class(
    limits: HttpLimits | None = None, renderer: ErrorRenderer = plain_text
) -> type[asyncio.Protocol]:
    """uvicorn's ``http`` option: :class:`LimitedHttpProtocol` with ``limits`` (default: the
    settings' defaults) and errors answered by ``renderer``. Checks the open-file limit for
    ``limits.max_connections`` (see :func:`~earmark.http_limits.connection_cap`)."""
    chosen = limits or HttpLimits()
    cap = connection_cap(chosen.max_connections)

    class Protocol(LimitedHttpProtocol):
        pass

    Protocol.limits = chosen
    Protocol.renderer = staticmethod(renderer)
    Protocol.max_connections = cap
    return Protocol
