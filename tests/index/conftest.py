"""Fixtures for the index tests: an engine over a temporary directory."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from earmark.index.engine import IndexSettings, MultiIndex
from tests.support import uvicorn_in_thread

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
    from earmark.index.server import create_app

    with uvicorn_in_thread(create_app(engine), lifespan="on") as port:
        yield f"http://127.0.0.1:{port}"


def h(*values: int) -> np.ndarray:
    """A term list (uint32 array) from literal values."""
    return np.array(values, dtype=np.uint32)
