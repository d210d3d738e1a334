"""Certificate identifiers (证照标识) of issued certificates, and their serial counters.

Each issued certificate's identifier is unique (none in rows issued before); the counter per department and
type segment allocates the serials.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("identifier_serials",
                    sa.Column("issuer", sa.String(length=32), nullable=False),
                    sa.Column("type_segment", sa.String(length=32), nullable=False),
                    sa.Column("last_serial", sa.BigInteger(), nullable=False),
                    sa.PrimaryKeyConstraint("issuer", "type_segment"))
    op.add_column("issued_certificates", sa.Column("identifier", sa.String(length=128), nullable=True))
    op.create_index(op.f("ix_issued_certificates_identifier"), "issued_certificates", ["identifier"], unique=True)

# No downgrade: going back is restoring the backup taken before the upgrade (docs/gateway.md, "Schema migrations").
