"""The auditor console's sign-in sessions (`console_sessions`), shared by the gateway processes on a database.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("console_sessions",
                    sa.Column("id_hash", sa.String(length=64), nullable=False),
                    sa.Column("department", sa.String(length=32), nullable=False),
                    sa.Column("csrf_token", sa.String(length=64), nullable=False),
                    sa.Column("created_at", sa.Float(), nullable=False),
                    sa.Column("expires_at", sa.Float(), nullable=False),
                    sa.PrimaryKeyConstraint("id_hash"))
    op.create_index(op.f("ix_console_sessions_expires_at"), "console_sessions", ["expires_at"], unique=False)

# No downgrade: going back is restoring the backup taken before the upgrade (docs/gateway.md, "Schema migrations").
