"""domain google client ids

Revision ID: 1c2e4a6b8d0f
Revises: 0b1d3f5a7c9e
Create Date: 2026-12-03 14:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '1c2e4a6b8d0f'
down_revision: str | None = '0b1d3f5a7c9e'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('domains', schema=None) as batch_op:
        batch_op.add_column(sa.Column('google_client_ids', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('domains', schema=None) as batch_op:
        batch_op.drop_column('google_client_ids')
