"""Accounts can be deactivated (``earmark accounts deactivate``): their user key is refused

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from earmark.db.migrate import run_roles

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_roles(_UPGRADES)


def downgrade() -> None:
    run_roles(_DOWNGRADES, reverse=True)


def _upgrade_app() -> None:
    op.add_column(
        "account",
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
    )


def _downgrade_app() -> None:
    # SQLite cannot drop a column in place: batch mode copies the table.
    with op.batch_alter_table("account") as batch:
        batch.drop_column("active")


def _nothing() -> None:
    return None


_UPGRADES = {"app": _upgrade_app, "fingerprint": _nothing, "ingest": _nothing}
_DOWNGRADES = {"app": _downgrade_app, "fingerprint": _nothing, "ingest": _nothing}
