"""The website in real processes: `earmark serve` (site and API on one port) and
`earmark run web` (the site alone)."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from tests.serve.process import (
    Process,
    Serve,
    clean_environment,
    earmark_command,
    free_port,
    run_earmark,
    taken_port,
    wait_until,
)
from tests.web.harness import PASSWORD, csrf_token

__all__ = ["taken_port"]  # a fixture


def test_serve_answers_the_site_and_the_api_on_one_port(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = clean_environment()
    server = Serve(data_dir, env)
    try:
        banner = server.describe()
        assert "earmark accounts set-password admin" in banner
        home = httpx.get(server.url + "/", timeout=10)
        assert home.status_code == 200
        assert "In this database" in home.text
        lookup = httpx.get(
            server.url + "/v2/lookup",
            params={"client": server.client_key, "trackid": "9ff43b6a-4f16-427c-93c2-92307ca505e0"},
            timeout=10,
        )
        assert lookup.status_code == 200
        assert lookup.json()["status"] == "ok"
        assert httpx.get(server.url + "/_health", timeout=10).status_code == 200
        # The administrator `serve` created signs in once it has a password.
        made = run_earmark(
            ["accounts", "set-password", "admin", "--stdin", "--data-dir", str(data_dir)],
            env,
            stdin=PASSWORD + "\n",
        )
        assert made.returncode == 0, made.stderr
        with httpx.Client(base_url=server.url, timeout=30, follow_redirects=True) as browser:
            token = csrf_token(browser.get("/login").text)
            signed_in = browser.post(
                "/login", data={"login": "admin", "password": PASSWORD, "csrf_token": token}
            )
            assert signed_in.status_code == 200
            assert "Signed in as" in signed_in.text
            assert server.user_key in browser.get("/api-key").text
    finally:
        server.stop()


def test_run_web_serves_the_site(tmp_path: Path) -> None:
    env = clean_environment(
        EARMARK_DATABASE_URL=f"sqlite:///{tmp_path}/earmark.db",
        EARMARK_MUSICBRAINZ_DATABASE_URL=f"sqlite:///{tmp_path}/musicbrainz.db",
        EARMARK_WEB_SECRET="a-secret-for-the-test-0123456789",
    )
    upgraded = run_earmark(["db", "upgrade"], env)
    assert upgraded.returncode == 0, upgraded.stderr
    port = free_port()
    web = Process([*earmark_command(), "run", "web", "--port", str(port)], env, name="run web")
    try:
        url = f"http://127.0.0.1:{port}"

        def answers() -> httpx.Response | None:
            try:
                return httpx.get(url + "/", timeout=5)
            except httpx.TransportError:
                assert web.proc.poll() is None, web.describe()
                return None

        home = wait_until(answers, 60, "run web answering /")
        assert home.status_code == 200
        assert "In this database" in home.text
        assert "frame-ancestors 'none'" in home.headers["content-security-policy"]
        css = re.search(r'href="(/static/site\.[0-9a-f]+\.css)"', home.text)
        assert css is not None
        assert httpx.get(url + css.group(1), timeout=5).status_code == 200
        # The API is not part of this process.
        assert httpx.get(url + "/v2/lookup", timeout=5).status_code == 404
    finally:
        web.stop()


def test_run_web_refuses_a_busy_port_and_a_missing_secret(tmp_path: Path, taken_port: int) -> None:
    env = clean_environment(
        EARMARK_DATABASE_URL=f"sqlite:///{tmp_path}/earmark.db",
        EARMARK_WEB_SECRET="a-secret-for-the-test-0123456789",
    )
    busy = run_earmark(["run", "web", "--port", str(taken_port)], env)
    assert busy.returncode == 1
    assert busy.stderr.strip() == (
        f"earmark: error: cannot listen on 127.0.0.1:{taken_port}: address already in use"
    )
    no_secret = run_earmark(
        ["run", "web", "--port", str(free_port())],
        {k: v for k, v in env.items() if k != "EARMARK_WEB_SECRET"},
    )
    assert no_secret.returncode != 0
    assert "web_secret" in no_secret.stderr
    assert "Traceback" not in no_secret.stderr
