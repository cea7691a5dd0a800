"""A supervisor (``run_workers``) over scripted workers, run as its own process by
test_supervisor.py: ``python -m tests.serve.flaky_workers LOG WORKERS PAUSE STEP...``.

Each worker start takes the next step of the script: ``serve`` (say it started, run until
SIGTERM), ``crash`` (say it started, then exit 1), ``3`` (exit 3 without starting, as a worker
does when the database or NATS is away). Every start and exit is appended to LOG with the time.
"""

from __future__ import annotations

import functools
import os
import signal
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path

from earmark.server import STARTUP_FAILURE, bind_socket, run_workers


def _note(log: Path, event: str) -> None:
    with log.open("a") as out:
        out.write(f"{time.monotonic():.3f} {os.getpid()} {event}\n")


def _starts(log: Path) -> int:
    return sum(1 for line in log.read_text().splitlines() if line.endswith(" start"))


def _step(log: Path, steps: tuple[str, ...]) -> str:
    return steps[min(_starts(log), len(steps) - 1)]


def scripted_worker(
    log: Path,
    workers: int,
    steps: tuple[str, ...],
    sock: socket.socket,
    parent: int,
    ready: Callable[[], None],
) -> int:
    step = _step(log, steps)
    _note(log, "start")
    if step == "3":
        # Fail only once every initial worker has started, so the test sees each spawn: the
        # supervisor stops the others on this exit, and a worker still importing Python
        # would otherwise never log its start.
        deadline = time.monotonic() + 10
        while _starts(log) < workers and time.monotonic() < deadline:
            time.sleep(0.02)
        _note(log, "exit 3")
        return STARTUP_FAILURE
    ready()
    if step == "crash":
        time.sleep(0.2)
        _note(log, "exit 1")
        return 1
    stopping: list[int] = []
    signal.signal(signal.SIGTERM, lambda sig, _frame: stopping.append(sig))
    while not stopping and os.getppid() == parent:
        time.sleep(0.05)
    _note(log, "exit 0")
    return 0


def main(argv: list[str]) -> int:
    log, workers, pause, *steps = argv
    sock = bind_socket("127.0.0.1", 0)
    try:
        return run_workers(
            functools.partial(scripted_worker, Path(log), int(workers), tuple(steps)),
            sock,
            int(workers),
            stop_timeout=10.0,
            restart_pause=float(pause),
            restart_pause_max=4 * float(pause),
        )
    finally:
        sock.close()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
