"""`earmark mb`, invoked through a group that maps errors like the real `earmark` command."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result

from earmark.cli.main import EarmarkGroup
from earmark.cli.mb_cmd import mb
from earmark.db.engine import sqlite_file
from earmark.musicbrainz.schema import MusicBrainzDatabase
from earmark.settings import load_settings
from tests.musicbrainz.support import (
    Mirror,
    dump_members,
    planner_rows,
    row_counts,
    write_archive,
)
from tests.services import PostgresDatabases


def _invoke(args: list[str], env: dict[str, str]) -> Result:
    root = EarmarkGroup(commands={"mb": mb})
    return CliRunner().invoke(root, ["mb", *args], obj={"settings": load_settings(environ=env)})


def _sqlite(data_dir: Path) -> MusicBrainzDatabase:
    return MusicBrainzDatabase.from_url(f"sqlite:///{data_dir / 'musicbrainz.db'}")


def test_init_and_load_sample(tmp_path: Path) -> None:
    env = {"EARMARK_DATA_DIR": str(tmp_path)}
    first = _invoke(["init"], env)
    assert first.exit_code == 0, first.output
    assert "created 34 tables" in first.stdout
    assert (tmp_path / "musicbrainz.db").exists()
    again = _invoke(["init"], env)
    assert "all tables already present" in again.stdout
    loaded = _invoke(["load-sample", "--synthetic", "20", "--seed", "3"], env)
    assert loaded.exit_code == 0, loaded.output
    assert "loaded mbdata's sample" in loaded.stdout
    assert "added 20 synthetic recordings, seed 3" in loaded.stdout
    repeated = _invoke(["load-sample", "--synthetic", "20"], env)
    assert repeated.exit_code == 0, repeated.output
    assert "sample is already loaded" in repeated.stdout
    assert "synthetic data is already loaded" in repeated.stdout
    database = _sqlite(tmp_path)
    try:
        assert row_counts(database)["recording"] == 41 + 20
        assert planner_rows(database, "recording") == 41 + 20  # analyzed after loading
    finally:
        database.dispose()


def test_load_sample_rejects_a_tiny_synthetic_set(tmp_path: Path) -> None:
    result = _invoke(["load-sample", "--synthetic", "5"], {"EARMARK_DATA_DIR": str(tmp_path)})
    assert result.exit_code == 2
    assert "at least 20" in result.output


def test_import_then_refuse_a_second_import(sqlite_mirror: Mirror, tmp_path: Path) -> None:
    archive = write_archive(tmp_path / "mbdump.tar.bz2", dump_members(sqlite_mirror.database))
    env = {"EARMARK_DATA_DIR": str(tmp_path / "data")}
    result = _invoke(["import", str(archive)], env)
    assert result.exit_code == 0, result.output
    total = sum(row_counts(sqlite_mirror.database).values())
    assert f"imported {total} rows in 34 tables" in result.stdout
    assert "reading mbdump.tar.bz2" in result.stderr
    again = _invoke(["import", str(archive)], env)
    assert again.exit_code == 3
    assert again.stderr.startswith("earmark: error: the MusicBrainz tables already hold rows")
    assert len(again.stderr.strip().splitlines()) == 1


def test_import_of_a_broken_archive_is_one_line(tmp_path: Path) -> None:
    archive = tmp_path / "mbdump.tar.bz2"
    archive.write_bytes(b"BZh9 definitely not bzip2")
    result = _invoke(["import", str(archive)], {"EARMARK_DATA_DIR": str(tmp_path)})
    assert result.exit_code == 3
    assert "Traceback" not in result.output
    # The progress bar's label came first; the error is one line after it.
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("earmark: error: ")
    assert "not a bzip2-compressed tar archive" in last


def test_postgresql_uses_the_schema_setting(pg_databases: PostgresDatabases) -> None:
    url = pg_databases.create(migrated=False)
    env = {"EARMARK_MUSICBRAINZ_DATABASE_URL": url, "EARMARK_MUSICBRAINZ_SCHEMA": "mb_cli"}
    result = _invoke(["init"], env)
    assert result.exit_code == 0, result.output
    assert "(schema mb_cli): created 34 tables" in result.stdout
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            assert len(sa.inspect(conn).get_table_names(schema="mb_cli")) == 34
    finally:
        engine.dispose()


def test_unreachable_database_is_one_line(tmp_path: Path) -> None:
    env = {"EARMARK_MUSICBRAINZ_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"}
    result = _invoke(["init"], env)
    assert result.exit_code == 3
    assert result.stderr.startswith("earmark: error: cannot reach the MusicBrainz database")


def test_group_help_lists_the_commands() -> None:
    result = CliRunner().invoke(mb, ["--help"])
    assert result.exit_code == 0
    assert isinstance(mb, click.Group)
    assert set(mb.commands) == {"init", "load-sample", "import", "replicate"}


@pytest.mark.parametrize(
    "role", ["DATABASE_URL", "FINGERPRINT_DATABASE_URL", "INGEST_DATABASE_URL"]
)
def test_the_app_sqlite_file_is_refused_for_the_mirror(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, role: str
) -> None:
    # Both schemas have a `track` table: the mirror in Earmark's own SQLite file used to fail
    # with "no such column: medium". Another spelling of the same file is the same file.
    monkeypatch.chdir(tmp_path)
    (tmp_path / "sub").mkdir()
    env = {
        f"EARMARK_{role}": f"sqlite:///{tmp_path}/earmark.db",
        "EARMARK_MUSICBRAINZ_DATABASE_URL": "sqlite:///sub/../earmark.db",
    }
    result = _invoke(["init"], env)
    assert result.exit_code == 2, result.output
    (line,) = result.stderr.splitlines()
    assert line.startswith(
        f"earmark: error: musicbrainz_database_url names {tmp_path / 'earmark.db'}, the SQLite "
        "file of Earmark's "
    )
    assert f"sqlite:///{tmp_path / 'musicbrainz.db'}" in line
    assert not (tmp_path / "earmark.db").exists(), "refused before anything was created"


def test_a_file_of_its_own_next_to_the_app_database_works(tmp_path: Path) -> None:
    env = {
        "EARMARK_DATABASE_URL": f"sqlite:///{tmp_path}/earmark.db",
        "EARMARK_MUSICBRAINZ_DATABASE_URL": f"sqlite:///{tmp_path}/musicbrainz.db",
    }
    result = _invoke(["init"], env)
    assert result.exit_code == 0, result.output
    assert "created 34 tables" in result.stdout


@pytest.mark.parametrize(
    "url", ["sqlite://", "sqlite:///:memory:", "sqlite:///file::memory:?uri=true"]
)
def test_in_memory_sqlite_is_never_the_same_file(url: str) -> None:
    assert sqlite_file(url) is None
