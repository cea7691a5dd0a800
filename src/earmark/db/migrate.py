"""Schema migrations: one Alembic history for SQLite and PostgreSQL, per physical database.

When the app, fingerprint and ingest roles share a database (the default) one run creates
everything. When they are split, each database is migrated on its own with the roles it serves,
and each keeps its own ``alembic_version``; revisions ask :func:`has_role` before touching a
role's tables.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from alembic import command, context
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from earmark.db.engine import ROLES, Databases, Role, is_sqlite, write_transaction

MIGRATIONS = Path(__file__).parent / "migrations"
# Any constant will do; it keeps two `earmark db upgrade` runs on PostgreSQL from racing.
_PG_LOCK_KEY = 0x6561726D61726B  # "earmark"


@dataclass(frozen=True)
class DatabaseRevision:
    url: str
    roles: tuple[Role, ...]
    revision: str | None


def has_role(role: Role) -> bool:
    """Inside a revision: does the database being migrated hold ``role``'s tables?"""
    roles = context.config.attributes.get("roles", ROLES)
    return role in roles


def run_roles(steps: Mapping[str, Callable[[], None]], *, reverse: bool = False) -> None:
    """Inside a revision: run each role's step for the roles of this database.

    Upgrades go app, fingerprint, ingest; downgrades (``reverse``) the other way round.
    """
    for role in reversed(ROLES) if reverse else ROLES:
        if has_role(role):
            steps[role]()


def _config(connection: Connection | None = None, roles: tuple[Role, ...] = ROLES) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    config.attributes["roles"] = roles
    return config


def head() -> str:
    head = ScriptDirectory.from_config(_config()).get_current_head()
    assert head is not None
    return head


def _run(dbs: Databases, action: str, revision: str) -> None:
    for engine, roles in dbs.physical():
        with write_transaction(engine) as conn:
            if not is_sqlite(conn):
                conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_PG_LOCK_KEY)))
            config = _config(conn, roles)
            if action == "upgrade":
                command.upgrade(config, revision)
            else:
                command.downgrade(config, revision)


def upgrade(dbs: Databases, revision: str = "head") -> None:
    """Bring every database up to ``revision`` (the newest by default)."""
    _run(dbs, "upgrade", revision)


def downgrade(dbs: Databases, revision: str) -> None:
    """Take every database down to ``revision`` (``base``: no tables at all)."""
    _run(dbs, "downgrade", revision)


def current(dbs: Databases) -> list[DatabaseRevision]:
    """The revision each database is at (None: not initialised)."""
    found = []
    for engine, roles in dbs.physical():
        with engine.connect() as conn:
            revision = MigrationContext.configure(conn).get_current_revision()
        found.append(
            DatabaseRevision(engine.url.render_as_string(hide_password=True), roles, revision)
        )
    return found


def is_current(dbs: Databases) -> bool:
    """True when every database is at the newest revision."""
    newest = head()
    return all(found.revision == newest for found in current(dbs))
