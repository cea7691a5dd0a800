"""Reliability gate: Schemathesis against the OpenAPI document a live server serves.

Requests generated from ``/v2/openapi.json`` (examples, boundary values, random and invalid
data, and the links between operations) go to a real ``earmark serve`` and, with the services,
to ``earmark run api`` on PostgreSQL. Every answer must be free of 5xx and conform to the
document: a documented status code, a documented content type, the documented headers and body
schema. Two passes per server:

* anonymous: whatever Schemathesis generates, keys included (mostly the error paths);
* keyed: valid client and user keys and the cluster secret, and, half of the time, the
  fingerprint, fingerprint id and MBID of a submission imported beforehand, so lookups and the
  track and fingerprint reads answer real results with MusicBrainz metadata.

The number of examples per operation and the seed are fixed, so a run is bounded (about half a
minute per pass) and a failure can be replayed with the command it prints.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import nats
import numpy as np
import numpy.typing as npt
import pytest
import redis
import sqlalchemy as sa
from nats.js.errors import NotFoundError

from earmark.api.spec import endpoints
from earmark.chromaprint.codec import encode_fingerprint_base64
from earmark.db import tables as t
from earmark.db.engine import Databases
from tests.importer.support import corpus_recordings
from tests.index.process import free_port
from tests.serve.process import (
    Process,
    Serve,
    clean_environment,
    healthy,
    load_musicbrainz_sample,
    wait_until,
)
from tests.serve.test_production import Fleet, client_key
from tests.services import (
    NATS_URL,
    REDIS_URL,
    RUN_ID,
    PostgresDatabases,
    require_nats,
    require_redis,
)
from tests.support import IN_CI

#: Test cases per operation and phase; with 32 operations a pass sends a few thousand requests.
MAX_EXAMPLES = 30
SEED = 23
CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
    ]
)
SECRET = "fuzz-cluster-secret"
DURATION = 120
#: No rate limit: a limited run mostly tests error 14 and leaves the rest untested.
UNLIMITED = {
    "EARMARK_RATE_LIMIT_APPLICATION": "0",
    "EARMARK_RATE_LIMIT_GLOBAL": "0",
    "EARMARK_RATE_LIMIT_IP": "0",
    "EARMARK_CLUSTER_SECRET": SECRET,
}


@dataclass(frozen=True)
class Seeded:
    """What the keyed pass uses: keys, and one imported submission's identifiers."""

    client: str
    user: str
    fingerprint: str
    fingerprint_id: int
    mbid: str


def schemathesis_command() -> list[str]:
    script = Path(sys.executable).with_name("st")
    if not script.exists():
        message = "schemathesis is not installed (pip install -e '.[test]')"
        if IN_CI:
            pytest.fail(message + "; CI must have it")
        pytest.skip(message)
    return [str(script)]


def operations() -> set[str]:
    """The operations of the document, as Schemathesis names them: a GET and a POST per
    endpoint."""
    return {f"{method} {e.path}" for e in endpoints.ENDPOINTS for method in ("GET", "POST")}


def _toml_value(value: object) -> str:
    # JSON strings and numbers are valid TOML (ASCII values only are written here).
    return json.dumps(value)


def keyed_config(seeded: Seeded) -> str:
    """The Schemathesis configuration of the keyed pass (TOML)."""
    fixed = {"client": seeded.client, "user": seeded.user, "secret": SECRET}
    lines = ["[parameters]"]
    for name, value in fixed.items():
        for location in ("query", "body"):
            lines.append(f"{_toml_value(f'{location}.{name}')} = {_toml_value(value)}")
    dictionaries = {
        "fingerprint": [seeded.fingerprint],
        "duration": [DURATION],
        "id": [seeded.fingerprint_id],
        "mbid": [seeded.mbid],
    }
    for name in dictionaries:
        for location in ("query", "body"):
            binding = f"{{ dictionary = {_toml_value(name)}, probability = 0.5 }}"
            lines.append(f"{_toml_value(f'{location}.{name}')} = {binding}")
    for name, values in dictionaries.items():
        lines += ["", f"[dictionaries.{name}]", f"values = {_toml_value(values)}"]
    return "\n".join(lines) + "\n"


def run_schemathesis(url: str, reports: Path, name: str, config: str | None = None) -> ET.Element:
    """``st run`` against ``url``'s document; its JUnit report (fails on any failure)."""
    reports.mkdir(parents=True, exist_ok=True)
    junit = reports / f"{name}.xml"
    command = [*schemathesis_command()]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCHEMATHESIS_")}
    if config is not None:
        config_file = reports / f"{name}.toml"
        config_file.write_text(config)
        command += ["--config-file", str(config_file)]
    command += [
        "run",
        f"{url}/v2/openapi.json",
        "--checks",
        CHECKS,
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        str(SEED),
        # One worker: with two threads, Hypothesis's lambda descriptions met a CPython 3.11
        # ast race ("AST constructor recursion depth mismatch") and the run ended in an error.
        "--workers",
        "1",
        "--request-timeout",
        "30",
        "--no-color",
        "--report",
        "junit",
        "--report-junit-path",
        str(junit),
    ]
    result = subprocess.run(
        command, env=env, capture_output=True, text=True, timeout=600, cwd=reports
    )
    assert result.returncode == 0, f"{' '.join(command)}\n{result.stdout}\n{result.stderr}"
    suite = ET.parse(junit).getroot()
    if suite.tag == "testsuites":
        suite = suite[0]
    tested = {case.get("name") for case in suite.iter("testcase")}
    assert tested >= operations(), result.stdout
    assert suite.get("failures") == "0", result.stdout
    assert suite.get("errors") == "0", result.stdout
    return suite


