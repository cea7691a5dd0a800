"""`earmark run api --workers N`'s supervisor: exit 3 is fatal only before the service ran."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from earmark.server import STARTUP_FAILURE, restart_delay
from tests.support import ROOT

PAUSE = 0.2


def supervisor(log: Path, workers: int, *steps: str) -> subprocess.Popen[bytes]:
    log.write_text("")
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.serve.flaky_workers",
            str(log),
            str(workers),
            str(PAUSE),
            *list(steps),
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def events(log: Path) -> list[tuple[float, str]]:
    out = []
    for line in log.read_text().splitlines():
        stamp, _pid, event = line.split(" ", 2)
        out.append((float(stamp), event))
    return out


def wait_for(log: Path, proc: subprocess.Popen[bytes], count: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while sum(event == "start" for _, event in events(log)) < count:
        assert proc.poll() is None, proc.communicate()[1].decode()
        assert time.monotonic() < deadline, events(log)
        time.sleep(0.05)


def test_the_restart_delay_doubles_up_to_its_maximum() -> None:
    assert [restart_delay(n, 1.0, 30.0) for n in range(1, 8)] == [1, 2, 4, 8, 16, 30, 30]


@pytest.mark.parametrize("workers", [1, 2])
def test_exit_3_during_the_initial_spawn_stops_everything(tmp_path: Path, workers: int) -> None:
    log = tmp_path / "workers.log"
    proc = supervisor(log, workers, "3")
    try:
        _, stderr = proc.communicate(timeout=30)
    finally:
        proc.kill()
        proc.communicate()
    assert proc.returncode == STARTUP_FAILURE, stderr.decode()
    assert "could not start: stopping" in stderr.decode()
    # No replacement was tried: a configuration that cannot start never will.
    assert sum(event == "start" for _, event in events(log)) == workers


def test_exit_3_after_the_service_ran_is_restarted_with_backoff(tmp_path: Path) -> None:
    log = tmp_path / "workers.log"
    # The worker runs, dies; two replacements hit the outage (exit 3); the third serves.
    proc = supervisor(log, 1, "crash", "3", "3", "serve")
    try:
        wait_for(log, proc, 4)
        time.sleep(3 * PAUSE)
        assert proc.poll() is None, proc.communicate()[1].decode()
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=30)
        assert proc.returncode == 0, stderr.decode()
    finally:
        proc.kill()
        proc.communicate()
    timeline = events(log)
    assert [event for _, event in timeline] == [
        "start", "exit 1", "start", "exit 3", "start", "exit 3", "start", "exit 0",
    ]  # fmt: skip
    gaps = [timeline[i + 1][0] - timeline[i][0] for i in (1, 3, 5)]
    # The backoff is the feature: 1x, 2x, then 4x the pause before each replacement (lower
    # bounds only: how much later a loaded machine spawns it is not the supervisor's doing).
    for gap, pause in zip(gaps, (PAUSE, 2 * PAUSE, 4 * PAUSE), strict=True):
        assert gap >= pause, gaps
    assert "exited with 3: starting another" in stderr.decode()
