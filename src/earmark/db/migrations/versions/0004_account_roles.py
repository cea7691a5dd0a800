"""The website's accounts: moderator flag and local passwords (account_password)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-14
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from earmark.db.migrate import run_roles

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_roles(_UPGRADES)


def downgrade() -> None:
    run_roles(_DOWNGRADES, reverse=True)


def _upgrade_app() -> None:
    # account.is_admin exists since 0001; moderators were only MusicBrainz users until now.
    op.add_column(
        "account",
        sa.Column("is_moderator", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.create_table(
        "account_password",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("login", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.String(), nullable=False),
        sa.Column("email", sa.String(), nullable=True),
        sa.Column(
            "created", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("updated", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["account.id"], name=op.f("account_password_fk_account_id")
        ),
        sa.PrimaryKeyConstraint("account_id", name=op.f("account_password_pkey")),
        sa.UniqueConstraint("login", name=op.f("account_password_uniq_login")),
    )


def _downgrade_app() -> None:
    op.drop_table("account_password")
    # SQLite cannot drop a column in place: batch mode copies the table.
    with op.batch_alter_table("account") as batch:
        batch.drop_column("is_moderator")


def _nothing() -> None:
    return None


_UPGRADES = {"app": _upgrade_app, "fingerprint": _nothing, "ingest": _nothing}
_DOWNGRADES = {"app": _downgrade_app, "fingerprint": _nothing, "ingest": _nothing}
