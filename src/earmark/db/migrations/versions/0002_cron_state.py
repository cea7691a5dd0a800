"""Cron state: drained counter batches, job cursors, unknown MBIDs, the MBID ingest outbox

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from earmark.db.migrate import run_roles

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_roles(_UPGRADES)


def downgrade() -> None:
    run_roles(_DOWNGRADES, reverse=True)


def _upgrade_app() -> None:
    op.create_table(
        "stats_drain",
        sa.Column("batch_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column(
            "created", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("batch_id", name=op.f("stats_drain_pkey")),
    )
    op.create_index(op.f("stats_drain_idx_created"), "stats_drain", ["created"], unique=False)
    op.create_table(
        "cron_state",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column(
            "updated", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("name", name=op.f("cron_state_pkey")),
    )


def _upgrade_fingerprint() -> None:
    op.create_table(
        "mbid_unknown",
        sa.Column("mbid", sa.Uuid(), nullable=False),
        sa.Column("first_unknown", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "created", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("mbid", name=op.f("mbid_unknown_pkey")),
    )
    op.create_index(
        op.f("mbid_unknown_idx_first_unknown"), "mbid_unknown", ["first_unknown"], unique=False
    )
    op.create_table(
        "track_mbid_outbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("track_mbid_id", sa.Integer(), nullable=False),
        sa.Column("target_id", sa.Integer(), nullable=True),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column(
            "created", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.CheckConstraint(
            "kind IN ('repoint', 'disable')", name=op.f("track_mbid_outbox_chk_kind")
        ),
        sa.ForeignKeyConstraint(
            ["target_id"], ["track_mbid.id"], name=op.f("track_mbid_outbox_fk_target_id")
        ),
        sa.ForeignKeyConstraint(
            ["track_mbid_id"], ["track_mbid.id"], name=op.f("track_mbid_outbox_fk_track_mbid_id")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("track_mbid_outbox_pkey")),
    )


def _upgrade_ingest() -> None:
    """The ingest role gains no table in this revision."""


def _downgrade_app() -> None:
    op.drop_table("cron_state")
    op.drop_index(op.f("stats_drain_idx_created"), table_name="stats_drain")
    op.drop_table("stats_drain")


def _downgrade_fingerprint() -> None:
    op.drop_table("track_mbid_outbox")
    op.drop_index(op.f("mbid_unknown_idx_first_unknown"), table_name="mbid_unknown")
    op.drop_table("mbid_unknown")


def _downgrade_ingest() -> None:
    """Nothing to drop: see _upgrade_ingest."""


_UPGRADES = {"app": _upgrade_app, "fingerprint": _upgrade_fingerprint, "ingest": _upgrade_ingest}
_DOWNGRADES = {
    "app": _downgrade_app,
    "fingerprint": _downgrade_fingerprint,
    "ingest": _downgrade_ingest,
}
