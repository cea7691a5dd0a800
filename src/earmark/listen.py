"""The listening address of a server, taken before anything else starts.

A server that finds its port taken only once it has opened its databases (or, for ``earmark
serve``, created a data directory and an administrator account) leaves work behind and says so
in a dozen log lines. :func:`bind_address` binds the address first and fails with one line.
"""

from __future__ import annotations

import errno
import os
import socket

from earmark.errors import EarmarkError


class ListenError(EarmarkError):
    """The address cannot be listened on (in use, not on this machine, not allowed)."""

    exit_code = 1


def display_address(host: str, port: int) -> str:
    """``host:port``, with an IPv6 address in brackets."""
    return f"[{host}]:{port}" if ":" in host else f"{host or '0.0.0.0'}:{port}"


def bind_address(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port`` (not yet listening: the server listens once it has
    started, so no connection waits on a server that is still starting).

    Options as asyncio's own ``create_server``: SO_REUSEADDR (a restart does not wait for the
    previous process's connections in TIME_WAIT), IPv6 sockets for IPv6 only.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ListenError(
            f"cannot listen on {display_address(host, port)}: {_reason(exc)}"
        ) from None
    return sock


def check_address(host: str, port: int) -> None:
    """Fail with :class:`ListenError` now if ``host:port`` cannot be bound (the server binds
    it again itself a moment later)."""
    bind_address(host, port).close()


def listen_error(host: str, port: int, exc: OSError) -> ListenError:
    """The one-line error of a failed bind of ``host:port``."""
    return ListenError(f"cannot listen on {display_address(host, port)}: {_reason(exc)}")


def _reason(exc: OSError) -> str:
    if isinstance(exc, socket.gaierror):
        return f"unknown host ({exc.strerror})"
    if exc.errno is not None:
        if exc.errno == errno.EADDRINUSE:
            return "address already in use"
        return os.strerror(exc.errno).lower()
    return str(exc)
