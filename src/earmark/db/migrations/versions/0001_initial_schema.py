"""Initial schema: the app, fingerprint and ingest tables (reference §11, drift fixed)

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-21
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import earmark.db.types
from earmark.db.migrate import run_roles

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_roles(_UPGRADES)


def downgrade() -> None:
    run_roles(_DOWNGRADES, reverse=True)


def _upgrade_app() -> None:
    op.create_table(
        "account",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("apikey", sa.String(), nullable=False),
        sa.Column("mbuser", sa.String(), nullable=True),
        sa.Column("anonymous", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column(
            "created", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("lastlogin", sa.DateTime(timezone=True), nullable=True),
        sa.Column("submission_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("application_id", sa.Integer(), nullable=True),
        sa.Column("application_version", sa.String(), nullable=True),
        sa.Column("created_from", sa.String(length=64), nullable=True),
        sa.Column("is_admin", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("account_pkey")),
        sa.UniqueConstraint("apikey", name=op.f("account_uniq_apikey")),
        sa.UniqueConstraint("mbuser", name=op.f("account_uniq_mbuser")),
    )
    op.create_table(
        "format",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("format_pkey")),
        sa.UniqueConstraint("name", name=op.f("format_uniq_name")),
    )
    op.create_table(
        "stats",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("date", sa.Date(), server_default=sa.text("CURRENT_DATE"), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("stats_pkey")),
        sa.UniqueConstraint("name", "date", name=op.f("stats_uniq_name_date")),
    )
    op.create_index(op.f("stats_idx_date"), "stats", ["date"], unique=False)
    op.create_table(
        "account_google",
        sa.Column("google_user_id", sa.String(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["account.id"], name=op.f("account_google_fk_account_id")
        ),
        sa.PrimaryKeyConstraint("google_user_id", name=op.f("account_google_pkey")),
    )
    op.create_index(
        op.f("account_google_idx_account_id"), "account_google", ["account_id"], unique=False
    )
    op.create_table(
        "account_openid",
        sa.Column("openid", sa.String(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"], ["account.id"], name=op.f("account_openid_fk_account_id")
        ),
        sa.PrimaryKeyConstraint("openid", name=op.f("account_openid_pkey")),
    )
    op.create_index(
        op.f("account_openid_idx_account_id"), "account_openid", ["account_id"], unique=False
    )
    op.create_table(
        "application",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("version", sa.String(), nullable=False),
        sa.Column("apikey", sa.String(), nullable=False),
        sa.Column(
            "created", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(), nullable=True),
        sa.Column("website", sa.String(), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["account.id"], name=op.f("application_fk_account_id")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("application_pkey")),
        sa.UniqueConstraint("apikey", name=op.f("application_uniq_apikey")),
    )
    op.create_index(op.f("application_idx_account_id"), "application", ["account_id"], unique=False)
    op.create_table(
        "source",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("application_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.String(), server_default="", nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["account.id"], name=op.f("source_fk_account_id")),
        sa.ForeignKeyConstraint(
            ["application_id"], ["application.id"], name=op.f("source_fk_application_id")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("source_pkey")),
        sa.UniqueConstraint(
            "application_id",
            "account_id",
            "version",
            name=op.f("source_uniq_application_id_account_id_version"),
        ),
    )
    op.create_table(
        "stats_lookups",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("hour", sa.Integer(), nullable=False),
        sa.Column("application_id", sa.Integer(), nullable=False),
        sa.Column("count_nohits", sa.Integer(), server_default="0", nullable=False),
        sa.Column("count_hits", sa.Integer(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"], ["application.id"], name=op.f("stats_lookups_fk_application_id")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("stats_lookups_pkey")),
        sa.UniqueConstraint(
            "application_id",
            "date",
            "hour",
            name=op.f("stats_lookups_uniq_application_id_date_hour"),
        ),
    )
    op.create_index(op.f("stats_lookups_idx_date"), "stats_lookups", ["date"], unique=False)
    op.create_table(
        "stats_user_agents",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("application_id", sa.Integer(), nullable=False),
        sa.Column("user_agent", sa.String(), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=False),
        sa.Column("count", sa.Integer(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"], ["application.id"], name=op.f("stats_user_agents_fk_application_id")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("stats_user_agents_pkey")),
        sa.UniqueConstraint(
            "application_id",
            "date",
            "user_agent",
            "ip",
            name=op.f("stats_user_agents_uniq_application_id_date_user_agent_ip"),
        ),
    )
    op.create_index(op.f("stats_user_agents_idx_date"), "stats_user_agents", ["date"], unique=False)


def _upgrade_fingerprint() -> None:
    op.create_table(
        "foreignid_vendor",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("foreignid_vendor_pkey")),
        sa.UniqueConstraint("name", name=op.f("foreignid_vendor_uniq_name")),
    )
    op.create_table(
        "meta",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("track", sa.String(), nullable=True),
        sa.Column("artist", sa.String(), nullable=True),
        sa.Column("album", sa.String(), nullable=True),
        sa.Column("album_artist", sa.String(), nullable=True),
        sa.Column("track_no", sa.Integer(), nullable=True),
        sa.Column("disc_no", sa.Integer(), nullable=True),
        sa.Column("year", sa.Integer(), nullable=True),
        sa.Column(
            "created", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("gid", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("meta_pkey")),
        sa.UniqueConstraint("gid", name=op.f("meta_uniq_gid")),
    )
    op.create_table(
        "track",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column(
            "created", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("updated", sa.DateTime(timezone=True), nullable=True),
        sa.Column("new_id", sa.Integer(), nullable=True),
        sa.Column("gid", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(["new_id"], ["track.id"], name=op.f("track_fk_new_id")),
        sa.PrimaryKeyConstraint("id", name=op.f("track_pkey")),
        sa.UniqueConstraint("gid", name=op.f("track_uniq_gid")),
    )
    op.create_index(op.f("track_idx_new_id"), "track", ["new_id"], unique=False)
    op.create_table(
        "fingerprint",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("fingerprint", earmark.db.types.IntArray(), nullable=False),
        sa.Column("length", sa.SmallInteger(), nullable=False),
        sa.Column("bitrate", sa.SmallInteger(), nullable=True),
        sa.Column("format_id", sa.Integer(), nullable=True),
        sa.Column(
            "created", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("updated", sa.DateTime(timezone=True), nullable=True),
        sa.Column("track_id", sa.Integer(), nullable=False),
        sa.Column("submission_count", sa.Integer(), nullable=False),
        sa.CheckConstraint("bitrate > 0", name=op.f("fingerprint_chk_bitrate")),
        sa.CheckConstraint("length > 0", name=op.f("fingerprint_chk_length")),
        sa.ForeignKeyConstraint(["track_id"], ["track.id"], name=op.f("fingerprint_fk_track_id")),
        sa.PrimaryKeyConstraint("id", name=op.f("fingerprint_pkey")),
    )
    op.create_index(op.f("fingerprint_idx_length"), "fingerprint", ["length"], unique=False)
    op.create_index(op.f("fingerprint_idx_track_id"), "fingerprint", ["track_id"], unique=False)
    op.create_table(
        "foreignid",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("vendor_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.ForeignKeyConstraint(
            ["vendor_id"], ["foreignid_vendor.id"], name=op.f("foreignid_fk_vendor_id")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("foreignid_pkey")),
        sa.UniqueConstraint("vendor_id", "name", name=op.f("foreignid_uniq_vendor_id_name")),
    )
    op.create_table(
        "track_mbid",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("track_id", sa.Integer(), nullable=False),
        sa.Column("mbid", sa.Uuid(), nullable=False),
        sa.Column(
            "created", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("updated", sa.DateTime(timezone=True), nullable=True),
        sa.Column("submission_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("disabled", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("merged_into", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["merged_into"], ["track_mbid.id"], name=op.f("track_mbid_fk_merged_into")
        ),
        sa.ForeignKeyConstraint(["track_id"], ["track.id"], name=op.f("track_mbid_fk_track_id")),
        sa.PrimaryKeyConstraint("id", name=op.f("track_mbid_pkey")),
        sa.UniqueConstraint("track_id", "mbid", name=op.f("track_mbid_uniq_track_id_mbid")),
    )
    op.create_index(op.f("track_mbid_idx_mbid"), "track_mbid", ["mbid"], unique=False)
    op.create_table(
        "track_meta",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("track_id", sa.Integer(), nullable=False),
        sa.Column("meta_id", sa.Integer(), nullable=False),
        sa.Column(
            "created", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("updated", sa.DateTime(timezone=True), nullable=True),
        sa.Column("submission_count", sa.Integer(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(["meta_id"], ["meta.id"], name=op.f("track_meta_fk_meta_id")),
        sa.ForeignKeyConstraint(["track_id"], ["track.id"], name=op.f("track_meta_fk_track_id")),
        sa.PrimaryKeyConstraint("id", name=op.f("track_meta_pkey")),
        sa.UniqueConstraint("track_id", "meta_id", name=op.f("track_meta_uniq_track_id_meta_id")),
    )
    op.create_index(op.f("track_meta_idx_meta_id"), "track_meta", ["meta_id"], unique=False)
    op.create_table(
        "track_puid",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("track_id", sa.Integer(), nullable=False),
        sa.Column("puid", sa.Uuid(), nullable=False),
        sa.Column(
            "created", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("updated", sa.DateTime(timezone=True), nullable=True),
        sa.Column("submission_count", sa.Integer(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(["track_id"], ["track.id"], name=op.f("track_puid_fk_track_id")),
        sa.PrimaryKeyConstraint("id", name=op.f("track_puid_pkey")),
        sa.UniqueConstraint("track_id", "puid", name=op.f("track_puid_uniq_track_id_puid")),
    )
    op.create_index(op.f("track_puid_idx_puid"), "track_puid", ["puid"], unique=False)
    op.create_table(
        "index_outbox",
        sa.Column("fingerprint_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column(
            "created", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["fingerprint_id"],
            ["fingerprint.id"],
            name=op.f("index_outbox_fk_fingerprint_id"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("fingerprint_id", name=op.f("index_outbox_pkey")),
    )
    op.create_table(
        "submission_import",
        sa.Column(
            "submission_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("fingerprint_id", sa.Integer(), nullable=True),
        sa.Column("track_id", sa.Integer(), nullable=True),
        sa.Column("meta_id", sa.Integer(), nullable=True),
        sa.Column("new_fingerprint", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column(
            "created", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["fingerprint_id"], ["fingerprint.id"], name=op.f("submission_import_fk_fingerprint_id")
        ),
        sa.ForeignKeyConstraint(
            ["meta_id"], ["meta.id"], name=op.f("submission_import_fk_meta_id")
        ),
        sa.ForeignKeyConstraint(
            ["track_id"], ["track.id"], name=op.f("submission_import_fk_track_id")
        ),
        sa.PrimaryKeyConstraint("submission_id", name=op.f("submission_import_pkey")),
    )
    op.create_table(
        "track_foreignid",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("track_id", sa.Integer(), nullable=False),
        sa.Column("foreignid_id", sa.Integer(), nullable=False),
        sa.Column(
            "created", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column("updated", sa.DateTime(timezone=True), nullable=True),
        sa.Column("submission_count", sa.Integer(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(
            ["foreignid_id"], ["foreignid.id"], name=op.f("track_foreignid_fk_foreignid_id")
        ),
        sa.ForeignKeyConstraint(
            ["track_id"], ["track.id"], name=op.f("track_foreignid_fk_track_id")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("track_foreignid_pkey")),
        sa.UniqueConstraint(
            "track_id", "foreignid_id", name=op.f("track_foreignid_uniq_track_id_foreignid_id")
        ),
    )
    op.create_index(
        op.f("track_foreignid_idx_foreignid_id"), "track_foreignid", ["foreignid_id"], unique=False
    )


def _upgrade_ingest() -> None:
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


def _downgrade_app() -> None:
    op.drop_index(op.f("stats_user_agents_idx_date"), table_name="stats_user_agents")
    op.drop_table("stats_user_agents")
    op.drop_index(op.f("stats_lookups_idx_date"), table_name="stats_lookups")
    op.drop_table("stats_lookups")
    op.drop_table("source")
    op.drop_index(op.f("application_idx_account_id"), table_name="application")
    op.drop_table("application")
    op.drop_index(op.f("account_openid_idx_account_id"), table_name="account_openid")
    op.drop_table("account_openid")
    op.drop_index(op.f("account_google_idx_account_id"), table_name="account_google")
    op.drop_table("account_google")
    op.drop_index(op.f("stats_idx_date"), table_name="stats")
    op.drop_table("stats")
    op.drop_table("format")
    op.drop_table("account")


def _downgrade_fingerprint() -> None:
    op.drop_index(op.f("track_foreignid_idx_foreignid_id"), table_name="track_foreignid")
    op.drop_table("track_foreignid")
    op.drop_table("submission_import")
    op.drop_table("index_outbox")
    op.drop_index(op.f("track_puid_idx_puid"), table_name="track_puid")
    op.drop_table("track_puid")
    op.drop_index(op.f("track_meta_idx_meta_id"), table_name="track_meta")
    op.drop_table("track_meta")
    op.drop_index(op.f("track_mbid_idx_mbid"), table_name="track_mbid")
    op.drop_table("track_mbid")
    op.drop_table("foreignid")
    op.drop_index(op.f("fingerprint_idx_track_id"), table_name="fingerprint")
    op.drop_index(op.f("fingerprint_idx_length"), table_name="fingerprint")
    op.drop_table("fingerprint")
    op.drop_index(op.f("track_idx_new_id"), table_name="track")
    op.drop_table("track")
    op.drop_table("meta")
    op.drop_table("foreignid_vendor")


def _downgrade_ingest() -> None:
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


_UPGRADES = {"app": _upgrade_app, "fingerprint": _upgrade_fingerprint, "ingest": _upgrade_ingest}
_DOWNGRADES = {
    "app": _downgrade_app,
    "fingerprint": _downgrade_fingerprint,
    "ingest": _downgrade_ingest,
}
