"""`make serve` from a fresh copy of the source tree: the newcomer's one command.

A `git clone` would test the last commit, not the tree under test (uncommitted work would be
missing), so the test copies what a commit of this tree would hold: every tracked file plus
every untracked file git does not ignore (`git ls-files -co --exclude-standard`). Nothing else
comes along: no `.venv`, no build products, no data. `make serve` then creates its own `.venv`,
installs Earmark into it (from the package index pip is configured with) and starts the service;
curl submits and looks up, and Ctrl+C (SIGINT to the process group, as a terminal sends it)
stops it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import numpy.typing as npt
import pytest

from earmark.chromaprint.codec import encode_fingerprint_base64
from tests.importer.support import corpus_recordings
from tests.index.process import free_port
from tests.serve.process import (
    CLIENT_LINE,
    URL_LINE,
    USER_LINE,
    Process,
    clean_environment,
    healthy,
    wait_until,
)
from tests.support import ROOT, require_tool

#: Creating the virtualenv and installing every dependency.
INSTALL_TIMEOUT_S = 900


def copy_source_tree(target: Path) -> None:
    git = require_tool("git")
    listed = subprocess.run(
        [git, "ls-files", "-z", "-co", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout
    for name in filter(None, listed.decode().split("\0")):
        source = ROOT / name
        if not source.is_file():  # deleted in the working tree
            continue
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target / name)


def fresh_environment() -> dict[str, str]:
    """No trace of this test run's virtualenv: `make` must find a system Python itself."""
    env = clean_environment()
    venv_bin = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p != venv_bin)
    for name in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME"):
        env.pop(name, None)
    return env


def curl(*args: str) -> Any:
    out = subprocess.run(
        [require_tool("curl"), "--silent", "--show-error", "--max-time", "30", *args],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(out)


@pytest.mark.slow
def test_make_serve_from_a_fresh_copy(tmp_path: Path, dev_corpus_vectors: Any) -> None:
    require_tool("make")
    tree = tmp_path / "earmark"
    copy_source_tree(tree)
    assert not (tree / ".venv").exists()
    data_dir = tmp_path / "data"
    port = free_port()
    make = Process(
        [require_tool("make"), "serve", f"PORT={port}", f"DATA_DIR={data_dir}"],
        fresh_environment(),
        cwd=tree,
        new_session=True,
        name="make serve",
    )
    try:
        url = make.wait_for_output(URL_LINE, INSTALL_TIMEOUT_S).group(1)
        assert url == f"http://127.0.0.1:{port}"
        client = make.wait_for_output(CLIENT_LINE, 5).group(1)
        user = make.wait_for_output(USER_LINE, 5).group(1)
        healthy(url, make)
        assert (tree / ".venv" / "bin" / "earmark").exists()
        assert (data_dir / "earmark.db").is_file()

        recording: npt.NDArray[np.uint32] = corpus_recordings(dev_corpus_vectors, 3)[2]
        fingerprint = encode_fingerprint_base64(recording)
        mbid = str(uuid.uuid4())
        submitted = curl(
            f"{url}/v2/submit",
            "--data-urlencode", f"client={client}",
            "--data-urlencode", f"user={user}",
            "--data-urlencode", "duration=120",
            "--data-urlencode", f"fingerprint={fingerprint}",
            "--data-urlencode", f"mbid={mbid}",
        )  # fmt: skip
        assert submitted["status"] == "ok", submitted
        submission_id = submitted["submissions"][0]["id"]

        def imported() -> str | None:
            status = curl(f"{url}/v2/submission_status?client={client}&id={submission_id}")
            (found,) = status["submissions"]
            return found["result"]["id"] if found["status"] == "imported" else None

        track_id = wait_until(imported, 60, "imported", interval=0.25)
        found = curl(
            f"{url}/v2/lookup",
            "--data-urlencode", f"client={client}",
            "--data-urlencode", "duration=120",
            "--data-urlencode", f"fingerprint={fingerprint}",
            "--data-urlencode", "meta=recordingids",
        )  # fmt: skip
        assert found["status"] == "ok", found
        assert found["results"][0]["id"] == track_id
        assert found["results"][0]["recordings"] == [{"id": mbid}]

        make.send(signal.SIGINT)  # Ctrl+C in the terminal
        make.wait(60)
        assert "Application shutdown complete" in make.stderr, make.describe()
        with pytest.raises(httpx.TransportError):
            httpx.get(url + "/_health", timeout=2)
    finally:
        make.stop()
