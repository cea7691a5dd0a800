"""Real Earmark processes for the end-to-end tests: started, watched, stopped, never leaked.

Output is collected by threads (a full pipe would block the server), so a test can wait for a
line, and a failure shows what the process said.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

import httpx
import pytest
import sqlalchemy as sa

from earmark.musicbrainz.schema import MusicBrainzDatabase, execute, tables

#: What the banner of `earmark serve` prints (see earmark.cli.serve_cmd.banner).
URL_LINE = re.compile(r"^Earmark is running at (http://\S+)$", re.MULTILINE)
CLIENT_LINE = re.compile(r"^  client key: (\S+)$", re.MULTILINE)
USER_LINE = re.compile(r"^  user key:   (\S+)$", re.MULTILINE)


def earmark_command() -> list[str]:
    """The installed console script, which is what users run."""
    script = Path(sys.executable).with_name("earmark")
    if not script.exists():
        pytest.skip("the earmark script is not installed next to this Python")
    return [str(script)]


def clean_environment(**settings: str) -> dict[str, str]:
    """This environment without the developer's EARMARK_* settings, plus ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("EARMARK_")}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env.update(settings)
    return env


class Process:
    """One subprocess with its stdout and stderr collected as text."""

    def __init__(
        self,
        argv: Sequence[str],
        env: Mapping[str, str],
        *,
        cwd: Path | None = None,
        new_session: bool = False,
        name: str = "",
    ) -> None:
        self.name = name or Path(argv[0]).name
        self.new_session = new_session
        self.proc = subprocess.Popen(
            list(argv),
            env=dict(env),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=new_session,
        )
        self._out: list[str] = []
        self._err: list[str] = []
        self._changed = threading.Condition()
        assert self.proc.stdout is not None
        assert self.proc.stderr is not None
        self._readers = [
            threading.Thread(target=self._read, args=(self.proc.stdout, self._out), daemon=True),
            threading.Thread(target=self._read, args=(self.proc.stderr, self._err), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def _read(self, stream: IO[str], into: list[str]) -> None:
        for line in stream:
            with self._changed:
                into.append(line)
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    @property
    def stdout(self) -> str:
        with self._changed:
            return "".join(self._out)

    @property
    def stderr(self) -> str:
        with self._changed:
            return "".join(self._err)

    def describe(self) -> str:
        tail = self.stderr[-4000:]
        return f"{self.name} (exit {self.proc.poll()})\nstdout:\n{self.stdout}\nstderr:\n{tail}"

    def wait_for_output(self, pattern: re.Pattern[str], timeout: float) -> re.Match[str]:
        """The first match of ``pattern`` in stdout; fails when the process exits first."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = pattern.search("".join(self._out))
                if found is not None:
                    return found
                if self.proc.poll() is not None:
                    pytest.fail(f"exited before printing {pattern.pattern!r}: {self.describe()}")
                left = deadline - time.monotonic()
                if left <= 0:
                    pytest.fail(f"no {pattern.pattern!r} after {timeout:g}s: {self.describe()}")
                self._changed.wait(min(left, 0.2))

    def send(self, sig: signal.Signals) -> None:
        if self.proc.poll() is not None:
            return
        if self.new_session:
            os.killpg(self.proc.pid, sig)
        else:
            self.proc.send_signal(sig)

    def wait(self, timeout: float) -> int:
        code = self.proc.wait(timeout)
        for reader in self._readers:
            reader.join(5)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()
        return code

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM, then SIGKILL if it does not end; safe to call twice."""
        if self.proc.poll() is None:
            self.send(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.send(signal.SIGKILL)
        code = self.wait(10)
        if self.new_session:
            # make and the like may leave children behind: the whole group goes.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        return code


def run_earmark(
    args: list[str], env: Mapping[str, str], stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """One ``earmark`` command run to its end (two minutes at most), its output captured."""
    return subprocess.run(
        [*earmark_command(), *args],
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=120,
        input=stdin,
        stdin=None if stdin is not None else subprocess.DEVNULL,
        check=False,
    )


def free_port() -> int:
    """A port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port another program listens on."""
    with socket.create_server(("127.0.0.1", 0)) as sock:
        yield int(sock.getsockname()[1])


def wait_until(
    check: Callable[[], Any], timeout: float, what: str, *, interval: float = 0.1
) -> Any:
    """Call ``check`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    last: BaseException | None = None
    while time.monotonic() < deadline:
        try:
            result = check()
        except (httpx.TransportError, AssertionError) as exc:
            last, result = exc, None
        if result:
            return result
        time.sleep(interval)
    pytest.fail(f"{what}: not after {timeout:g}s (last error: {last!r})")


def healthy(url: str, proc: Process | None = None, timeout: float = 60.0) -> None:
    """Wait until ``url``/_health answers 200."""

    def check() -> bool:
        if proc is not None and proc.proc.poll() is not None:
            pytest.fail(f"exited while starting: {proc.describe()}")
        return httpx.get(url + "/_health", timeout=2).status_code == 200

    wait_until(check, timeout, f"{url}/_health")


class Serve(Process):
    """``earmark serve --port 0`` on a data directory; the banner gives the URL and the keys."""

    def __init__(self, data_dir: Path, env: Mapping[str, str], *extra: str) -> None:
        argv = [*earmark_command(), "serve", "--port", "0", "--data-dir", str(data_dir), *extra]
        super().__init__(argv, env, name="earmark serve")
        try:
            self.url = self.wait_for_output(URL_LINE, 120).group(1)
            self.client_key = self.wait_for_output(CLIENT_LINE, 5).group(1)
            self.user_key = self.wait_for_output(USER_LINE, 5).group(1)
            healthy(self.url, self)
        except BaseException:
            self.stop()
            raise


def wait_imported(url: str, client: str, submission_id: int, timeout: float = 60.0) -> str:
    """Poll /v2/submission_status until the submission is imported; the track id."""

    def check() -> str | None:
        answer = httpx.post(
            url + "/v2/submission_status",
            data={"client": client, "id": str(submission_id), "format": "json"},
            timeout=10,
        ).json()
        assert answer["status"] == "ok", answer
        (status,) = answer["submissions"]
        assert status["status"] in ("pending", "imported"), status
        if status["status"] == "imported":
            return str(status["result"]["id"])
        return None

    track: str = wait_until(check, timeout, f"submission {submission_id} imported", interval=0.25)
    return track


def load_musicbrainz_sample(env: Mapping[str, str], database_url: str) -> tuple[str, str]:
    """Load mbdata's sample with the real `earmark mb load-sample` (configured by ``env``);
    the (MBID, title) of its first recording, read from ``database_url``."""
    loader = Process([*earmark_command(), "mb", "load-sample"], dict(env))
    assert loader.wait(120) == 0, loader.describe()
    mirror = MusicBrainzDatabase.from_url(database_url)
    try:
        recording = tables().recording
        with mirror.read() as conn:
            row = execute(
                conn,
                sa.select(recording.c.gid, recording.c.name).order_by(recording.c.id).limit(1),
            ).one()
    finally:
        mirror.dispose()
    return str(row.gid), str(row.name)
