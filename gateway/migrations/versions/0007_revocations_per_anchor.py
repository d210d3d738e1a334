"""Revocations and successors per anchor: keyed by (certificate hash, batch root), as the registry keeps them.

The two tables are made again with the batch root in their primary key, and every table the index derives from
the events (anchors, revocations, successors, keys, type versions) is emptied: the gateway derives them again
from the indexed events at its next start (`gateway.chain_state.rebuild_if_missing`), batch roots included.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_table("revocations")
    op.drop_table("supersessions")
    op.create_table("revocations",
                    sa.Column("certificate_hash", sa.String(length=66), nullable=False),
                    sa.Column("batch_root", sa.String(length=66), nullable=False),
                    sa.Column("revoked_at", sa.BigInteger(), nullable=False),
                    sa.Column("reason", sa.Integer(), nullable=False),
                    sa.Column("block_number", sa.BigInteger(), nullable=False),
                    sa.PrimaryKeyConstraint("certificate_hash", "batch_root"))
    op.create_index(op.f("ix_revocations_block_number"), "revocations", ["block_number"])
    op.create_table("supersessions",
                    sa.Column("certificate_hash", sa.String(length=66), nullable=False),
                    sa.Column("batch_root", sa.String(length=66), nullable=False),
                    sa.Column("successor", sa.String(length=66), nullable=False),
                    sa.Column("block_number", sa.BigInteger(), nullable=False),
                    sa.PrimaryKeyConstraint("certificate_hash", "batch_root"))
    op.create_index(op.f("ix_supersessions_block_number"), "supersessions", ["block_number"])
    for table in ("anchors", "department_keys", "type_versions"):
        op.execute(sa.text(f"DELETE FROM {table}"))

# No downgrade: going back is restoring the backup taken before the upgrade (docs/gateway.md, "Schema migrations").
