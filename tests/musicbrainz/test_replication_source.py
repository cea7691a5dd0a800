"""Packet sources (a directory, a URL served by a real HTTP server on 127.0.0.1), the
`earmark mb replicate` command and the cron job."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from click.testing import CliRunner, Result

from earmark.cli.main import EarmarkGroup
from earmark.cli.mb_cmd import mb
from earmark.counters import open_backends
from earmark.cron import build_scheduler
from earmark.db.engine import Databases
from earmark.musicbrainz.errors import PacketError, ReplicationError
from earmark.musicbrainz.replication import replicate
from earmark.musicbrainz.replication_source import (
    DirectorySource,
    UrlSource,
    check_url,
    configured_source,
)
from earmark.musicbrainz.schema import MusicBrainzDatabase
from earmark.settings import load_settings
from tests.musicbrainz.packets import (
    SONG_THREE,
    Row,
    fill_base,
    recording_row,
    recordings,
    state,
    tar_bytes,
    v2_members,
)
from tests.services import SqliteDatabases

TOKEN = "s3cret-token"


def _packet(sequence: int) -> bytes:
    gid = SONG_THREE if sequence == 1001 else f"0a1b2c3d-0000-4000-8000-00000000{sequence:04d}"
    row = Row("musicbrainz.recording", "i", new=recording_row(sequence, gid, f"Song {sequence}"))
    return tar_bytes(v2_members(sequence, [row]))


@dataclass
class PacketServer:
    """Serves ``replication-<N>-v2.tar.bz2`` from ``files`` to requests with the token."""

    files: dict[str, bytes] = field(default_factory=dict)
    redirects: dict[str, str] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    url: str = ""


@pytest.fixture
def server() -> Iterator[PacketServer]:
    state = PacketServer()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            state.requests.append(parts.path)
            name = parts.path.rsplit("/", 1)[-1]
            if name in state.redirects:
                self.send_response(302)
                self.send_header("Location", state.redirects[name])
                self.end_headers()
                return
            if parse_qs(parts.query).get("token") != [TOKEN]:
                self.send_response(401)
                self.end_headers()
                return
            body = state.files.get(name)
            if body is None:
                self.send_response(404)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}/api/musicbrainz/"
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


@pytest.fixture
def mirror(sqlite_databases: SqliteDatabases) -> Iterator[MusicBrainzDatabase]:
    database = MusicBrainzDatabase.from_url(sqlite_databases.create(migrated=False))
    database.create_schema()
    fill_base(database)
    yield database
    database.dispose()


def test_packets_from_a_url(server: PacketServer, mirror: MusicBrainzDatabase) -> None:
    server.files = {f"replication-{n}-v2.tar.bz2": _packet(n) for n in (1001, 1002)}
    source = UrlSource(server.url, TOKEN)
    try:
        run = replicate(mirror, source)
    finally:
        source.close()
    assert [p.sequence for p in run.packets] == [1001, 1002]
    assert run.current
    assert state(mirror)[0] == 1002
    assert recordings(mirror)[SONG_THREE] == ("Song 1001", 200000)
    # Packet 1003 is not published: the v2 name, then the v1 name, both 404.
    assert server.requests[-2:] == [
        "/api/musicbrainz/replication-1003-v2.tar.bz2",
        "/api/musicbrainz/replication-1003.tar.bz2",
    ]


def test_a_wrong_token_is_an_error_without_the_token(
    server: PacketServer, mirror: MusicBrainzDatabase
) -> None:
    server.files = {"replication-1001-v2.tar.bz2": _packet(1001)}
    source = UrlSource(server.url, "wrong-token")
    with pytest.raises(ReplicationError, match="HTTP 401") as caught:
        replicate(mirror, source)
    source.close()
    assert "wrong-token" not in str(caught.value)
    assert state(mirror)[0] == 1000


def test_an_oversized_download_is_refused(
    server: PacketServer, mirror: MusicBrainzDatabase
) -> None:
    server.files = {"replication-1001-v2.tar.bz2": _packet(1001)}
    source = UrlSource(server.url, TOKEN, max_bytes=100)
    with pytest.raises(PacketError, match="larger than the limit"):
        replicate(mirror, source)
    source.close()


def test_redirects_only_to_https_or_loopback(
    server: PacketServer, mirror: MusicBrainzDatabase
) -> None:
    server.files = {"elsewhere.tar.bz2": _packet(1001)}
    server.redirects = {
        "replication-1001-v2.tar.bz2": f"{server.url}elsewhere.tar.bz2?token={TOKEN}",
        "replication-1002-v2.tar.bz2": "http://example.org/replication-1002-v2.tar.bz2",
    }
    source = UrlSource(server.url, TOKEN)
    try:
        with pytest.raises(ReplicationError, match="https is required"):
            replicate(mirror, source)
    finally:
        source.close()
    assert state(mirror)[0] == 1001  # the redirect to loopback was followed


@pytest.mark.parametrize(
    "url",
    ["http://example.org/", "ftp://127.0.0.1/", "file:///etc/", "https:///nohost", "127.0.0.1"],
)
def test_urls_that_are_refused(url: str) -> None:
    with pytest.raises(ReplicationError, match="https is required"):
        check_url(url)


@pytest.mark.parametrize(
    "url", ["https://metabrainz.org/api/musicbrainz/", "http://localhost:8000/", "http://[::1]/"]
)
def test_urls_that_are_accepted(url: str) -> None:
    assert check_url(url) == url


def test_a_directory_that_is_not_one(tmp_path: Path) -> None:
    source = DirectorySource(tmp_path / "missing")
    with pytest.raises(ReplicationError, match="not a directory"), source.open(1):
        pass


def test_an_oversized_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "replication-7-v2.tar.bz2").write_bytes(b"x" * 200)
    source = DirectorySource(tmp_path, max_bytes=100)
    with pytest.raises(PacketError, match="larger than the limit"), source.open(7):
        pass


def test_the_configured_source() -> None:
    settings = load_settings(
        environ={
            "EARMARK_MUSICBRAINZ_REPLICATION_URL": "https://example.org/mb",
            "EARMARK_MUSICBRAINZ_REPLICATION_TOKEN": TOKEN,
            "EARMARK_MUSICBRAINZ_REPLICATION_DIR": "/srv/packets",
        }
    ).settings
    found = configured_source(settings)
    assert isinstance(found, UrlSource)
    assert found.token == TOKEN
    assert found.describe() == "https://example.org/mb/"
    assert isinstance(configured_source(settings, directory=Path("/x")), DirectorySource)
    assert configured_source(load_settings(environ={}).settings) is None
    only_dir = load_settings(
        environ={"EARMARK_MUSICBRAINZ_REPLICATION_DIR": "/srv/packets"}
    ).settings
    assert configured_source(only_dir) == DirectorySource(Path("/srv/packets"))


def _invoke(args: list[str], env: dict[str, str]) -> Result:
    root = EarmarkGroup(commands={"mb": mb})
    return CliRunner().invoke(root, ["mb", *args], obj={"settings": load_settings(environ=env)})


def _cli_mirror(data_dir: Path) -> MusicBrainzDatabase:
    database = MusicBrainzDatabase.from_url(f"sqlite:///{data_dir / 'musicbrainz.db'}")
    database.create_schema()
    fill_base(database)
    return database


def test_the_command(tmp_path: Path) -> None:
    database = _cli_mirror(tmp_path)
    packets = tmp_path / "packets"
    packets.mkdir()
    for n in (1001, 1002):
        (packets / f"replication-{n}-v2.tar.bz2").write_bytes(_packet(n))
    env = {"EARMARK_DATA_DIR": str(tmp_path)}
    try:
        once = _invoke(["replicate", "--dir", str(packets), "--once"], env)
        assert once.exit_code == 0, once.output
        assert "packet 1001: 2 changes in 2 tables" in once.stdout
        assert "replication sequence 1001" in once.stdout
        assert "more packets may follow" in once.stdout
        env["EARMARK_MUSICBRAINZ_REPLICATION_DIR"] = str(packets)
        rest = _invoke(["replicate"], env)
        assert rest.exit_code == 0, rest.output
        assert "packet 1002" in rest.stdout
        assert "applied 1 packets; replication sequence 1002" in rest.stdout
        assert "of 2026-05-16T18:00:01.500000+00:00 (current)" in rest.stdout
        (packets / "replication-1004-v2.tar.bz2").write_bytes(_packet(1004))
        gap = _invoke(["replicate", "--until-current"], env)
        assert gap.exit_code == 3
        assert "packet 1003 is missing but packet 1004 is there (a gap)" in gap.output
        assert "Traceback" not in gap.output
    finally:
        database.dispose()
    assert state(database)[0] == 1002


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--dir", "x", "--url", "https://example.org/"], "give --dir or --url, not both"),
        ([], "no packet source"),
        (["--url", "http://example.org/"], "https is required"),
    ],
)
def test_the_command_refuses(tmp_path: Path, args: list[str], message: str) -> None:
    result = _invoke(["replicate", *args], {"EARMARK_DATA_DIR": str(tmp_path)})
    assert result.exit_code != 0
    assert message in result.output


def test_the_cron_job(sqlite_databases: SqliteDatabases, tmp_path: Path) -> None:
    database = _cli_mirror(tmp_path)
    (tmp_path / "replication-1001-v2.tar.bz2").write_bytes(_packet(1001))
    dbs = Databases.single(sqlite_databases.create())
    backends = open_backends()
    try:
        without = build_scheduler(dbs, backends, database)
        assert "replicate-musicbrainz" not in [job.name for job in without.jobs]
        scheduler = build_scheduler(dbs, backends, database, replication=DirectorySource(tmp_path))
        run = scheduler.run_once("replicate-musicbrainz")
        assert run.ok, run
        assert run.summary == "1 packets applied, sequence 1001 (current)"
        assert state(database)[0] == 1001
    finally:
        backends.close()
        dbs.dispose()
        database.dispose()
