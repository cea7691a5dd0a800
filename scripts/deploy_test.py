"""The deployment test's checks (run by scripts/deploy-test.sh once the images are built).

Brings deploy/compose.yaml up as a project of its own, then, talking only to the ports it
publishes on 127.0.0.1: submits real fingerprints (fpcalc of the test music) under load while
one importer and one API container are killed, checks that every acknowledged submission is
imported exactly once and found by lookups through either API, restarts the index, takes a
backup, destroys the volumes, restores, checks the same lookups, and removes the project's
containers, networks and volumes whatever happened. Load is bounded in count and time.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.support import music_tracks  # noqa: E402 - the test music the suite uses

COMPOSE_FILE = ROOT / "deploy" / "compose.yaml"
TRACKS = 8  # distinct recordings
ROUNDS = 6  # submissions of each: TRACKS * ROUNDS submissions in all
SENDERS = 4
MIN_SECONDS = 30
IMAGE_UID = 10001  # the image's `earmark` user (Dockerfile)
ROLES = ("api", "web", "catalog", "importer", "cron", "index")
T = TypeVar("T")
started = time.monotonic()


def say(message: str) -> None:
    print(f"deploy-test [{time.monotonic() - started:5.1f}s] {message}", flush=True)


def run(argv: list[str], *, timeout: float = 300, check: bool = True, **kw: Any) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kw)
    if check and done.returncode != 0:
        raise AssertionError(f"{shlex.join(argv)}: exit {done.returncode}\n{done.stdout}{done.stderr}")
    return done.stdout


def wait_for(check: Callable[[], T | None], timeout: float, what: str, interval: float = 0.5) -> T:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not after {timeout:g} s")
        time.sleep(interval)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Stack:
    compose: list[str]
    project: str
    env: dict[str, str]
    ports: dict[str, int]

    def __call__(self, *args: str, timeout: float = 300, check: bool = True) -> str:
        argv = [*self.compose, "-p", self.project, "-f", str(COMPOSE_FILE), *args]
        return run(argv, env=self.env, timeout=timeout, check=check)

    def containers(self, service: str | None = None, *, every: bool = False) -> list[str]:
        """Ids of the project's containers (of one service), from the engine: quicker than
        asking compose, whose own start-up costs a second on a busy machine."""
        labels = [f"label=com.docker.compose.project={self.project}"]
        if service is not None:
            labels.append(f"label=com.docker.compose.service={service}")
        filters = [arg for label in labels for arg in ("--filter", label)]
        return run(["docker", "ps", "-q", *(["-a"] if every else []), *filters]).split()

    def container(self, service: str) -> str:
        (found,) = self.containers(service)
        return found

    def psql(self, sql: str) -> str:
        argv = ["docker", "exec", self.container("postgres"), "psql", "-U", "postgres"]
        return run([*argv, "-d", "earmark", "-At", "-c", sql]).strip()

    def wait_healthy(self, timeout: float = 240) -> float:
        """Every container running and healthy (`migrate` exited 0); seconds it took."""
        began = time.monotonic()

        waiting: list[str] = []

        def states() -> bool:
            waiting.clear()
            ids = self.containers(every=True)
            if not ids:
                return False
            fmt = "{{.Name}} {{.State.Status}} {{.State.ExitCode}} {{if .State.Health}}{{.State.Health.Status}}{{end}}"
            lines = run(["docker", "inspect", "-f", fmt, *ids]).split("\n")
            for line in filter(None, lines):
                name, status, code, *health = line.split()
                if "migrate" in name or "restore" in name or "backup" in name:
                    if status == "exited" and code != "0":
                        raise AssertionError(f"{name} failed: {self('logs', '--tail', '20')}")
                    continue
                if status != "running" or health != ["healthy"]:
                    waiting.append(f"{name} {status} {' '.join(health)}")
            return not waiting

        try:
            wait_for(states, timeout, "every service healthy", interval=0.25)
        except AssertionError as exc:
            raise AssertionError(f"{exc}; still waiting for {waiting}") from None
        return time.monotonic() - began


@dataclass
class Ledger:
    """What the test sent and what the service acknowledged."""

    acknowledged: dict[int, int] = field(default_factory=dict)  # submission id -> track index
    unacknowledged: int = 0
    lookups: int = 0
    lookup_failures: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def fingerprints() -> list[tuple[int, str]]:
    """fpcalc of TRACKS recordings of the test music at least MIN_SECONDS long (the jingles
    among them give fewer than the 80 distinct items an import needs, and are skipped)."""
    tracks = music_tracks()

    def one(path: Path) -> tuple[int, str]:
        found = json.loads(run(["fpcalc", "-json", "-ignore-errors", "-length", "120", str(path)]))
        return int(found["duration"]), str(found["fingerprint"])

    with ThreadPoolExecutor(4) as pool:
        found = [fp for fp in pool.map(one, tracks[: TRACKS * 2]) if fp[0] >= MIN_SECONDS]
    if len(found) < TRACKS:
        raise AssertionError("not enough test music installed (make deps as root)")
    return found[:TRACKS]


def post(client: httpx.Client, urls: list[str], path: str, data: dict[str, str]) -> Any:
    """POST to the first API that answers; None when none does (the caller decides)."""
    for url in urls:
        try:
            answer = client.post(url + path, data=data, timeout=10)
        except httpx.TransportError:
            continue
        if answer.status_code < 500:
            return answer.json()
    return None


def submit_under_fire(stack: Stack, keys: dict[str, str], fps: list[tuple[int, str]], mbids: list[str]) -> Ledger:
    """TRACKS * ROUNDS submissions from SENDERS threads over both APIs, lookups alongside;
    one importer and one API are killed once a third are acknowledged."""
    ledger = Ledger()
    apis = [f"http://127.0.0.1:{stack.ports['api1']}", f"http://127.0.0.1:{stack.ports['api2']}"]
    work = [(i % TRACKS, i) for i in range(TRACKS * ROUNDS)]
    killed = threading.Event()
    done = threading.Event()

    def sender(number: int) -> None:
        with httpx.Client() as client:
            for track, i in work[number::SENDERS]:
                duration, fingerprint = fps[track]
                data = {
                    "client": keys["client"], "user": keys["user"], "format": "json",
                    "duration": str(duration), "fingerprint": fingerprint, "mbid": mbids[track],
                }
                order = apis if i % 2 else apis[::-1]
                answer = post(client, order, "/v2/submit", data)
                with ledger.lock:
                    if answer and answer.get("status") == "ok":
                        ledger.acknowledged[int(answer["submissions"][0]["id"])] = track
                    else:
                        ledger.unacknowledged += 1
                if len(ledger.acknowledged) >= len(work) // 3 and not killed.is_set():
                    with ledger.lock:
                        if not killed.is_set():
                            killed.set()
                            for service in ("importer1", "api1"):
                                run(["docker", "kill", stack.container(service)])
                            say(f"killed importer1 and api1 after {len(ledger.acknowledged)} acknowledged")

    def looker() -> None:
        with httpx.Client() as client:
            while not done.is_set():
                for track in range(TRACKS):
                    duration, fingerprint = fps[track]
                    data = {"client": keys["client"], "duration": str(duration), "fingerprint": fingerprint}
                    answer = post(client, apis, "/v2/lookup", data)
                    with ledger.lock:
                        ledger.lookups += 1
                        if not answer or answer.get("status") != "ok":
                            ledger.lookup_failures.append(repr(answer))
                time.sleep(0.05)

    watcher = threading.Thread(target=looker)
    watcher.start()
    try:
        with ThreadPoolExecutor(SENDERS) as pool:
            list(pool.map(sender, range(SENDERS)))
    finally:
        done.set()
        watcher.join()
    return ledger


def check_imported_once(stack: Stack, ledger: Ledger, timeout: float = 180) -> int:
    ids = sorted(ledger.acknowledged)
    wanted = ",".join(map(str, ids))

    def all_imported() -> bool:
        waiting = stack.psql(f"SELECT count(*) FROM submission WHERE id IN ({wanted}) AND status <> 'imported'")
        return waiting == "0"

    wait_for(all_imported, timeout, f"the {len(ids)} acknowledged submissions imported", interval=1)
    twice = stack.psql("SELECT count(*) FROM (SELECT submission_id FROM submission_result GROUP BY 1 HAVING count(*) > 1) t")
    assert twice == "0", f"{twice} submissions imported twice"
    imported = int(stack.psql("SELECT count(*) FROM submission WHERE status = 'imported'"))
    counted = int(stack.psql("SELECT coalesce(sum(submission_count), 0) FROM fingerprint"))
    assert counted == imported, f"fingerprints count {counted} submissions, {imported} were imported"
    return imported


#: The AcoustID error code of a request over the application's rate limit ("try again later").
RATE_LIMITED = 14


def paced_lookup(client: httpx.Client, url: str, data: dict[str, str]) -> Any:
    """One lookup, tried again after a pause while the key's rate limit refuses it, as a
    well-behaved client does (the checks run 16 lookups back to back on one key, and the
    limit counts both APIs' requests)."""
    for _ in range(20):
        answer = client.post(url, data=data, timeout=30).json()
        if answer.get("status") != "error" or answer["error"].get("code") != RATE_LIMITED:
            return answer
        time.sleep(0.5)
    return answer


def lookups(stack: Stack, keys: dict[str, str], fps: list[tuple[int, str]], mbids: list[str]) -> list[str]:
    """Each recording looked up through each API: its track (the same through both) carries
    the MBID it was submitted with. Returns the track ids."""
    found: list[str] = []
    with httpx.Client() as client:
        for track, (duration, fingerprint) in enumerate(fps):
            tracks = set()
            for api in ("api1", "api2"):
                data = {"client": keys["client"], "duration": str(duration), "fingerprint": fingerprint, "meta": "recordingids"}
                answer = paced_lookup(client, f"http://127.0.0.1:{stack.ports[api]}/v2/lookup", data)
                assert answer["status"] == "ok", answer
                assert answer["results"], f"recording {track} not found through {api}"
                best = answer["results"][0]
                assert best["score"] > 0.9, best
                assert mbids[track] in [r["id"] for r in best.get("recordings", [])], best
                tracks.add(best["id"])
            assert len(tracks) == 1, tracks
            found.append(tracks.pop())
    assert len(set(found)) == len(found), "two recordings share a track"
    return found


def smoke(image: str) -> None:
    """`docker run IMAGE run ROLE --help` for every role, and the one-shot commands."""
    commands = [["run", role, "--help"] for role in ROLES] + [["db", "upgrade", "--help"], ["backup", "--help"], ["restore", "--help"], ["--version"]]

    def one(command: list[str]) -> None:
        out = run(["docker", "run", "--rm", image, *command], timeout=120)
        assert "Usage:" in out or "C extension: built" in out, out

    # A missing setting or secret stops the container at once with one line naming it.
    refusals = [
        ([], ["run", "web"], "the website needs web_secret"),
        (["-e", "EARMARK_DATABASE_URL_FILE=/run/secrets/missing"], ["run", "api"],
         "EARMARK_DATABASE_URL_FILE: cannot read /run/secrets/missing"),
    ]

    def refused(case: tuple[list[str], list[str], str]) -> None:
        options, command, message = case
        done = subprocess.run(["docker", "run", "--rm", *options, image, *command],
                              capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 2, (command, done.returncode, done.stderr)
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1, done.stderr
        assert lines[0].startswith(f"earmark: error: {message}"), done.stderr

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(one, commands))
        list(pool.map(refused, refusals))


def promtool(image: str) -> None:
    """`promtool check config` (which checks the rule files it names too) in the image."""
    mount = f"{ROOT / 'deploy' / 'monitoring'}:/etc/earmark-monitoring:ro"
    out = run(["docker", "run", "--rm", "-v", mount, "--entrypoint", "promtool", image,
               "check", "config", "/etc/earmark-monitoring/prometheus.yml"], timeout=120)
    assert "SUCCESS" in out, out


def check_prometheus(stack: Stack) -> int:
    """Prometheus (profile monitoring) scrapes every target and has loaded every rule."""
    url = f"http://127.0.0.1:{stack.ports['prometheus']}/api/v1"

    def all_up() -> list[Any] | None:
        targets = httpx.get(url + "/targets", timeout=10).json()["data"]["activeTargets"]
        return targets if targets and all(t["health"] == "up" for t in targets) else None

    targets = wait_for(all_up, 60, "every Prometheus target up", interval=1)
    groups = httpx.get(url + "/rules", timeout=10).json()["data"]["groups"]
    rules = [r for g in groups for r in g["rules"]]
    assert rules, groups
    assert all(r["health"] == "ok" for r in rules), rules
    return len(targets)


def keys_of(stack: Stack) -> dict[str, str]:
    api = stack.container("api2")
    user = run(["docker", "exec", api, "earmark", "accounts", "create", "deploytest", "--admin"])
    client = run(["docker", "exec", api, "earmark", "apps", "create", "Deploy test", "--account", "deploytest", "--version", "1.0"])
    return {
        "user": re.search(r"user key: (\S+)", user).group(1),  # type: ignore[union-attr]
        "client": re.search(r"client key: (\S+)", client).group(1),  # type: ignore[union-attr]
    }


@contextmanager
def project(compose: list[str], state: Path) -> Iterator[Stack]:
    name = f"earmarkdt{os.getpid()}"
    home = state / name
    (home / "backup").mkdir(parents=True)
    if os.geteuid() == 0:
        os.chown(home / "backup", IMAGE_UID, IMAGE_UID)
    else:
        (home / "backup").chmod(0o777)
    run(["sh", str(ROOT / "deploy" / "make-secrets.sh"), str(home / "secrets")])
    ports = {s: free_port() for s in ("api1", "api2", "web", "catalog", "prometheus")}
    env = dict(os.environ)
    env.update(
        EARMARK_SECRETS_DIR=str(home / "secrets"),
        EARMARK_BACKUP_DIR=str(home / "backup"),
        EARMARK_PUBLISH_API1=str(ports["api1"]),
        EARMARK_PUBLISH_API2=str(ports["api2"]),
        EARMARK_PUBLISH_WEB=str(ports["web"]),
        EARMARK_PUBLISH_CATALOG=str(ports["catalog"]),
        EARMARK_PUBLISH_PROMETHEUS=str(ports["prometheus"]),
        COMPOSE_PROFILES="monitoring",  # Prometheus too, in every up and down
    )
    stack = Stack(compose, name, env, ports)
    try:
        yield stack
    finally:
        say("tearing down: containers, networks and volumes of " + name)
        stack("--profile", "backup", "--profile", "mirror", "--profile", "monitoring", "down", "--volumes", "--remove-orphans", "--timeout", "5", check=False)
        left = run(["docker", "ps", "-aq", "--filter", f"label=com.docker.compose.project={name}"])
        left += run(["docker", "volume", "ls", "-q", "--filter", f"label=com.docker.compose.project={name}"])
        left += run(["docker", "network", "ls", "-q", "--filter", f"label=com.docker.compose.project={name}"])
        run(["rm", "-rf", str(home)])
        if left.strip():
            raise AssertionError(f"left behind: {left.split()}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--compose", default="docker-compose")
    parser.add_argument("--state", type=Path, default=Path("/var/tmp/earmark-deploy-test"))
    args = parser.parse_args()
    image = os.environ.get("EARMARK_IMAGE", "earmark:latest")
    size = int(run(["docker", "image", "inspect", "-f", "{{.Size}}", image]))
    say(f"image {image}: {size / 1e6:.0f} MB")
    with ThreadPoolExecutor(3) as pool:
        smoked = pool.submit(smoke, image)
        checked = pool.submit(promtool, os.environ.get("EARMARK_PROMETHEUS_IMAGE", "earmark-prometheus:latest"))
        fps_future = pool.submit(fingerprints)
        smoked.result()
        checked.result()
        fps = fps_future.result()
    say(f"smoke checks and promtool passed; {len(fps)} recordings fingerprinted with fpcalc")
    mbids = [str(uuid.uuid4()) for _ in fps]
    with project(shlex.split(args.compose), args.state) as stack:
        stack("up", "-d", timeout=300)
        say(f"compose up -> all healthy in {stack.wait_healthy():.1f} s")
        keys = keys_of(stack)
        ledger = submit_under_fire(stack, keys, fps, mbids)
        say(f"{len(ledger.acknowledged)} submissions acknowledged, {ledger.unacknowledged} not; "
            f"{ledger.lookups} lookups during the load, {len(ledger.lookup_failures)} failed")
        assert not ledger.lookup_failures, ledger.lookup_failures[:3]
        assert len(ledger.acknowledged) >= TRACKS * ROUNDS // 2
        stack("start", "api1", "importer1")
        stack.wait_healthy()
        imported = check_imported_once(stack, ledger)
        tracks = lookups(stack, keys, fps, mbids)
        say(f"every acknowledged submission imported once ({imported}); {len(tracks)} recordings found through both APIs")
        say(f"Prometheus scrapes {check_prometheus(stack)} targets, all up; every alert rule loaded")

        stack("restart", "index")
        stack.wait_healthy()
        assert lookups(stack, keys, fps, mbids) == tracks
        say("index restarted: every fingerprint still found")

        out = stack("--profile", "backup", "run", "--rm", "-T", "backup")
        say("backup: " + out.strip().splitlines()[-1])
        stack("down", "--volumes", "--timeout", "5")
        assert not run(["docker", "volume", "ls", "-q", "--filter", f"label=com.docker.compose.project={stack.project}"]).strip()
        out = stack("--profile", "backup", "run", "--rm", "-T", "restore")  # starts postgres
        say("volumes destroyed; restore: " + out.strip().splitlines()[-1])
        stack("up", "-d", timeout=300)
        say(f"restored stack healthy in {stack.wait_healthy():.1f} s")
        assert lookups(stack, keys, fps, mbids) == tracks
        assert int(stack.psql("SELECT count(*) FROM submission WHERE status = 'imported'")) == imported
        say("after the restore: the same lookups, the same imported submissions")
    say("passed")


if __name__ == "__main__":
    main()
