"""Initial schema: the app, fingerprint and ingest tables (reference §11, drift fixed)

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-21
"""

from __future__ import annotations

from earmark.db.migrate import run_roles
from earmark.db.migrations.initial import app, fingerprint, ingest

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    run_roles({"app": app.upgrade, "fingerprint": fingerprint.upgrade, "ingest": ingest.upgrade})


def downgrade() -> None:
    run_roles(
        {"app": app.downgrade, "fingerprint": fingerprint.downgrade, "ingest": ingest.downgrade},
        reverse=True,
    )
