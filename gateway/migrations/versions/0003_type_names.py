"""Certificate types' registered names in the derived chain state, so that pages show a type by its name.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("certificate_types",
                    sa.Column("code", sa.String(length=32), nullable=False),
                    sa.Column("name", sa.Text(), nullable=False),
                    sa.Column("block_number", sa.BigInteger(), nullable=False),
                    sa.PrimaryKeyConstraint("code"))
    op.create_index(op.f("ix_certificate_types_block_number"), "certificate_types", ["block_number"], unique=False)
    # The types the index has already read: from their TypeRegistered events (a handful per catalog).
    events = sa.table("chain_events", sa.column("event", sa.String), sa.column("certificate_type", sa.String),
                      sa.column("block_number", sa.BigInteger), sa.column("args", sa.JSON))
    registered = op.get_bind().execute(sa.select(events.c.certificate_type, events.c.args, events.c.block_number)
                                       .where(events.c.event == "TypeRegistered")).all()
    if registered:
        op.bulk_insert(sa.table("certificate_types", sa.column("code", sa.String), sa.column("name", sa.Text),
                                sa.column("block_number", sa.BigInteger)),
                       [{"code": code, "name": args["name"], "block_number": block} for code, args, block in registered])

# No downgrade: going back is restoring the backup taken before the upgrade (docs/gateway.md, "Schema migrations").
