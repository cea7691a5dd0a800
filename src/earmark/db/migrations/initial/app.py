"""Migration 0001 for the app database (accounts, applications, stats)."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


def upgrade() -> None:
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


def downgrade() -> None:
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
