"""Runs Earmark's ASGI app under uvicorn, with a graceful shutdown load balancers can follow
(docs/serving.md, "Graceful shutdown": health answers 503 first, then the server stops
listening after ``shutdown_delay`` and lets requests finish).

:func:`serve` runs one server in this process; :func:`run_workers` runs several processes on one
address (``earmark run api --workers N``; see :func:`bind_socket`), each doing its own graceful
shutdown.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from types import FrameType
from typing import Protocol

import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send

from earmark.errors import ConfigError
from earmark.http_limits import ErrorRenderer, HttpLimits, limits_from_settings, plain_text
from earmark.http_protocol import protocol_class
from earmark.listen import ListenError, bind_address
from earmark.requestid import RequestIdMiddleware
from earmark.settings import Settings

log = logging.getLogger(__name__)

#: Exit code of a worker whose app did not start (uvicorn's ``STARTUP_FAILURE``).
STARTUP_FAILURE = 3
_SIGNALS = (signal.SIGTERM, signal.SIGINT)
#: How often the supervisor looks at its workers and at the signals it received.
_SUPERVISE_INTERVAL_S = 0.1
#: A worker that dies is restarted after this pause, doubled while the replacement keeps failing
#: before it starts, up to the maximum (a crash loop stays slow, a short outage is ridden out).
_RESTART_PAUSE_S = 1.0
_RESTART_PAUSE_MAX_S = 30.0


@dataclass(frozen=True)
class ServerOptions:
    """How one web-service process listens and stops."""

    host: str = "127.0.0.1"
    port: int = 8080
    forwarded_allow_ips: str = "127.0.0.1"
    shutdown_delay: float = 2.0
    log_level: str = "INFO"
    access_log: bool = False
    #: Seconds in-flight requests get to finish once the server stops listening.
    graceful_timeout: int = 30
    #: Caps and timeouts of the HTTP front, and how its refusals are answered.
    http: HttpLimits = field(default_factory=HttpLimits)
    #: The web service passes the API's (earmark.api.front); this module knows no API.
    renderer: ErrorRenderer = plain_text
    #: (host, port) of the operations listener (/metrics, health checks), or None.
    ops_address: tuple[str, int] | None = None

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        host: str | None = None,
        port: int | None = None,
        access_log: bool = False,
        renderer: ErrorRenderer = plain_text,
    ) -> ServerOptions:
        return cls(
            host=settings.api_host if host is None else host,
            port=settings.api_port if port is None else port,
            forwarded_allow_ips=settings.forwarded_allow_ips,
            shutdown_delay=settings.shutdown_delay,
            log_level=settings.log_level,
            access_log=access_log,
            http=limits_from_settings(settings),
            ops_address=parse_address(settings.ops_address, "ops_address"),
            renderer=renderer,
        )


def parse_address(text: str, name: str) -> tuple[str, int] | None:
    """``host:port`` (``[v6]:port`` for IPv6) as a pair; None for an empty text."""
    if not text.strip():
        return None
    host, sep, port = text.strip().rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(f"{name} must be host:port with a port from 0 to 65535, not {text!r}")
    return host, int(port)


def uvicorn_config(app: ASGIApp, options: ServerOptions) -> uvicorn.Config:
    """uvicorn's configuration: trusted proxy headers, Earmark's logging, no access log."""
    return uvicorn.Config(
        # Every request gets an id for its log lines (earmark.requestid).
        RequestIdMiddleware(app),
        host=options.host,
        port=options.port,
        # X-Forwarded-For / -Proto from these addresses set the client address and the scheme
        # (rate limits per IP, the HTTPS-only /v2/user/create_musicbrainz).
        proxy_headers=True,
        forwarded_allow_ips=options.forwarded_allow_ips,
        lifespan="on",
        http=protocol_class(options.http, options.renderer),
        # The root logger is configured by the `earmark` command; uvicorn's loggers propagate.
        log_config=None,
        log_level=options.log_level.lower(),
        access_log=options.access_log,
        server_header=False,
        timeout_graceful_shutdown=options.graceful_timeout,
    )


class GracefulServer(uvicorn.Server):
    """uvicorn's server with the delayed stop of the module docstring.

    ``on_drain`` runs in the event loop when the first signal arrives; ``on_started`` gets the
    bound port once the server listens (useful with port 0). With ``parent_pid`` the server
    also drains when that process goes away (a worker whose supervisor was killed).
    """

    def __init__(
        self,
        config: uvicorn.Config,
        *,
        on_drain: Callable[[], None],
        delay: float,
        on_started: Callable[[int], None] | None = None,
        parent_pid: int | None = None,
    ) -> None:
        super().__init__(config)
        self.on_drain = on_drain
        self.delay = delay
        self.on_started = on_started
        self.parent_pid = parent_pid
        self.drain_requested = False
        self.skip_delay = False
        self.drain_deadline: float | None = None

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # Unlike uvicorn, the signal is not raised again afterwards: a requested stop that
        # went well is a normal exit (status 0), not a death by signal.
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {sig: signal.signal(sig, self.handle_exit) for sig in _SIGNALS}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        # Only flags here: the handler may interrupt the loop anywhere; on_tick acts on them.
        if not self.drain_requested:
            self.drain_requested = True
            log.info("received %s: draining for %gs", signal.Signals(sig).name, self.delay)
        elif sig == signal.SIGINT:
            if self.should_exit:
                self.force_exit = True
            else:
                self.skip_delay = True

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started and self.on_started is not None:
            self.on_started(bound_port(self.servers, self.config.port))

    async def on_tick(self, counter: int) -> bool:
        if self.parent_pid is not None and os.getppid() != self.parent_pid:
            self.drain_requested = True
        if self.drain_requested and self.drain_deadline is None:
            self.on_drain()
            self.drain_deadline = time.monotonic() + self.delay
        if self.drain_deadline is not None and (
            self.skip_delay or time.monotonic() >= self.drain_deadline
        ):
            self.should_exit = True
        return await super().on_tick(counter)


def bound_port(servers: Sequence[object], default: int) -> int:
    """The TCP port the first listening socket is bound to (the real one for port 0)."""
    for server in servers:
        for sock in getattr(server, "sockets", None) or ():
            name = sock.getsockname()
            if isinstance(name, tuple) and len(name) >= 2:
                return int(name[1])
    return default


def serve(
    app: ASGIApp,
    options: ServerOptions,
    *,
    on_drain: Callable[[], None],
    on_started: Callable[[int], None] | None = None,
    sockets: list[socket.socket] | None = None,
    parent_pid: int | None = None,
    ops_app: ASGIApp | None = None,
    ops_socket: socket.socket | None = None,
) -> int:
    """Serve ``app`` until a signal; returns the exit status (0, or 3 when it did not start).

    With ``options.ops_address`` and ``ops_app``, ``ops_app`` is served on that address (on
    ``ops_socket`` when given, bound here otherwise) and ``app`` on the public one."""
    if options.ops_address is not None and ops_app is not None:
        try:
            if sockets is None:
                sockets = [bind_address(options.host, options.port)]
            if ops_socket is None:
                ops_socket = bind_address(*options.ops_address)
        except ListenError as exc:
            log.error("%s", exc)
            return 1
        app = ByListener(app, ops_app, ops_socket.getsockname())
        sockets = [*sockets, ops_socket]
    server = GracefulServer(
        uvicorn_config(app, options),
        on_drain=on_drain,
        delay=options.shutdown_delay,
        on_started=on_started,
        parent_pid=parent_pid,
    )
    try:
        server.run(sockets=sockets)
    except SystemExit as exc:  # uvicorn exits when the lifespan or the bind fails
        return exc.code if isinstance(exc.code, int) else STARTUP_FAILURE
    return 0 if server.started else STARTUP_FAILURE


#: Connections waiting to be accepted, per listening socket.
_BACKLOG = 2048

_WILDCARDS = frozenset({"", "0.0.0.0", "::"})


class ByListener:
    """Sends each request to ``ops`` when it arrived on the operations listener (bound to
    ``ops_name``), else to ``public``; the lifespan is ``public``'s."""

    def __init__(self, public: ASGIApp, ops: ASGIApp, ops_name: tuple[str, int]) -> None:
        self.public = public
        self.ops = ops
        self.ops_host, self.ops_port = str(ops_name[0]), int(ops_name[1])

    def is_ops(self, scope: Scope) -> bool:
        server = scope.get("server")
        if not server or server[1] != self.ops_port:
            return False
        return self.ops_host in _WILDCARDS or server[0] == self.ops_host

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and self.is_ops(scope):
            await self.ops(scope, receive, send)
        else:
            await self.public(scope, receive, send)


