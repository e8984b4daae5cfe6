"""shared state in the database: counters and rate-limit windows (MAILFLEET_SHARED_STATE=database)

Revision ID: 9a4c6e8f0b13
Revises: 7e3b5c9d1f20
Create Date: 2026-12-03 04:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import mailfleet.models.base

revision: str = "9a4c6e8f0b13"
down_revision: str | None = "7e3b5c9d1f20"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "shared_counters",
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_shared_counters")),
    )
    op.create_table(
        "rate_limit_counters",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("window_seconds", sa.Integer(), nullable=False),
        sa.Column("window_index", sa.BigInteger(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("expires_at", mailfleet.models.base.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint(
            "key", "window_seconds", "window_index", name=op.f("pk_rate_limit_counters")
        ),
    )
    # The periodic delete of windows that are over looks them up by expiry.
    op.create_index(
        op.f("ix_rate_limit_counters_expires_at"), "rate_limit_counters", ["expires_at"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_rate_limit_counters_expires_at"), table_name="rate_limit_counters")
    op.drop_table("rate_limit_counters")
    op.drop_table("shared_counters")
