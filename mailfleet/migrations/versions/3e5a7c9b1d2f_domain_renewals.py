"""domain renewals

Revision ID: 3e5a7c9b1d2f
Revises: 4a6c8e0b2d3f
Create Date: 2026-12-03 20:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import mailfleet.models.base

revision: str = "3e5a7c9b1d2f"
# The brief named 2d4f6a8c0e1b; quick setups (4a6c8e0b2d3f) landed on it first, so this
# follows the head to keep one line of history.
down_revision: str | None = "4a6c8e0b2d3f"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("domains", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "registration_expires_at",
                mailfleet.models.base.UTCDateTime(timezone=True),
                nullable=True,
            )
        )
    with op.batch_alter_table("domain_purchases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("renewal_price_cents", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "expiry_notified_for",
                mailfleet.models.base.UTCDateTime(timezone=True),
                nullable=True,
            )
        )
        batch_op.add_column(
            sa.Column(
                "registrar_account",
                sa.String(length=64),
                server_default="default",
                nullable=False,
            )
        )
        batch_op.create_index(
            batch_op.f("ix_domain_purchases_registrar_account_created_at"),
            ["registrar_account", "created_at"],
            unique=False,
        )
    op.create_table(
        "registrar_accounts",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("created_at", mailfleet.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_registrar_accounts")),
    )
    op.create_table(
        "domain_renewals",
        sa.Column("domain_id", sa.Uuid(), nullable=False),
        sa.Column("registrar", sa.String(length=32), nullable=False),
        sa.Column("years", sa.Integer(), nullable=False),
        sa.Column("amount_cents", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "PENDING",
                "SUCCEEDED",
                "FAILED",
                name="domainrenewalstatus",
                native_enum=False,
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("dedupe_key", sa.String(length=200), nullable=False),
        sa.Column(
            "expires_before",
            mailfleet.models.base.UTCDateTime(timezone=True),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("retry_at", mailfleet.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("failure_reason", sa.String(length=1000), nullable=True),
        sa.Column("registrar_order_id", sa.String(length=200), nullable=True),
        sa.Column("completed_at", mailfleet.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", mailfleet.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["domain_id"],
            ["domains.id"],
            name=op.f("fk_domain_renewals_domain_id_domains"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workspace_id"],
            ["workspaces.id"],
            name=op.f("fk_domain_renewals_workspace_id_workspaces"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_domain_renewals")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_domain_renewals_dedupe_key")),
    )
    with op.batch_alter_table("domain_renewals", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_domain_renewals_status"), ["status"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_domain_renewals_workspace_id_id"), ["workspace_id", "id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_domain_renewals_domain_id"), ["domain_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("domain_renewals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_domain_renewals_domain_id"))
        batch_op.drop_index(batch_op.f("ix_domain_renewals_workspace_id_id"))
        batch_op.drop_index(batch_op.f("ix_domain_renewals_status"))
    op.drop_table("domain_renewals")
    op.drop_table("registrar_accounts")
    with op.batch_alter_table("domain_purchases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_domain_purchases_registrar_account_created_at"))
        batch_op.drop_column("registrar_account")
        batch_op.drop_column("expiry_notified_for")
        batch_op.drop_column("renewal_price_cents")
    with op.batch_alter_table("domains", schema=None) as batch_op:
        batch_op.drop_column("registration_expires_at")
