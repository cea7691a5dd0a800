"""Open data imports: the upstream id map, per-stream progress, rows waiting for a dependency

Revision ID: 0006_open_data
Revises: 0005_oauth_signin
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from earmark.db.migrate import run_roles

revision = "0006_open_data"
down_revision = "0005_oauth_signin"
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_roles(_UPGRADES)


def downgrade() -> None:
    run_roles(_DOWNGRADES, reverse=True)


def _upgrade_fingerprint() -> None:
    op.create_table(
        "opendata_idmap",
        sa.Column("provenance", sa.String(length=64), nullable=False),
        sa.Column("stream", sa.String(length=32), nullable=False),
        sa.Column("upstream_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("local_id", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(length=32), nullable=False),
        sa.Column("stamp", sa.String(length=40), server_default="", nullable=False),
        sa.PrimaryKeyConstraint(
            "provenance", "stream", "upstream_id", name=op.f("opendata_idmap_pkey")
        ),
    )
    op.create_index(
        op.f("opendata_idmap_idx_stream_local_id"),
        "opendata_idmap",
        ["stream", "local_id"],
        unique=False,
    )
    op.create_table(
        "opendata_progress",
        sa.Column("provenance", sa.String(length=64), nullable=False),
        sa.Column("stream", sa.String(length=32), nullable=False),
        sa.Column("last_day", sa.Date(), nullable=False),
        sa.Column(
            "updated", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("provenance", "stream", name=op.f("opendata_progress_pkey")),
    )
    op.create_table(
        "opendata_parked",
        sa.Column("provenance", sa.String(length=64), nullable=False),
        sa.Column("stream", sa.String(length=32), nullable=False),
        sa.Column("upstream_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("waits_for", sa.String(length=48), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint(
            "provenance", "stream", "upstream_id", name=op.f("opendata_parked_pkey")
        ),
    )
    op.create_index(
        op.f("opendata_parked_idx_provenance_waits_for"),
        "opendata_parked",
        ["provenance", "waits_for"],
        unique=False,
    )


def _downgrade_fingerprint() -> None:
    op.drop_index(op.f("opendata_parked_idx_provenance_waits_for"), table_name="opendata_parked")
    op.drop_table("opendata_parked")
    op.drop_table("opendata_progress")
    op.drop_index(op.f("opendata_idmap_idx_stream_local_id"), table_name="opendata_idmap")
    op.drop_table("opendata_idmap")


def _nothing() -> None:
    return None


_UPGRADES = {"app": _nothing, "fingerprint": _upgrade_fingerprint, "ingest": _nothing}
_DOWNGRADES = {"app": _nothing, "fingerprint": _downgrade_fingerprint, "ingest": _nothing}
