"""One client for the commands: a remote server (``--server``) or the data directory's app."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass

from earmark.errors import EarmarkError, UsageError
from earmark.library.client import (
    INVALID_API_KEY,
    INVALID_USER_API_KEY,
    AcoustidError,
    WebServiceClient,
)
from earmark.library.local import LocalFactory
from earmark.settings import Settings


class KeyRefusedError(EarmarkError):
    """A key was refused: say which one and where keys come from (exit 1, an error: 2 is
    for usage errors and files that could not be fingerprinted)."""

    exit_code = 1


@dataclass(frozen=True)
class ServiceConnection:
    client: WebServiceClient
    user_key: str | None
    target: str
    """The server URL, or ``data-dir:<path>`` (names the resume journal)."""


@asynccontextmanager
async def connect(
    settings: Settings,
    *,
    server: str | None,
    client_key: str | None,
    user_key: str | None = None,
    rate: float,
    local: LocalFactory | None = None,
) -> AsyncIterator[ServiceConnection]:
    """A client of ``server`` with the given keys, or of the data directory's app in this
    process (built by ``local``) with the keys given or else the data directory's own."""
    if server:
        if not client_key:
            raise UsageError("--client KEY is required with --server (an application key)")
        async with WebServiceClient(server, client_key, rate=rate) as client:
            with explained_key_errors():
                yield ServiceConnection(client, user_key, client.base_url)
        return
    if local is None:
        raise UsageError("no --server given and no local service to use")
    async with (
        local(settings) as service,
        WebServiceClient(
            service.base_url,
            client_key or service.keys.client,
            transport=service.transport,
            rate=0,
        ) as client,
    ):
        with explained_key_errors():
            yield ServiceConnection(
                client, user_key or service.keys.user, f"data-dir:{settings.data_dir.resolve()}"
            )


@contextmanager
def explained_key_errors() -> Iterator[None]:
    """Turns errors 4 and 6 into messages that say what to do."""
    try:
        yield
    except AcoustidError as exc:
        if exc.code == INVALID_API_KEY:
            raise KeyRefusedError(
                "the server refused the client key (error 4, invalid API key): pass the key "
                "of an active application with --client"
            ) from None
        if exc.code == INVALID_USER_API_KEY:
            raise KeyRefusedError(
                "the server refused the user key (error 6, invalid user API key): pass your "
                "user API key with --user"
            ) from None
        raise