def bind_socket(host: str, port: int) -> socket.socket:
    """The address the worker processes serve; each turns it into its own listening socket
    with :func:`worker_socket`.

    Where the kernel can spread connections over several listening sockets (SO_REUSEPORT, on
    Linux), this socket only holds the address (bound, never listening) for as long as the
    supervisor runs, and every worker listens on a socket of its own: new connections are
    dealt out evenly. One listening socket shared by the workers lets the first worker to wake
    up accept a whole burst (a benchmark saw one of three workers take all 16 keep-alive
    connections and the others none); elsewhere the workers share it all the same.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # Only Linux deals connections out over SO_REUSEPORT sockets (BSDs and macOS do not).
    if not (sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")):
        shared = socket.create_server((host, port), family=family, backlog=_BACKLOG)
        shared.set_inheritable(True)
        return shared
    sock = _reuseport_socket(family)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def worker_socket(sock: socket.socket) -> socket.socket:
    """The socket of one worker for the address :func:`bind_socket` holds: bound, not yet
    listening. The server listens once the app has started, so the kernel sends a worker no
    connection while it starts (or fails to)."""
    if sock.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN):
        return sock  # shared (no SO_REUSEPORT here)
    own = _reuseport_socket(sock.family)
    try:
        own.bind(sock.getsockname())
    except OSError:
        own.close()
        raise
    return own


def _reuseport_socket(family: socket.AddressFamily) -> socket.socket:
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    if family == socket.AF_INET6:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)  # as socket.create_server
    return sock


#: One worker's body: serve on the socket, given the supervisor's pid and a callback to call once
#: the app has started and listens; returns the exit status.
WorkerTarget = Callable[[socket.socket, int, Callable[[], None]], int]


def _worker_main(
    target: WorkerTarget, sock: socket.socket, parent_pid: int, ready: EventLike
) -> None:
    # multiprocessing ignores a target's return value: the status must leave as SystemExit.
    raise SystemExit(target(sock, parent_pid, ready.set))


class EventLike(Protocol):
    """The part of ``multiprocessing.Event`` a worker uses to say it has started."""

    def set(self) -> None: ...

    def is_set(self) -> bool: ...


def restart_delay(failures: int, first: float, longest: float) -> float:
    """Seconds before restarting a worker after ``failures`` failures in a row (doubling)."""
    return min(longest, first * 2.0 ** max(0, failures - 1))


@dataclass
class _Slot:
    """One worker position: its current process, whether it started, and its failures."""

    process: multiprocessing.process.BaseProcess | None
    ready: EventLike
    started: bool = False
    failures: int = 0
    restart_at: float | None = None


def run_workers(
    target: WorkerTarget,
    sock: socket.socket,
    workers: int,
    *,
    stop_timeout: float,
    on_worker_exit: Callable[[int], None] | None = None,
    restart_pause: float = _RESTART_PAUSE_S,
    restart_pause_max: float = _RESTART_PAUSE_MAX_S,
) -> int:
    """Run ``workers`` processes of ``target(sock, parent_pid, ready)`` until SIGTERM or SIGINT.

    ``target`` must be picklable (a module-level function or a ``functools.partial`` of one):
    workers are *spawned*, not forked, so no thread or connection of this process leaks into
    them. A signal is passed on to the workers as SIGTERM (each drains on its own).

    A worker whose app could not start (exit 3) during the initial spawn, before every worker
    has called ``ready`` once, stops everything with status 3: the configuration or the
    databases are wrong and restarting would fail the same way. Afterwards the service has
    proved it can run, so a worker that dies, whatever its status (3 included: a database or
    NATS blip while a replacement starts), is restarted after ``restart_pause`` seconds,
    doubling up to ``restart_pause_max`` while it keeps failing before ``ready``; one bad
    worker never takes the others down. Workers still running ``stop_timeout`` seconds after
    the signal are killed. ``on_worker_exit`` gets the pid of every worker that ended (e.g. to
    mark it dead in Prometheus' multiprocess directory).
    """
    context = multiprocessing.get_context("spawn")
    parent = os.getpid()
    received: list[int] = []

    def _on_signal(sig: int, _frame: FrameType | None) -> None:
        received.append(sig)

    def _start(slot: _Slot) -> None:
        slot.ready = context.Event()
        slot.started = False
        slot.restart_at = None
        slot.process = context.Process(
            target=_worker_main,
            args=(target, sock, parent, slot.ready),
            name="earmark-api-worker",
        )
        slot.process.start()

    previous = {sig: signal.signal(sig, _on_signal) for sig in _SIGNALS}
    slots: list[_Slot] = []
    status = 0
    initial = True
    try:
        for _ in range(workers):
            slot = _Slot(None, context.Event())
            slots.append(slot)
            _start(slot)
        log.info(
            "started %d workers: %s",
            workers,
            ", ".join(str(s.process.pid) for s in slots if s.process),
        )
        while not received:
            time.sleep(_SUPERVISE_INTERVAL_S)
            now = time.monotonic()
            for slot in slots:
                if received:
                    break
                process = slot.process
                if process is None:
                    if slot.restart_at is not None and now >= slot.restart_at:
                        _start(slot)
                    continue
                if not slot.started and slot.ready.is_set():
                    slot.started, slot.failures = True, 0
                if process.is_alive():
                    continue
                code = process.exitcode
                _worker_ended(process, on_worker_exit)
                slot.process = None
                if code == STARTUP_FAILURE and initial:
                    log.error("worker %s could not start: stopping", process.pid)
                    status = STARTUP_FAILURE
                    received.append(signal.SIGTERM)
                    break
                slot.failures = 1 if slot.started else slot.failures + 1
                delay = restart_delay(slot.failures, restart_pause, restart_pause_max)
                slot.restart_at = now + delay
                log.warning(
                    "worker %s exited with %s: starting another in %gs", process.pid, code, delay
                )
            if initial and all(slot.started for slot in slots):
                initial = False
                log.info("all %d workers started", workers)
    finally:
        processes = [slot.process for slot in slots if slot.process is not None]
        for process in processes:
            if process.is_alive() and process.pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + stop_timeout
        for process in processes:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.is_alive():
                log.error("worker %s did not stop in time: killing it", process.pid)
                process.kill()
                process.join()
                status = status or 1
            _worker_ended(process, on_worker_exit)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return status


def _worker_ended(
    process: multiprocessing.process.BaseProcess, callback: Callable[[int], None] | None
) -> None:
    if callback is not None and process.pid is not None:
        callback(process.pid)
