"""domains: RRsets committed but not yet confirmed by the DNS provider

Revision ID: b5d7f9a1c3e6
Revises: ae07d7bd6466
Create Date: 2026-12-04 22:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import mailfleet.models.base

revision: str = "b5d7f9a1c3e6"
down_revision: str | None = "ae07d7bd6466"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("domains", schema=None) as batch_op:
        batch_op.add_column(sa.Column("dns_unsent", sa.JSON(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "dns_unsent_due_at",
                mailfleet.models.base.UTCDateTime(timezone=True),
                nullable=True,
            )
        )
        batch_op.add_column(
            sa.Column("dns_unsent_tries", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.create_index(
            batch_op.f("ix_domains_dns_unsent_due_at"), ["dns_unsent_due_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("domains", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_domains_dns_unsent_due_at"))
        batch_op.drop_column("dns_unsent_tries")
        batch_op.drop_column("dns_unsent_due_at")
        batch_op.drop_column("dns_unsent")
