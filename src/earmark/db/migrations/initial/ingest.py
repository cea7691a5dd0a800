"""Migration 0001 for the ingest database (submissions, results, provenance)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import earmark.db.types


def upgrade() -> None:
    op.create_table(
        "fingerprint_source",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("fingerprint_id", sa.Integer(), nullable=False),
        sa.Column(
            "submission_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column(
            "created", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("fingerprint_source_pkey")),
    )
    op.create_index(
        op.f("fingerprint_source_idx_fingerprint_id"),
        "fingerprint_source",
        ["fingerprint_id"],
        unique=False,
    )
    op.create_index(
        op.f("fingerprint_source_idx_submission_id"),
        "fingerprint_source",
        ["submission_id"],
        unique=False,
    )
    op.create_table(
        "submission",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "created", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("handled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("handled", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("application_id", sa.Integer(), nullable=False),
        sa.Column("application_version", sa.String(), nullable=True),
        sa.Column("fingerprint", earmark.db.types.IntArray(), nullable=False),
        sa.Column("length", sa.SmallInteger(), nullable=False),
        sa.Column("bitrate", sa.SmallInteger(), nullable=True),
        sa.Column("format", sa.String(), nullable=True),
        sa.Column(
            "meta",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("meta_gid", sa.Uuid(), nullable=True),
        sa.Column("mbid", sa.Uuid(), nullable=True),
        sa.Column("puid", sa.Uuid(), nullable=True),
        sa.Column("foreignid", sa.String(), nullable=True),
        sa.Column("status", sa.String(length=16), server_default="pending", nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.CheckConstraint(
            "status IN ('pending', 'imported', 'skipped', 'failed')",
            name=op.f("submission_chk_status"),
        ),
        sa.CheckConstraint("length > 0", name=op.f("submission_chk_length")),
        sa.PrimaryKeyConstraint("id", name=op.f("submission_pkey")),
    )
    op.create_index(
        "submission_idx_unhandled",
        "submission",
        ["id"],
        unique=False,
        postgresql_where=sa.text("NOT handled"),
        sqlite_where=sa.text("NOT handled"),
    )
    op.create_table(
        "track_foreignid_source",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("track_foreignid_id", sa.Integer(), nullable=False),
        sa.Column(
            "submission_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column(
            "created", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("track_foreignid_source_pkey")),
    )
    op.create_index(
        op.f("track_foreignid_source_idx_submission_id"),
        "track_foreignid_source",
        ["submission_id"],
        unique=False,
    )
    op.create_index(
        op.f("track_foreignid_source_idx_track_foreignid_id"),
        "track_foreignid_source",
        ["track_foreignid_id"],
        unique=False,
    )
    op.create_table(
        "track_mbid_change",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("track_mbid_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column(
            "created", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("updated", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("track_mbid_change_pkey")),
    )
    op.create_index(
        op.f("track_mbid_change_idx_track_mbid_id"),
        "track_mbid_change",
        ["track_mbid_id"],
        unique=False,
    )
    op.create_table(
        "track_mbid_source",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("track_mbid_id", sa.Integer(), nullable=False),
        sa.Column(
            "submission_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column(
            "created", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("updated", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("track_mbid_source_pkey")),
    )
    op.create_index(
        op.f("track_mbid_source_idx_submission_id"),
        "track_mbid_source",
        ["submission_id"],
        unique=False,
    )
    op.create_index(
        op.f("track_mbid_source_idx_track_mbid_id"),
        "track_mbid_source",
        ["track_mbid_id"],
        unique=False,
    )
    op.create_table(
        "track_meta_source",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("track_meta_id", sa.Integer(), nullable=False),
        sa.Column(
            "submission_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column(
            "created", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("track_meta_source_pkey")),
    )
    op.create_index(
        op.f("track_meta_source_idx_submission_id"),
        "track_meta_source",
        ["submission_id"],
        unique=False,
    )
    op.create_index(
        op.f("track_meta_source_idx_track_meta_id"),
        "track_meta_source",
        ["track_meta_id"],
        unique=False,
    )
    op.create_table(
        "track_puid_source",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("track_puid_id", sa.Integer(), nullable=False),
        sa.Column(
            "submission_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column(
            "created", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("track_puid_source_pkey")),
    )
    op.create_index(
        op.f("track_puid_source_idx_submission_id"),
        "track_puid_source",
        ["submission_id"],
        unique=False,
    )
    op.create_index(
        op.f("track_puid_source_idx_track_puid_id"),
        "track_puid_source",
        ["track_puid_id"],
        unique=False,
    )
    op.create_table(
        "pending_submission",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column(
            "created", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["id"], ["submission.id"], name=op.f("pending_submission_fk_id"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pending_submission_pkey")),
    )
    op.create_index(
        op.f("pending_submission_idx_created"), "pending_submission", ["created"], unique=False
    )
    op.create_table(
        "submission_result",
        sa.Column(
            "submission_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column(
            "created", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("handled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("application_id", sa.Integer(), nullable=False),
        sa.Column("application_version", sa.String(), nullable=True),
        sa.Column("fingerprint_id", sa.Integer(), nullable=False),
        sa.Column("track_id", sa.Integer(), nullable=False),
        sa.Column("meta_gid", sa.Uuid(), nullable=True),
        sa.Column("meta_id", sa.Integer(), nullable=True),
        sa.Column("mbid", sa.Uuid(), nullable=True),
        sa.Column("puid", sa.Uuid(), nullable=True),
        sa.Column("foreignid", sa.String(), nullable=True),
        sa.ForeignKeyConstraint(
            ["submission_id"], ["submission.id"], name=op.f("submission_result_fk_submission_id")
        ),
        sa.PrimaryKeyConstraint("submission_id", name=op.f("submission_result_pkey")),
    )


def downgrade() -> None:
    op.drop_table("submission_result")
    op.drop_index(op.f("pending_submission_idx_created"), table_name="pending_submission")
    op.drop_table("pending_submission")
    op.drop_index(op.f("track_puid_source_idx_track_puid_id"), table_name="track_puid_source")
    op.drop_index(op.f("track_puid_source_idx_submission_id"), table_name="track_puid_source")
    op.drop_table("track_puid_source")
    op.drop_index(op.f("track_meta_source_idx_track_meta_id"), table_name="track_meta_source")
    op.drop_index(op.f("track_meta_source_idx_submission_id"), table_name="track_meta_source")
    op.drop_table("track_meta_source")
    op.drop_index(op.f("track_mbid_source_idx_track_mbid_id"), table_name="track_mbid_source")
    op.drop_index(op.f("track_mbid_source_idx_submission_id"), table_name="track_mbid_source")
    op.drop_table("track_mbid_source")
    op.drop_index(op.f("track_mbid_change_idx_track_mbid_id"), table_name="track_mbid_change")
    op.drop_table("track_mbid_change")
    op.drop_index(
        op.f("track_foreignid_source_idx_track_foreignid_id"), table_name="track_foreignid_source"
    )
    op.drop_index(
        op.f("track_foreignid_source_idx_submission_id"), table_name="track_foreignid_source"
    )
    op.drop_table("track_foreignid_source")
    op.drop_index(
        "submission_idx_unhandled",
        table_name="submission",
        postgresql_where=sa.text("NOT handled"),
        sqlite_where=sa.text("NOT handled"),
    )
    op.drop_table("submission")
    op.drop_index(op.f("fingerprint_source_idx_submission_id"), table_name="fingerprint_source")
    op.drop_index(op.f("fingerprint_source_idx_fingerprint_id"), table_name="fingerprint_source")
    op.drop_table("fingerprint_source")
