"""`earmark serve` and `earmark keys` as real processes: first run, submit → import → lookup,
graceful shutdown, restart on the same data directory, trusted proxy headers."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import numpy.typing as npt
import pytest

from earmark.api.errors import INSECURE_REQUEST, TOO_MANY_REQUESTS
from earmark.chromaprint.codec import encode_fingerprint_base64
from tests.importer.support import corpus_recordings
from tests.serve.process import (
    Serve,
    clean_environment,
    earmark_command,
    wait_imported,
    wait_until,
)

#: Long enough for the test's requests while the server drains, on a loaded machine too.
SHUTDOWN_DELAY = 3.0


@pytest.fixture(scope="module")
def recording(dev_corpus_vectors: Any) -> npt.NDArray[np.uint32]:
    return corpus_recordings(dev_corpus_vectors, 1)[0]


def keys_json(data_dir: Path) -> dict[str, str]:
    out = subprocess.run(
        [*earmark_command(), "keys", "--data-dir", str(data_dir), "--json"],
        env=clean_environment(),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    found: dict[str, str] = json.loads(out)
    return found


def lookup(url: str, client: str, fingerprint: str, duration: int) -> Any:
    response = httpx.post(
        url + "/v2/lookup",
        data={
            "client": client,
            "duration": str(duration),
            "fingerprint": fingerprint,
            "meta": "recordings",
        },
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.slow
def test_first_run_submit_lookup_shutdown_and_restart(
    tmp_path: Path, recording: npt.NDArray[np.uint32]
) -> None:
    data_dir = tmp_path / "nested" / "data"
    env = clean_environment(EARMARK_SHUTDOWN_DELAY=str(SHUTDOWN_DELAY))
    server = Serve(data_dir, env)
    try:
        assert "Initialised" in server.stdout
        assert data_dir.stat().st_mode & 0o077 == 0, "the data directory holds keys: owner only"
        assert keys_json(data_dir) == {"client": server.client_key, "user": server.user_key}

        fingerprint = encode_fingerprint_base64(recording)
        mbid = uuid.uuid4()
        submitted = httpx.post(
            server.url + "/v2/submit",
            data={
                "client": server.client_key,
                "user": server.user_key,
                "duration": "120",
                "fingerprint": fingerprint,
                "mbid": str(mbid),
                "track": "A real recording",
                "artist": "Someone",
            },
            timeout=30,
        ).json()
        assert submitted["status"] == "ok", submitted
        (submission,) = submitted["submissions"]
        track_id = wait_imported(server.url, server.client_key, submission["id"])

        found = lookup(server.url, server.client_key, fingerprint, 120)
        assert found["status"] == "ok"
        best = found["results"][0]
        assert best["id"] == track_id
        assert best["score"] > 0.9
        assert [r["id"] for r in best["recordings"]] == [str(mbid)]
        placed = httpx.post(
            server.url + "/v2/identify",
            data={
                "client": server.client_key,
                "fingerprint": encode_fingerprint_base64(recording[200:280]),
            },
            timeout=30,
        ).json()
        assert [(r["id"], r["offset"]) for r in placed["results"]] == [(track_id, 24.76)]

        # SIGTERM: health turns 503 at once, requests are still answered during the delay,
        # then the process ends by itself with status 0.
        signalled = time.monotonic()
        server.send(signal.SIGTERM)
        wait_until(
            lambda: httpx.get(server.url + "/_health", timeout=2).status_code == 503,
            SHUTDOWN_DELAY,
            "/_health 503 while draining",
            interval=0.02,
        )
        assert lookup(server.url, server.client_key, fingerprint, 120)["results"][0]["id"] == (
            track_id
        )
        assert server.wait(30) == 0, server.describe()
        assert time.monotonic() - signalled >= SHUTDOWN_DELAY
        with pytest.raises(httpx.TransportError):
            httpx.get(server.url + "/_health", timeout=2)
    finally:
        server.stop()

    # A restart keeps the data and the keys, and is not a first run.
    again = Serve(data_dir, env)
    try:
        assert "Initialised" not in again.stdout
        assert (again.client_key, again.user_key) == (server.client_key, server.user_key)
        found = lookup(again.url, again.client_key, fingerprint, 120)
        assert found["results"][0]["id"] == track_id
    finally:
        again.send(signal.SIGINT)  # Ctrl+C drains the same way
        assert again.wait(30) == 0, again.describe()


@pytest.mark.slow
def test_forwarded_headers_count_only_from_trusted_proxies(tmp_path: Path) -> None:
    """X-Forwarded-For sets the client address (per-IP limits) and X-Forwarded-Proto the
    scheme (HTTPS-only endpoints), but only from forwarded_allow_ips."""
    limits = {
        "EARMARK_RATE_LIMIT_IP": "0.05",  # one request per IP per 20 s window
        "EARMARK_RATE_LIMIT_APPLICATION": "0",
        "EARMARK_RATE_LIMIT_GLOBAL": "0",
        "EARMARK_MUSICBRAINZ_USERINFO_URL": "http://127.0.0.1:9/userinfo",
        "EARMARK_SHUTDOWN_DELAY": "0",
    }
    trusted = Serve(tmp_path / "data", clean_environment(**limits))
    try:
        first = _by_ip(trusted, "203.0.113.1")
        assert first.status_code == 200, first.text
        assert _by_ip(trusted, "203.0.113.2").status_code == 200
        assert _by_ip(trusted, "203.0.113.1").status_code == TOO_MANY_REQUESTS.status
        # Hostile values: a garbage address is one more bucket, never a server error.
        for hostile in ("not an address", "1.2.3.4, <script>", "::::", "x" * 2000):
            assert _by_ip(trusted, hostile).status_code in (200, 429)
        assert _https(trusted, "203.0.113.3", "https") != INSECURE_REQUEST.code
        assert _https(trusted, "203.0.113.4", "http") == INSECURE_REQUEST.code
    finally:
        trusted.stop()

    untrusted = Serve(
        tmp_path / "data",
        clean_environment(EARMARK_FORWARDED_ALLOW_IPS="192.0.2.1", **limits),
    )
    try:
        # Both headers are ignored: plain HTTP, and every request comes from 127.0.0.1, whose
        # one request of the window this first one uses up.
        assert _https(untrusted, "203.0.113.5", "https") == INSECURE_REQUEST.code
        assert _by_ip(untrusted, "203.0.113.6").status_code == TOO_MANY_REQUESTS.status
    finally:
        untrusted.stop()


def _by_ip(server: Serve, address: str) -> httpx.Response:
    return httpx.get(
        server.url + "/v2/lookup",
        params={"client": server.client_key, "trackid": str(uuid.uuid4())},
        headers={"X-Forwarded-For": address},
        timeout=10,
    )


def _https(server: Serve, address: str, scheme: str) -> int:
    answer = httpx.post(
        server.url + "/v2/user/create_musicbrainz",
        data={"client": server.client_key, "access_token": "token"},
        headers={"X-Forwarded-For": address, "X-Forwarded-Proto": scheme},
        timeout=30,
    ).json()
    assert answer["status"] == "error", answer
    code: int = answer["error"]["code"]
    return code


@pytest.mark.slow
def test_a_busy_port_is_reported_and_stops_everything(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [*earmark_command(), "serve", "--port", str(port), "--data-dir", str(tmp_path)],
            env=clean_environment(),
            capture_output=True,
            text=True,
            timeout=120,
        )
    # Checked before anything starts: one line, exit 1, no database and no background work.
    assert done.returncode == 1
    assert done.stderr == (
        f"earmark: error: cannot listen on 127.0.0.1:{port}: address already in use\n"
    )
    assert done.stdout == ""
    assert not (tmp_path / "earmark.db").exists()
