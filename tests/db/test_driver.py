"""Statements on psycopg directly (earmark.db.driver): the rows SQLAlchemy would give, in the
caller's transaction, and driver errors handled as SQLAlchemy handles them."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import sqlalchemy as sa

from earmark.db import driver, fingerprints, tables
from earmark.db.engine import Databases, create_engine, read_connection, write_transaction
from tests.services import PostgresDatabases

ON_POSTGRESQL = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)

TRACKS = sa.select(tables.track.c.id, tables.track.c.gid).where(
    tables.track.c.id == sa.any_(sa.bindparam("ids", type_=sa.ARRAY(sa.Integer)))
)


def _tracks(dbs: Databases, count: int) -> dict[int, uuid.UUID]:
    with write_transaction(dbs.fingerprint) as conn:
        rows = conn.execute(
            sa.insert(tables.track).returning(tables.track.c.id, tables.track.c.gid),
            [{"gid": uuid.uuid4()} for _ in range(count)],
        ).all()
    return {row.id: row.gid for row in rows}


@ON_POSTGRESQL
def test_rows_are_those_sqlalchemy_returns(dbs: Databases) -> None:
    stored = _tracks(dbs, 5)
    ids = [*sorted(stored)[:3], 10**9]  # one unknown id
    with read_connection(dbs.fingerprint) as conn:
        through_driver = driver.fetch_all(conn, TRACKS, {"ids": ids})
        through_sqlalchemy = conn.execute(TRACKS, {"ids": ids}).all()
    assert sorted(through_driver) == sorted(tuple(row) for row in through_sqlalchemy)
    assert {row[0]: row[1] for row in through_driver} == {i: stored[i] for i in ids[:3]}


@ON_POSTGRESQL
def test_the_statement_sees_the_caller_s_transaction(dbs: Databases) -> None:
    with dbs.fingerprint.begin() as conn:
        (new,) = conn.execute(
            sa.insert(tables.track).values(gid=uuid.uuid4()).returning(tables.track.c.id)
        ).one()
        assert [row[0] for row in driver.fetch_all(conn, TRACKS, {"ids": [new]})] == [new]
        conn.rollback()
    with read_connection(dbs.fingerprint) as conn:
        assert driver.fetch_all(conn, TRACKS, {"ids": [new]}) == []


@ON_POSTGRESQL
def test_a_connection_reuses_its_cursor_until_it_reconnects(dbs: Databases) -> None:
    """One cursor per driver connection, kept across checkouts; a pooled connection that
    reconnected (its pool record is the same, its driver connection new) gets a new one."""
    stored = _tracks(dbs, 2)
    ids = sorted(stored)
    engine = create_engine(dbs.urls["fingerprint"], pool_size=1, max_overflow=0)
    try:
        with read_connection(engine) as conn:
            assert [row[0] for row in driver.fetch_all(conn, TRACKS, {"ids": ids})] == ids
            first = conn.connection.info[driver.CURSORS]
        with read_connection(engine) as conn:
            assert [row[0] for row in driver.fetch_all(conn, TRACKS, {"ids": ids[:1]})] == ids[:1]
            assert conn.connection.info[driver.CURSORS] is first
            conn.invalidate()  # the record reconnects at its next checkout
        with read_connection(engine) as conn:
            named = driver.fetch_all(conn, TRACKS, {"ids": ids}, named=True)
            kept = conn.connection.info[driver.CURSORS]
    finally:
        engine.dispose()
    assert [(row.id, row.gid) for row in named] == [(i, stored[i]) for i in ids]
    assert kept is not first
    assert kept[0] is not first[0]
    assert first[0].closed


@ON_POSTGRESQL
def test_a_driver_error_is_sqlalchemy_s_and_its_handle_error_event_fires(dbs: Databases) -> None:
    handled: list[Any] = []

    def seen(context: Any) -> None:
        handled.append(context)

    sa.event.listen(dbs.fingerprint, "handle_error", seen)
    try:
        with read_connection(dbs.fingerprint) as conn:
            conn.exec_driver_sql("SET statement_timeout = 50")
            slow = sa.select(sa.func.pg_sleep(1).label("slept"))
            with pytest.raises(sa.exc.OperationalError, match="statement timeout"):
                driver.fetch_all(conn, slow, {})
            with pytest.raises(sa.exc.DBAPIError):
                driver.fetch_all(conn, TRACKS, {"ids": "not an array"})
    finally:
        sa.event.remove(dbs.fingerprint, "handle_error", seen)
    assert [context.is_disconnect for context in handled] == [False, False]


@ON_POSTGRESQL
def test_a_broken_connection_invalidates_the_pool(
    dbs: Databases, pg_databases: PostgresDatabases
) -> None:
    stored = _tracks(dbs, 1)
    engine = dbs.fingerprint
    # Two pooled connections, both broken by ending every backend (as a restart would).
    with read_connection(engine) as first, read_connection(engine) as second:
        assert driver.fetch_all(first, TRACKS, {"ids": list(stored)})
        assert driver.fetch_all(second, TRACKS, {"ids": list(stored)})
    with pg_databases.admin.connect() as admin:
        admin.execute(
            sa.text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = :db AND pid <> pg_backend_pid()"
            ),
            {"db": engine.url.database},
        )
    with read_connection(engine) as conn, pytest.raises(sa.exc.DBAPIError) as raised:
        driver.fetch_all(conn, TRACKS, {"ids": list(stored)})
    assert raised.value.connection_invalidated
    # Every connection the pool held is replaced: the next two reads both work.
    with read_connection(engine) as first, read_connection(engine) as second:
        for conn in (first, second):
            assert [row[0] for row in driver.fetch_all(conn, TRACKS, {"ids": list(stored)})] == [
                *stored
            ]


_ITEMS = sa.Table(
    "item",
    sa.MetaData(),
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("gid", sa.Uuid, index=True),
    sa.Column("code", sa.String),
    sa.Column("flag", sa.Boolean),
)


#: One branch per kind of list: integers (rendered inline by SQLAlchemy), UUIDs, strings.
_BASE = sa.select(_ITEMS.c.id, _ITEMS.c.gid.label("gid"), _ITEMS.c.code, _ITEMS.c.flag)
ITEMS = sa.union(
    _BASE.where(_ITEMS.c.id.in_(sa.bindparam("ids", expanding=True, literal_execute=True))),
    _BASE.where(_ITEMS.c.gid.in_(sa.bindparam("gids", expanding=True))),
    _BASE.where(_ITEMS.c.code.in_(sa.bindparam("codes", expanding=True))),
).order_by("id")


@pytest.fixture
def sqlite_items(tmp_path: Any) -> Any:
    engine = create_engine(f"sqlite:///{tmp_path / 'x.db'}")
    _ITEMS.create(engine)
    with engine.begin() as conn:
        conn.execute(
            sa.insert(_ITEMS),
            [
                {"id": 1, "gid": uuid.UUID(int=1), "code": "a'b", "flag": True},
                {"id": 2, "gid": uuid.UUID(int=2), "code": '"]);--', "flag": False},
                {"id": 3, "gid": uuid.UUID(int=3), "code": "é ✓", "flag": None},
            ],
        )
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    "statement",
    [ITEMS, ITEMS.execution_options(**{driver.INLINE_LISTS: True})],
    ids=["json lists", "inline integers"],
)
@pytest.mark.parametrize(
    "parameters",
    [
        {"ids": [1], "gids": [], "codes": []},
        {"ids": [], "gids": [uuid.UUID(int=2), uuid.UUID(int=9)], "codes": []},
        {"ids": [], "gids": [], "codes": ["a'b", '"]);--', "é ✓", "nothing"]},
        {"ids": [3, 10**12], "gids": [uuid.UUID(int=1)], "codes": ["a'b"]},
        {"ids": [], "gids": [], "codes": []},
    ],
)
def test_sqlite_rows_are_those_sqlalchemy_returns(
    sqlite_items: sa.Engine, statement: sa.CompoundSelect[Any], parameters: dict[str, Any]
) -> None:
    with sqlite_items.connect() as conn:
        assert driver.usable(conn, sqlite=True)
        assert not driver.usable(conn)
        through_driver = driver.fetch_all(conn, statement, parameters)
        through_sqlalchemy = conn.execute(statement, parameters).all()
    assert through_driver == [tuple(row) for row in through_sqlalchemy]
    for mine, theirs in zip(through_driver, through_sqlalchemy, strict=True):
        assert mine._asdict() == theirs._asdict()  # type: ignore[attr-defined]
        assert all(type(a) is type(b) for a, b in zip(mine, theirs, strict=True))


def test_sqlite_statement_text_does_not_depend_on_the_lists(sqlite_items: sa.Engine) -> None:
    seen: list[str] = []
    with sqlite_items.connect() as conn:
        conn.connection.driver_connection.set_trace_callback(seen.append)  # type: ignore[union-attr]
        for size in (1, 5, 300):
            driver.fetch_all(conn, ITEMS, {"ids": list(range(size)), "gids": [], "codes": []})
    selects = [s for s in seen if s.startswith("SELECT")]
    assert len(selects) == 3
    assert len({s.split("json_each(")[0] for s in selects}) == 1


def test_sqlite_inline_lists_keep_an_or_on_the_indexes(sqlite_items: sa.Engine) -> None:
    """An empty inline list OR-ed with another: SQLite scans the table for ``IN ()``."""
    either = (
        sa.select(_ITEMS.c.id)
        .where(
            sa.or_(
                _ITEMS.c.id.in_(sa.bindparam("ids", expanding=True, literal_execute=True)),
                _ITEMS.c.id.in_(sa.bindparam("more", expanding=True, literal_execute=True)),
            )
        )
        .execution_options(**{driver.INLINE_LISTS: True})
    )
    plans: list[str] = []
    with sqlite_items.connect() as conn:
        raw = conn.connection.driver_connection
        raw.set_trace_callback(plans.append)  # type: ignore[union-attr]
        assert driver.fetch_all(conn, either, {"ids": [2], "more": []}) == [(2,)]
        (sql,) = plans
        plan = raw.execute(f"EXPLAIN QUERY PLAN {sql}").fetchall()  # type: ignore[union-attr]
    assert not [row for row in plan if str(row[3]).startswith("SCAN")], plan


def test_sqlite_errors_are_sqlalchemy_errors(sqlite_items: sa.Engine) -> None:
    missing = sa.select(sa.table("absent", sa.column("x")).c.x)
    with sqlite_items.connect() as conn, pytest.raises(sa.exc.OperationalError, match="absent"):
        driver.fetch_all(conn, missing, {})


@pytest.fixture
def many(dbs: Databases) -> list[int]:
    return sorted(_tracks(dbs, 3))


@ON_POSTGRESQL
def test_get_many_on_postgresql_runs_on_the_driver(dbs: Databases, many: list[int]) -> None:
    with write_transaction(dbs.fingerprint) as conn:
        ids = [
            fingerprints.insert(
                conn, items=[1, -2, 2**31 - 1], length=60, bitrate=None, format_id=None, track_id=t
            )
            for t in many
        ]
    seen: list[str] = []
    fetch_all = driver.fetch_all

    def spy(conn: sa.Connection, statement: Any, parameters: Any, **options: Any) -> Any:
        seen.append(str(statement))
        return fetch_all(conn, statement, parameters, **options)

    driver.fetch_all = spy  # type: ignore[assignment]
    try:
        with read_connection(dbs.fingerprint) as conn:
            found = fingerprints.get_many(conn, ids, duration=60, with_links=True)
    finally:
        driver.fetch_all = fetch_all  # type: ignore[assignment]
    assert len(seen) == 1
    assert [(f.id, f.track_id, f.items.tolist(), f.links) for f in found] == [
        (i, t, [1, -2, 2**31 - 1], []) for i, t in zip(ids, many, strict=True)
    ]


@ON_POSTGRESQL
def test_named_rows_and_a_schema_map(dbs: Databases) -> None:
    stored = _tracks(dbs, 2)
    ids = sorted(stored)
    # The statement names schema "elsewhere"; the map sends it to the real one (public), as a
    # connection's schema_translate_map would.
    elsewhere = sa.Table(
        "track", sa.MetaData(schema="elsewhere"), sa.Column("id", sa.Integer), sa.Column("gid")
    )
    statement = sa.select(elsewhere.c.id.label("track_id"), elsewhere.c.gid).where(
        elsewhere.c.id == sa.any_(sa.bindparam("ids", type_=sa.ARRAY(sa.Integer)))
    )
    with read_connection(dbs.fingerprint) as conn:
        assert driver.usable(conn)
        rows = driver.fetch_all(
            conn, statement, {"ids": ids}, schema_map={"elsewhere": "public"}, named=True
        )
        with pytest.raises(sa.exc.ProgrammingError, match="elsewhere"):
            driver.fetch_all(conn, statement, {"ids": ids})
    assert sorted((row.track_id, row.gid) for row in rows) == sorted(stored.items())
    assert sorted(tuple(row) for row in rows) == sorted(stored.items())


def test_usable_only_on_psycopg(tmp_path: Any) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'x.db'}")
    try:
        with engine.connect() as conn:
            assert not driver.usable(conn)
    finally:
        engine.dispose()
