"""Department keys hold SM2 key ids (0x + 64 hex) beside account addresses.

Under the sm2-sm3 crypto suite the index records each department's SM2 keys in department_keys under their
32-byte id; the column widens from an address's 42 characters to 66.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("department_keys") as table:
        table.alter_column("key", existing_type=sa.String(length=42), type_=sa.String(length=66),
                           existing_nullable=False)

# No downgrade: going back is restoring the backup taken before the upgrade (docs/gateway.md, "Schema migrations").
