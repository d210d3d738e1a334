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
    # IF NOT EXISTS: gateways built between cb79177 and migrations made this table with `create_all` in databases
    # without a version table, which are stamped 0001 like the release's.
    op.create_table("leases",
                    sa.Column("duty", sa.String(length=64), nullable=False),
                    sa.Column("holder", sa.String(length=128), nullable=True),
                    sa.Column("token", sa.BigInteger(), nullable=False),
                    sa.Column("expires_at", sa.Float(), nullable=False),
                    sa.PrimaryKeyConstraint("duty"), if_not_exists=True)

# No downgrade: going back is restoring the backup taken before the upgrade (docs/gateway.md, "Schema migrations").
