"""The website's sign-in with OAuth providers: pending states and OpenID Connect identities

Revision ID: 0005_oauth_signin
Revises: 0004
Create Date: 2026-12-15
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from earmark.db.migrate import run_roles

# A descriptive id rather than "0005": other branches of the same wave add migrations too, and
# a clash of ids would hide one of them, where two heads are an error that asks to re-chain.
revision = "0005_oauth_signin"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_roles(_UPGRADES)


def downgrade() -> None:
    run_roles(_DOWNGRADES, reverse=True)


def _upgrade_app() -> None:
    op.create_table(
        "account_oidc",
        sa.Column("issuer", sa.String(length=255), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column(
            "created", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["account_id"], ["account.id"], name=op.f("account_oidc_fk_account_id")
        ),
        sa.PrimaryKeyConstraint("issuer", "subject", name=op.f("account_oidc_pkey")),
    )
    op.create_index(
        op.f("account_oidc_idx_account_id"), "account_oidc", ["account_id"], unique=False
    )
    op.create_table(
        "oauth_state",
        sa.Column("state_hash", sa.String(length=64), nullable=False),
        sa.Column("session_hash", sa.String(length=64), nullable=False),
        sa.Column("provider", sa.String(length=32), nullable=False),
        sa.Column("return_url", sa.String(length=2000), nullable=False),
        sa.Column("expires", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("state_hash", name=op.f("oauth_state_pkey")),
    )
    op.create_index(op.f("oauth_state_idx_expires"), "oauth_state", ["expires"], unique=False)


def _downgrade_app() -> None:
    op.drop_index(op.f("oauth_state_idx_expires"), table_name="oauth_state")
    op.drop_table("oauth_state")
    op.drop_index(op.f("account_oidc_idx_account_id"), table_name="account_oidc")
    op.drop_table("account_oidc")


def _nothing() -> None:
    return None


_UPGRADES = {"app": _upgrade_app, "fingerprint": _nothing, "ingest": _nothing}
_DOWNGRADES = {"app": _downgrade_app, "fingerprint": _nothing, "ingest": _nothing}
