"""Alembic environment: run by :mod:`earmark.db.migrate` on one physical database at a time.

The caller passes the open connection and the logical roles that database serves in
``config.attributes``; revisions create only the tables of those roles (see ``has_role``).
"""

from __future__ import annotations

from alembic import context

from earmark.db.tables import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    transaction_per_migration=False,
)
with context.begin_transaction():
    context.run_migrations()
