"""The one Alembic history, up and down, on SQLite and PostgreSQL, joined and split roles."""

from __future__ import annotations

import sqlalchemy as sa
from click.testing import CliRunner

from earmark.cli.main import cli
from earmark.db import migrate, tables
from earmark.db.engine import Databases
from tests.db import queries
from tests.services import PostgresDatabases, SqliteDatabases


def _tables(engine: sa.Engine) -> set[str]:
    with engine.connect() as conn:
        return set(sa.inspect(conn).get_table_names()) - {"alembic_version"}


def _check_up_and_down(dbs: Databases) -> None:
    assert [found.revision for found in migrate.current(dbs)] == [None] * len(dbs.physical())
    migrate.upgrade(dbs)
    assert migrate.is_current(dbs)
    for engine, roles in dbs.physical():
        expected = {t.name for role in roles for t in queries.tables_of(role)}
        assert _tables(engine) == expected
    migrate.downgrade(dbs, "base")
    for engine, _roles in dbs.physical():
        assert _tables(engine) == set()
    migrate.upgrade(dbs)  # and up again: downgrade left nothing behind
    assert migrate.is_current(dbs)


def _schema_matches_models(engine: sa.Engine) -> None:
    """The migration creates the columns and unique keys tables.py declares."""
    with engine.connect() as conn:
        inspector = sa.inspect(conn)
        for table in tables.metadata.sorted_tables:
            columns = {c["name"] for c in inspector.get_columns(table.name)}
            assert columns == {c.name for c in table.columns}, table.name
            uniques = {
                tuple(u["column_names"]) for u in inspector.get_unique_constraints(table.name)
            }
            declared = {
                tuple(c.name for c in u.columns)
                for u in table.constraints
                if isinstance(u, sa.UniqueConstraint)
            }
            declared |= {(c.name,) for c in table.columns if c.unique}
            assert declared <= uniques, table.name


def test_one_sqlite_database(sqlite_databases: SqliteDatabases) -> None:
    dbs = Databases.single(sqlite_databases.create(migrated=False))
    try:
        _check_up_and_down(dbs)
        _schema_matches_models(dbs.app)
    finally:
        dbs.dispose()


def test_one_postgres_database(pg_databases: PostgresDatabases) -> None:
    dbs = Databases.single(pg_databases.create(migrated=False))
    try:
        _check_up_and_down(dbs)
        _schema_matches_models(dbs.app)
    finally:
        dbs.dispose()


def test_split_roles_on_postgres(pg_databases: PostgresDatabases) -> None:
    """Three databases, one per role: each gets only its role's tables and its own version."""
    urls = {role: pg_databases.create(migrated=False) for role in ("app", "fingerprint", "ingest")}
    dbs = Databases(urls)  # type: ignore[arg-type]
    try:
        assert not dbs.one_database
        _check_up_and_down(dbs)
    finally:
        dbs.dispose()


def test_split_roles_on_sqlite(sqlite_databases: SqliteDatabases) -> None:
    main, ingest = sqlite_databases.create(migrated=False), sqlite_databases.create(migrated=False)
    dbs = Databases({"app": main, "fingerprint": main, "ingest": ingest})
    try:
        assert [roles for _e, roles in dbs.physical()] == [("app", "fingerprint"), ("ingest",)]
        _check_up_and_down(dbs)
    finally:
        dbs.dispose()


def test_cli_upgrade_current_downgrade(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("EARMARK_DATA_DIR", str(tmp_path))
    runner = CliRunner()
    result = runner.invoke(cli, ["db", "current"])
    assert result.exit_code == 0, result.output
    assert "base" in result.output
    assert f"newest: {migrate.head()}" in result.output
    result = runner.invoke(cli, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert f": {migrate.head()}" in result.output
    assert (tmp_path / "earmark.db").exists()
    result = runner.invoke(cli, ["db", "downgrade", "base"])
    assert result.exit_code == 0, result.output
    assert result.output.strip().endswith("base")


def test_cli_unreachable_database_is_one_line(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("EARMARK_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")
    result = CliRunner().invoke(cli, ["db", "current"])
    assert result.exit_code == 3
    assert "cannot reach the database" in result.output
    assert "Traceback" not in result.output


def test_cli_rejects_unsupported_database(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("EARMARK_DATABASE_URL", "mysql://root@localhost/x")
    result = CliRunner().invoke(cli, ["db", "current"])
    assert result.exit_code == 2
    assert "unsupported database" in result.output
