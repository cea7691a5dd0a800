"""Fixtures for the index tests: an engine over a temporary directory."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from earmark.index.engine import IndexSettings, MultiIndex

# Maintenance driven by hand: deterministic segment layouts in engine tests.
MANUAL = IndexSettings(background=False, checkpoint_threshold=10**12, checkpoint_age_s=0)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[MultiIndex]:
    multi = MultiIndex(tmp_path / "data", MANUAL)
    yield multi
    multi.close()


@pytest.fixture
def app(engine: MultiIndex):  # type: ignore[no-untyped-def]
    from earmark.index.server import create_app

    return create_app(engine)


@pytest.fixture
def client(app):  # type: ignore[no-untyped-def]
    from .apiclient import sync_client

    with sync_client(app) as c:
        yield c


@pytest.fixture
def live_url(engine: MultiIndex):  # type: ignore[no-untyped-def]
    """A real uvicorn server on a free 127.0.0.1 port, in a thread, over `engine`."""
    import threading
    import time

    import uvicorn

    from earmark.http_protocol import protocol_class
    from earmark.index.server import create_app

    config = uvicorn.Config(
        create_app(engine),
        host="127.0.0.1",
        port=0,
        log_level="warning",
        lifespan="on",
        http=protocol_class(),
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def h(*values: int) -> np.ndarray:
    """A term list (uint32 array) from literal values."""
    return np.array(values, dtype=np.uint32)
