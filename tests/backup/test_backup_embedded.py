"""`earmark backup` / `earmark restore` of the data directory of `earmark serve`, as real
processes: fingerprints submitted and imported, the directory backed up, restored into another
one that then answers the same lookups; and the ways a backup or a restore is refused."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from earmark.chromaprint.codec import encode_fingerprint_base64
from tests.importer.support import corpus_recordings
from tests.serve.process import (
    Serve,
    clean_environment,
    earmark_command,
    wait_imported,
)

RECORDINGS = 3


def earmark(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*earmark_command(), *args],
        env=clean_environment(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def lookup(server: Serve, fingerprint: str) -> Any:
    answer = httpx.post(
        server.url + "/v2/lookup",
        data={
            "client": server.client_key,
            "duration": "120",
            "fingerprint": fingerprint,
            "meta": "recordings",
        },
        timeout=30,
    ).json()
    assert answer["status"] == "ok", answer
    return [(r["id"], [rec["id"] for rec in r.get("recordings", [])]) for r in answer["results"]]


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, dev_corpus_vectors: Any
) -> tuple[Path, dict[str, Any], Path]:
    """A data directory with RECORDINGS imported fingerprints, the lookups' answers, and a
    backup of it taken after `earmark serve` stopped (a backup while it ran is refused)."""
    root = tmp_path_factory.mktemp("backup")
    data_dir = root / "data"
    fingerprints = [
        encode_fingerprint_base64(r) for r in corpus_recordings(dev_corpus_vectors, RECORDINGS)
    ]
    server = Serve(data_dir, clean_environment(EARMARK_SHUTDOWN_DELAY="0"))
    try:
        for fingerprint in fingerprints:
            submitted = httpx.post(
                server.url + "/v2/submit",
                data={
                    "client": server.client_key,
                    "user": server.user_key,
                    "duration": "120",
                    "fingerprint": fingerprint,
                    "mbid": str(uuid.uuid4()),
                },
                timeout=30,
            ).json()
            assert submitted["status"] == "ok", submitted
            wait_imported(server.url, server.client_key, submitted["submissions"][0]["id"])
        answers = {fp: lookup(server, fp) for fp in fingerprints}
        refused = earmark("backup", str(root / "while-running"), "--data-dir", str(data_dir))
        assert refused.returncode == 1
        assert "is in use by process" in refused.stderr
        server.send(signal.SIGTERM)
        assert server.wait(30) == 0, server.describe()
    finally:
        server.stop()
    backup = root / "backup"
    taken = earmark("backup", str(backup), "--data-dir", str(data_dir))
    assert taken.returncode == 0, taken.stderr
    return data_dir, {"keys": (server.client_key, server.user_key), "answers": answers}, backup


def test_restored_directory_answers_the_same_lookups(
    served: tuple[Path, dict[str, Any], Path], tmp_path: Path
) -> None:
    _data_dir, before, backup = served
    manifest = json.loads((backup / "manifest.json").read_text())
    assert manifest["kind"] == "sqlite"
    assert {"index.snapshot", "web_secret"} <= set(manifest["files"])
    restored_dir = tmp_path / "restored"
    done = earmark("restore", str(backup), "--data-dir", str(restored_dir))
    assert done.returncode == 0, done.stderr
    assert "0 fingerprint(s) sent" in done.stdout  # the index copy had every fingerprint
    server = Serve(restored_dir, clean_environment(EARMARK_SHUTDOWN_DELAY="0"))
    try:
        assert (server.client_key, server.user_key) == before["keys"]
        for fingerprint, answer in before["answers"].items():
            assert answer, "every fingerprint was found before the backup"
            assert answer[0][1], answer  # a track with its MBID
            assert lookup(server, fingerprint) == answer
    finally:
        server.stop()
    again = earmark("restore", str(backup), "--data-dir", str(restored_dir))
    assert again.returncode == 1
    assert "already exists" in again.stderr


def test_a_lost_index_is_caught_up_from_the_database(
    served: tuple[Path, dict[str, Any], Path], tmp_path: Path
) -> None:
    """A backup whose index copy is older than its database: every fingerprint from the
    manifest's position on is sent to the restored index, and the service finds them all."""
    _data_dir, before, backup = served
    partial = tmp_path / "partial"
    shutil.copytree(backup, partial)
    manifest = json.loads((partial / "manifest.json").read_text())
    manifest["position"] = 1
    manifest["files"].remove("index.snapshot")  # as a backup taken before any indexing
    (partial / "manifest.json").write_text(json.dumps(manifest))
    restored_dir = tmp_path / "restored"
    done = earmark("restore", str(partial), "--data-dir", str(restored_dir))
    assert done.returncode == 0, done.stderr
    assert f"{RECORDINGS} fingerprint(s) sent" in done.stdout
    server = Serve(restored_dir, clean_environment(EARMARK_SHUTDOWN_DELAY="0"))
    try:
        for fingerprint, answer in before["answers"].items():
            assert lookup(server, fingerprint) == answer
    finally:
        server.stop()


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda d: (d / "manifest.json").unlink(), "not a finished backup"),
        (lambda d: (d / "manifest.json").write_text("{"), "cannot be read"),
        (lambda d: _edit(d, databases=[{"file": "../earmark.db", "roles": ["app"]}]), "bad file"),
        (lambda d: _edit(d, position=0), "bad catch-up position"),
        (lambda d: _edit(d, format=99), "format 99"),
        (lambda d: _edit(d, kind="postgresql"), "is a postgresql backup"),
        (lambda d: (d / "index.snapshot").write_bytes(b"\x93garbage"), "index snapshot"),
        (lambda d: (d / "earmark.db").write_bytes(b"not a database"), "cannot copy"),
    ],
)
def test_a_damaged_backup_is_refused_in_one_line(
    served: tuple[Path, dict[str, Any], Path], tmp_path: Path, damage: Any, message: str
) -> None:
    _data_dir, _before, backup = served
    copy = tmp_path / "copy"
    shutil.copytree(backup, copy)
    damage(copy)
    done = earmark("restore", str(copy), "--data-dir", str(tmp_path / "target"))
    assert done.returncode == 1, done.stdout
    assert message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "Traceback" not in done.stderr


def test_backup_refuses_a_directory_that_is_not_empty(
    served: tuple[Path, dict[str, Any], Path],
) -> None:
    data_dir, _before, backup = served
    done = earmark("backup", str(backup), "--data-dir", str(data_dir))
    assert done.returncode == 1
    assert "is not an empty directory" in done.stderr


def _edit(directory: Path, **changes: Any) -> None:
    manifest = json.loads((directory / "manifest.json").read_text())
    manifest.update(changes)
    (directory / "manifest.json").write_text(json.dumps(manifest))
