"""``earmark identify --catalog``: a real embedded service with mbdata's sample mirror loaded;
a file imported with a recording MBID is identified with its catalog fields."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from earmark.cli.main import cli
from earmark.embedded import initialise
from earmark.settings import Settings
from tests.support import ffmpeg_convert, require_music

pytestmark = [pytest.mark.slow, pytest.mark.realaudio]


def _invoke(*args: str, env: dict[str, str]) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_identify_catalog_prints_the_catalog_fields(tmp_path: Path) -> None:
    from earmark.musicbrainz.catalog import CatalogQuery, load
    from earmark.musicbrainz.schema import MusicBrainzDatabase, execute, tables

    data = tmp_path / "data"
    settings = Settings(data_dir=data)
    initialise(settings)
    env = {"EARMARK_DATA_DIR": str(data)}
    code, _, err = _invoke("mb", "load-sample", env=env)
    assert code == 0, err
    mirror = MusicBrainzDatabase.from_settings(settings)
    mb = tables()
    with mirror.read() as conn:
        mbid = str(
            execute(
                conn,
                sa.select(mb.recording.c.gid)
                .where(mb.recording.c.id.in_(sa.select(mb.track.c.recording)))
                .order_by(mb.recording.c.id)
                .limit(1),
            ).scalar_one()
        )
        found = load(conn, CatalogQuery(recordings=[mbid]))
    recording = found.recordings[mbid]
    track = found.tracks[recording.tracks[0]]
    album = found.releases[track.release]
    mirror.engine.dispose()

    (tmp_path / "lib").mkdir()
    song = ffmpeg_convert(
        require_music(1)[0],
        tmp_path / "lib" / "song.flac",
        *("-t", "30", "-metadata", "title=Song", "-metadata", "artist=Band"),
        *("-metadata", f"MUSICBRAINZ_TRACKID={mbid}"),
    )
    code, _, err = _invoke(
        "import-audio", str(tmp_path / "lib"), "--data-dir", str(data), "--no-wait", env=env
    )
    assert code == 0, err
    code, _, err = _invoke("run", "importer", "--until-idle", env=env)
    assert code == 0, err

    code, out, err = _invoke("identify", str(song), "--catalog", "--json", env=env)
    assert code == 0, err
    answer = json.loads(out)
    assert answer["catalog"] == {
        "title": track.title,
        "artists": "".join(a.name + a.joinphrase for a in track.artists),
        "album": album.title,
        "track_number": track.number,
        "isrc": recording.isrcs[0] if recording.isrcs else None,
        "barcode": album.barcode,
    }
    code, out, err = _invoke("identify", str(song), "--catalog", env=env)
    assert code == 0, err
    assert f"  title: {track.title}\n" in out
    assert f"  album: {album.title}\n" in out
    assert f"  track number: {track.number}\n" in out
    assert f"  barcode: {album.barcode or '-'}\n" in out
