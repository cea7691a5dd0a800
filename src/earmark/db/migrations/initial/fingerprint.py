"""Migration 0001 for the fingerprint database (tracks, fingerprints, links)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import earmark.db.types


def upgrade() -> None:
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


def downgrade() -> None:
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
