"""The schema of the last release without migrations (commit 0bd6bcb): every table its `create_all` made.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('access_log',
    sa.Column('position', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=False, nullable=False),
    sa.Column('recorded_at', sa.Float(), nullable=False),
    sa.Column('department', sa.String(length=32), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('entry', sa.JSON(), nullable=False),
    sa.Column('leaf_hash', sa.String(length=66), nullable=False),
    sa.Column('tree_head', sa.String(length=66), nullable=False),
    sa.Column('frontier', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('position')
    )
    op.create_index(op.f('ix_access_log_department'), 'access_log', ['department'], unique=False)
    op.create_table('anchors',
    sa.Column('hash', sa.String(length=66), nullable=False),
    sa.Column('issuer', sa.String(length=32), nullable=False),
    sa.Column('certificate_type', sa.String(length=32), nullable=False),
    sa.Column('type_version', sa.BigInteger(), nullable=False),
    sa.Column('issued_at', sa.BigInteger(), nullable=False),
    sa.Column('issued_block', sa.BigInteger(), nullable=False),
    sa.Column('valid_until', sa.BigInteger(), nullable=False),
    sa.Column('member_count', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('hash')
    )
    op.create_index(op.f('ix_anchors_issued_block'), 'anchors', ['issued_block'], unique=False)
    op.create_table('api_tokens',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('department', sa.String(length=32), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('label', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.Column('revoked_at', sa.Float(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('token_hash')
    )
    op.create_index(op.f('ix_api_tokens_department'), 'api_tokens', ['department'], unique=False)
    op.create_table('chain_events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('block_number', sa.BigInteger(), nullable=False),
    sa.Column('log_index', sa.Integer(), nullable=False),
    sa.Column('block_hash', sa.String(length=66), nullable=False),
    sa.Column('tx_hash', sa.String(length=66), nullable=False),
    sa.Column('timestamp', sa.BigInteger(), nullable=False),
    sa.Column('contract', sa.String(length=32), nullable=False),
    sa.Column('event', sa.String(length=48), nullable=False),
    sa.Column('department', sa.String(length=32), nullable=True),
    sa.Column('certificate_type', sa.String(length=32), nullable=True),
    sa.Column('subject', sa.String(length=66), nullable=True),
    sa.Column('related', sa.String(length=66), nullable=True),
    sa.Column('args', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('block_number', 'log_index')
    )
    op.create_index('ix_chain_events_department_time', 'chain_events', ['department', 'timestamp'], unique=False)
    op.create_index('ix_chain_events_related_order', 'chain_events', ['related', 'block_number', 'log_index'], unique=False)
    op.create_index('ix_chain_events_subject_order', 'chain_events', ['subject', 'block_number', 'log_index'], unique=False)
    op.create_index('ix_chain_events_time', 'chain_events', ['timestamp'], unique=False)
    op.create_table('department_keys',
    sa.Column('key', sa.String(length=42), nullable=False),
    sa.Column('department', sa.String(length=32), nullable=False),
    sa.Column('added_at', sa.BigInteger(), nullable=False),
    sa.Column('added_block', sa.BigInteger(), nullable=False),
    sa.Column('removed_at', sa.BigInteger(), nullable=True),
    sa.Column('removed_block', sa.BigInteger(), nullable=True),
    sa.PrimaryKeyConstraint('key')
    )
    op.create_index(op.f('ix_department_keys_added_block'), 'department_keys', ['added_block'], unique=False)
    op.create_index(op.f('ix_department_keys_removed_block'), 'department_keys', ['removed_block'], unique=False)
    op.create_table('holder_keys',
    sa.Column('key_id', sa.String(length=66), nullable=False),
    sa.Column('holder', sa.String(length=96), nullable=False),
    sa.Column('public_key', sa.Text(), nullable=False),
    sa.Column('registered_by', sa.String(length=32), nullable=False),
    sa.Column('registered_at', sa.Float(), nullable=False),
    sa.Column('revoked_at', sa.Float(), nullable=True),
    sa.PrimaryKeyConstraint('key_id')
    )
    op.create_index(op.f('ix_holder_keys_holder'), 'holder_keys', ['holder'], unique=False)
    op.create_table('indexed_blocks',
    sa.Column('number', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('hash', sa.String(length=66), nullable=False),
    sa.Column('timestamp', sa.BigInteger(), nullable=True),
    sa.PrimaryKeyConstraint('number')
    )
    op.create_table('operations',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('department', sa.String(length=32), nullable=False),
    sa.Column('idempotency_key', sa.String(length=200), nullable=True),
    sa.Column('request_hash', sa.String(length=66), nullable=False),
    sa.Column('request', sa.JSON(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('sender', sa.String(length=42), nullable=False),
    sa.Column('gas', sa.Integer(), nullable=False),
    sa.Column('nonce', sa.BigInteger(), nullable=True),
    sa.Column('tx_hash', sa.String(length=66), nullable=True),
    sa.Column('raw_tx', sa.LargeBinary(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('progress', sa.Integer(), nullable=False),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('block_number', sa.BigInteger(), nullable=True),
    sa.Column('block_hash', sa.String(length=66), nullable=True),
    sa.Column('subject', sa.String(length=66), nullable=True),
    sa.Column('history', sa.JSON(), nullable=True),
    sa.Column('version', sa.Integer(), server_default=sa.text('0'), nullable=False),
    sa.Column('error_code', sa.String(length=64), nullable=True),
    sa.Column('error_message', sa.String(length=2000), nullable=True),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.Column('updated_at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('department', 'idempotency_key')
    )
    op.create_index('ix_operations_block', 'operations', ['block_number'], unique=False)
    op.create_index('ix_operations_department_block', 'operations', ['department', 'block_number'], unique=False)
    op.create_index('ix_operations_state', 'operations', ['state', 'id'], unique=False)
    op.create_index(op.f('ix_operations_subject'), 'operations', ['subject'], unique=False)
    op.create_index(op.f('ix_operations_tx_hash'), 'operations', ['tx_hash'], unique=False)
    op.create_table('request_nonces',
    sa.Column('signer', sa.String(length=42), nullable=False),
    sa.Column('nonce', sa.String(length=128), nullable=False),
    sa.Column('seen_at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('signer', 'nonce')
    )
    op.create_index(op.f('ix_request_nonces_seen_at'), 'request_nonces', ['seen_at'], unique=False)
    op.create_table('revocations',
    sa.Column('certificate_hash', sa.String(length=66), nullable=False),
    sa.Column('revoked_at', sa.BigInteger(), nullable=False),
    sa.Column('reason', sa.Integer(), nullable=False),
    sa.Column('block_number', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('certificate_hash')
    )
    op.create_index(op.f('ix_revocations_block_number'), 'revocations', ['block_number'], unique=False)
    op.create_table('supersessions',
    sa.Column('certificate_hash', sa.String(length=66), nullable=False),
    sa.Column('successor', sa.String(length=66), nullable=False),
    sa.Column('block_number', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('certificate_hash')
    )
    op.create_index(op.f('ix_supersessions_block_number'), 'supersessions', ['block_number'], unique=False)
    op.create_table('type_versions',
    sa.Column('certificate_type', sa.String(length=32), nullable=False),
    sa.Column('version', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('schema_hash', sa.String(length=66), nullable=False),
    sa.Column('block_number', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('certificate_type', 'version')
    )
    op.create_index(op.f('ix_type_versions_block_number'), 'type_versions', ['block_number'], unique=False)
    op.create_table('accessed_certificates',
    sa.Column('certificate_hash', sa.String(length=66), nullable=False),
    sa.Column('position', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.ForeignKeyConstraint(['position'], ['access_log.position'], ),
    sa.PrimaryKeyConstraint('certificate_hash', 'position')
    )
    op.create_table('consents',
    sa.Column('id', sa.String(length=66), nullable=False),
    sa.Column('holder', sa.String(length=96), nullable=False),
    sa.Column('grantee', sa.String(length=32), nullable=False),
    sa.Column('service_item', sa.String(length=32), nullable=False),
    sa.Column('not_before', sa.Float(), nullable=False),
    sa.Column('not_after', sa.Float(), nullable=False),
    sa.Column('record', sa.JSON(), nullable=False),
    sa.Column('signature', sa.String(length=200), nullable=False),
    sa.Column('key_id', sa.String(length=66), nullable=False),
    sa.Column('received_at', sa.Float(), nullable=False),
    sa.Column('withdrawn_at', sa.Float(), nullable=True),
    sa.Column('withdrawal', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['key_id'], ['holder_keys.key_id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_consents_use', 'consents', ['holder', 'grantee', 'service_item'], unique=False)
    op.create_table('issued_certificates',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('certificate_hash', sa.String(length=66), nullable=False),
    sa.Column('operation_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('batch_root', sa.String(length=66), nullable=True),
    sa.Column('document', sa.JSON(), nullable=False),
    sa.Column('holder', sa.String(length=96), nullable=True),
    sa.Column('certificate_type', sa.String(length=32), nullable=True),
    sa.ForeignKeyConstraint(['operation_id'], ['operations.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('certificate_hash'),
    sa.UniqueConstraint('operation_id', 'position')
    )
    op.create_index(op.f('ix_issued_certificates_batch_root'), 'issued_certificates', ['batch_root'], unique=False)
    op.create_index(op.f('ix_issued_certificates_holder'), 'issued_certificates', ['holder'], unique=False)
    op.create_index(op.f('ix_issued_certificates_operation_id'), 'issued_certificates', ['operation_id'], unique=False)

# No downgrade: going back is restoring the backup taken before the upgrade (docs/gateway.md, "Schema migrations").