def submit_and_wait(url: str, client: str, user: str, fingerprint: str, mbid: str) -> None:
    answer = httpx.post(
        url + "/v2/submit",
        data={
            "client": client,
            "user": user,
            "duration": str(DURATION),
            "fingerprint": fingerprint,
            "mbid": mbid,
            "track": "Seeded track",
        },
        timeout=30,
    ).json()
    assert answer["status"] == "ok", answer
    (submission,) = answer["submissions"]

    def imported() -> bool:
        status = httpx.post(
            url + "/v2/submission_status",
            data={"client": client, "id": str(submission["id"])},
            timeout=10,
        ).json()
        return bool(status["submissions"][0]["status"] == "imported")

    wait_until(imported, 90, "the seeded submission imported", interval=0.25)


def first_fingerprint_id(database_url: str) -> int:
    dbs = Databases.single(database_url)
    try:
        with dbs.read() as conns:
            return int(
                conns.fingerprint.execute(sa.select(sa.func.min(t.fingerprint.c.id))).scalar_one()
            )
    finally:
        dbs.dispose()


def fuzz_both_passes(
    url: str, reports: Path, client: str, user: str, fingerprint: str, mbid: str, db_url: str
) -> None:
    submit_and_wait(url, client, user, fingerprint, mbid)
    seeded = Seeded(client, user, fingerprint, first_fingerprint_id(db_url), mbid)
    run_schemathesis(url, reports, "anonymous")
    run_schemathesis(url, reports, "keyed", keyed_config(seeded))
    # Thousands of hostile requests later the server still answers.
    healthy(url, timeout=10)


@pytest.fixture(scope="module")
def recording(dev_corpus_vectors: Any) -> npt.NDArray[np.uint32]:
    return corpus_recordings(dev_corpus_vectors, 3)[2]


@pytest.mark.slow
def test_serve_answers_every_generated_request_as_documented(
    tmp_path: Path, recording: npt.NDArray[np.uint32]
) -> None:
    schemathesis_command()
    data_dir = tmp_path / "data"
    database = data_dir / "earmark.db"
    mbid, _title = load_musicbrainz_sample(
        clean_environment(EARMARK_DATA_DIR=str(data_dir)),
        f"sqlite:///{data_dir / 'musicbrainz.db'}",
    )
    server = Serve(data_dir, clean_environment(**UNLIMITED))
    try:
        fuzz_both_passes(
            server.url,
            tmp_path / "reports",
            server.client_key,
            server.user_key,
            encode_fingerprint_base64(recording),
            mbid,
            f"sqlite:///{database}",
        )
    finally:
        code = server.stop()
    assert code == 0, server.describe()
    assert "Traceback" not in server.stderr, server.describe()


@pytest.fixture
def production_env(tmp_path: Path, pg_databases: PostgresDatabases) -> Iterator[dict[str, str]]:
    """The settings of a production deployment: a fresh PostgreSQL database, a NATS stream and
    a Redis prefix of this test's own (both removed afterwards)."""
    require_nats()
    require_redis()
    stream = f"EARMARK_FUZZ_TEST_{RUN_ID}".upper()
    prefix = f"earmark-fuzz-test:{RUN_ID}:"
    yield clean_environment(
        EARMARK_DATA_DIR=str(tmp_path / "data"),
        EARMARK_DATABASE_URL=(database_url := pg_databases.create()),
        EARMARK_MUSICBRAINZ_DATABASE_URL=database_url,
        EARMARK_QUEUE="nats",
        EARMARK_NATS_URL=NATS_URL,
        EARMARK_NATS_STREAM=stream,
        EARMARK_REDIS_URL=REDIS_URL,
        EARMARK_REDIS_PREFIX=prefix,
        EARMARK_SHUTDOWN_DELAY="0.2",
        **UNLIMITED,
    )

    async def delete_stream() -> None:
        nc = await nats.connect(NATS_URL)
        try:
            with contextlib.suppress(NotFoundError):
                await nc.jetstream().delete_stream(stream)
        finally:
            await nc.close()

    asyncio.run(delete_stream())
    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = list(client.scan_iter(match=prefix + "*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


@pytest.mark.slow
def test_run_api_on_postgresql_answers_every_generated_request_as_documented(
    tmp_path: Path, production_env: Mapping[str, str], recording: npt.NDArray[np.uint32]
) -> None:
    schemathesis_command()
    env = dict(production_env)
    database_url = env["EARMARK_DATABASE_URL"]
    index_port, api_port = free_port(), free_port()
    env["EARMARK_INDEX_URL"] = f"http://127.0.0.1:{index_port}"
    mbid, _title = load_musicbrainz_sample(env, database_url)
    client, user = client_key(database_url)
    fleet = Fleet(env)
    try:
        index = fleet.start(
            "run", "index", "--port", str(index_port), "--dir", str(tmp_path / "ix")
        )
        healthy(f"http://127.0.0.1:{index_port}", index)
        fleet.start("run", "importer")
        api: Process = fleet.start("run", "api", "--port", str(api_port))
        url = f"http://127.0.0.1:{api_port}"
        healthy(url, api)
        fuzz_both_passes(
            url,
            tmp_path / "reports",
            client,
            user,
            encode_fingerprint_base64(recording),
            mbid,
            database_url,
        )
    finally:
        codes = fleet.stop_all()
    assert codes == dict.fromkeys(codes, 0), [p.describe() for p in fleet.processes]
    tracebacks = [p.describe() for p in fleet.processes if "Traceback" in p.stderr]
    assert not tracebacks, tracebacks
