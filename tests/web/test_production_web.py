"""`earmark run web` in production: a fresh PostgreSQL database migrated by `earmark db
upgrade`, sign-in attempts counted in Redis under the test's own prefix. Runs with CI=true;
skipped (with the reason) without PostgreSQL or Redis."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from earmark.db import tracks
from earmark.db.engine import Databases
from tests.serve.process import (
    Process,
    clean_environment,
    earmark_command,
    free_port,
    run_earmark,
    wait_until,
)
from tests.services import REDIS_URL, RUN_ID, PostgresDatabases, require_redis
from tests.web.harness import PASSWORD, csrf_token


@pytest.fixture
def redis_prefix() -> Iterator[str]:
    require_redis()
    prefix = f"earmark-web-test:{RUN_ID}:{uuid.uuid4().hex[:6]}:"
    yield prefix
    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = set(client.scan_iter(match=prefix + "*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


def _redis_keys(prefix: str) -> set[str]:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        return {key.decode() for key in client.scan_iter(match=prefix + "*")}
    finally:
        client.close()


def test_run_web_on_postgresql_and_redis(
    tmp_path: Path, pg_databases: PostgresDatabases, redis_prefix: str
) -> None:
    database_url = pg_databases.create(migrated=False)
    env = clean_environment(
        EARMARK_DATABASE_URL=database_url,
        EARMARK_MUSICBRAINZ_DATABASE_URL=database_url,
        EARMARK_WEB_SECRET="a-secret-for-the-production-test-0123",
        EARMARK_REDIS_URL=REDIS_URL,
        EARMARK_REDIS_PREFIX=redis_prefix,
    )
    upgraded = run_earmark(["db", "upgrade"], env)
    assert upgraded.returncode == 0, upgraded.stderr
    dbs = Databases.single(database_url)
    try:
        with dbs.write() as conns:
            for _ in range(3):
                tracks.insert(conns.fingerprint)
    finally:
        dbs.dispose()
    port = free_port()
    web = Process([*earmark_command(), "run", "web", "--port", str(port)], env, name="run web")
    url = f"http://127.0.0.1:{port}"
    try:

        def answers() -> httpx.Response | None:
            try:
                return httpx.get(url + "/", timeout=5)
            except httpx.TransportError:
                assert web.proc.poll() is None, web.describe()
                return None

        home = wait_until(answers, 60, "run web answering /")
        assert home.status_code == 200
        with httpx.Client(base_url=url, timeout=30) as browser:
            # Sign up: signed in at once.
            token = csrf_token(browser.get("/signup").text)
            form = {"login": "Tester", "email": "", "password": PASSWORD, "password2": PASSWORD}
            made = browser.post("/signup", data={**form, "csrf_token": token})
            assert made.status_code == 303
            assert made.headers["location"] == "/api-key"
            assert "Signed in as" in browser.get("/api-key").text
            # Sign out, then in again with the password.
            browser.post("/logout", data={"csrf_token": csrf_token(browser.get("/").text)})
            assert "Signed in as" not in browser.get("/").text
            token = csrf_token(browser.get("/login").text)
            form = {"login": "tester", "password": PASSWORD, "return_url": "/", "csrf_token": token}
            signed_in = browser.post("/login", data=form)
            assert signed_in.status_code == 303
            assert signed_in.headers["location"] == "/"
            page = browser.get("/").text
            assert 'Signed in as <a href="/api-key">Tester</a>' in page
            # The home page's totals come from PostgreSQL.
            assert "<dt>Tracks</dt><dd>3</dd>" in page
            # Both attempts were counted in Redis, under this test's prefix only.
            keys = _redis_keys(redis_prefix)
            buckets = {key.removeprefix(redis_prefix).split(":")[1] for key in keys}
            assert {
                "web_signup_ip",
                "web_signup_login",
                "web_login_ip",
                "web_login_login",
            } <= buckets
            assert any(":web_login_login:tester:" in key for key in keys)
            # Sign out for good.
            token = csrf_token(browser.get("/").text)
            assert browser.post("/logout", data={"csrf_token": token}).status_code == 303
            assert "Signed in as" not in browser.get("/").text
    finally:
        assert web.stop() == 0, web.describe()
