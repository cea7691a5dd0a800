"""Test helpers: where the test data lives, which tools are present, real audio."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import sqlalchemy as sa

from earmark.db import driver

ROOT = Path(__file__).resolve().parent.parent
VECTORS = ROOT / "tests" / "data" / "vectors"
IN_CI = os.environ.get("CI", "").lower() == "true"


def require_tool(name: str) -> str:
    """Return the path of an external tool, or skip (fail in CI) when it is missing."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed (Debian: see `make deps`)"
        if IN_CI:
            pytest.fail(message + "; CI must have it")
        pytest.skip(message)
    return path


def load_vectors(name: str) -> Any:
    """A vector file carried in the repository (tests/data/vectors/, see its README)."""
    return json.loads((VECTORS / name).read_text())


MUSIC_DIRS = (
    Path("/usr/share/games/wesnoth/1.16/data/core/music"),
    Path("/usr/share/games/supertux2/music"),
)


def music_tracks() -> list[Path]:
    """Real music from Debian packages (wesnoth-1.16-music, supertux-data), sorted."""
    tracks: list[Path] = []
    for root in MUSIC_DIRS:
        if root.is_dir():
            tracks.extend(root.rglob("*.ogg"))
    return sorted(tracks)


def require_music(count: int = 1) -> list[Path]:
    """``count`` real tracks spread over the corpus, or skip (fail in CI) without the packages."""
    tracks = music_tracks()
    if len(tracks) < count:
        message = "real music not installed (`make deps` as root installs the Debian packages)"
        if IN_CI:
            pytest.fail(message + "; CI must have it")
        pytest.skip(message)
    step = len(tracks) // count
    return [tracks[i * step] for i in range(count)]


def ffmpeg_convert(source: Path, target: Path, *options: str) -> Path:
    """Write ``target`` from ``source`` with ffmpeg (format from the target's ending)."""
    ffmpeg = require_tool("ffmpeg")
    subprocess.run(
        [ffmpeg, "-v", "error", "-nostdin", "-y", "-i", str(source), *options, str(target)],
        check=True,
    )
    return target


def ffmpeg_generate(target: Path, source: str, seconds: float, *options: str) -> Path:
    """Write ``target`` from an lavfi source (e.g. ``sine=frequency=440``)."""
    ffmpeg = require_tool("ffmpeg")
    lavfi = ["-f", "lavfi", "-t", str(seconds), "-i", source]
    command = [ffmpeg, "-v", "error", "-nostdin", "-y", *lavfi, *options, str(target)]
    subprocess.run(command, check=True)
    return target


def fpcalc_raw(path: Path, length: float = 120) -> tuple[float, list[int]]:
    """fpcalc's duration and raw items for a file (``-ignore-errors``: Debian's exits 3)."""
    fpcalc = require_tool("fpcalc")
    out = subprocess.run(
        [fpcalc, "-raw", "-json", "-length", str(int(length)), "-ignore-errors", str(path)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    data = json.loads(out)
    return float(data["duration"]), [int(v) for v in data["fingerprint"]]


def bit_error_rate(a: list[int], b: list[int]) -> float:
    """Share of differing bits over the longer length (missing items count as all wrong)."""
    n = min(len(a), len(b))
    errors = sum(bin((x ^ y) & 0xFFFFFFFF).count("1") for x, y in zip(a[:n], b[:n], strict=True))
    errors += 32 * abs(len(a) - len(b))
    return errors / (32 * max(len(a), len(b), 1))


@contextmanager
def statements_run(
    engine: sa.Engine, keep: Callable[[str], bool] = lambda _statement: True
) -> Iterator[list[str]]:
    """Every statement (those ``keep`` accepts) sent to the database inside the block: through
    SQLAlchemy (its cursor events) or on the driver (:func:`earmark.db.driver.fetch_all`,
    which SQLAlchemy's events do not see)."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if keep(statement):
            seen.append(statement)

    def record_driver(statement: str, _parameters: Mapping[str, Any]) -> None:
        record(None, None, statement)

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        with driver_statements(engine, record_driver):
            yield seen
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)


@contextmanager
def driver_statements(
    engine: sa.Engine, record: Callable[[str, Mapping[str, Any]], None]
) -> Iterator[None]:
    """Call ``record(statement, parameters)`` for every statement run on ``engine`` through
    :func:`earmark.db.driver.fetch_all` inside the block (SQLAlchemy's events miss those)."""
    fetch_all = driver.fetch_all

    def recording_fetch_all(
        conn: sa.Connection, statement: Any, parameters: Any, **options: Any
    ) -> Any:
        if conn.engine is engine:
            record(str(statement.compile(dialect=conn.dialect)), parameters)
        return fetch_all(conn, statement, parameters, **options)

    driver.fetch_all = recording_fetch_all  # type: ignore[assignment]
    try:
        yield
    finally:
        driver.fetch_all = fetch_all  # type: ignore[assignment]


@contextmanager
def uvicorn_in_thread(app: Any, *, lifespan: str = "off") -> Iterator[int]:
    """``app`` served by uvicorn (with Earmark's HTTP protocol) in a thread on a free port of
    127.0.0.1; the port. The server stops when the block ends."""
    import threading
    import time

    import uvicorn

    from earmark.http_protocol import protocol_class

    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=0,
        log_level="warning",
        lifespan=lifespan,  # type: ignore[arg-type]
        http=protocol_class(),
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.01)
    try:
        yield int(server.servers[0].sockets[0].getsockname()[1])
    finally:
        server.should_exit = True
        thread.join(10)


BENCH = Path(__file__).resolve().parent.parent / "bench"


def bench_module(name: str) -> ModuleType:
    """A module of bench/ (not a package: the scripts run as files)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
