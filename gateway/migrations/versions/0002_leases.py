"""The leases of background duties shared by gateway processes on one database (commit cb79177).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("leases",
                    sa.Column("duty", sa.String(length=64), nullable=False),
                    sa.Column("holder", sa.String(length=128), nullable=True),
                    sa.Column("token", sa.BigInteger(), nullable=False),
                    sa.Column("expires_at", sa.Float(), nullable=False),
                    sa.PrimaryKeyConstraint("duty"))

# No downgrade: going back is restoring the backup taken before the upgrade (docs/deployment.md).
