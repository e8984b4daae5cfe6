"""console sessions, password resets and the users' second factor

Revision ID: 2d4f6a8c0e1b
Revises: 1c2e4a6b8d0f
Create Date: 2026-12-03 16:45:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import mailfleet.models.base

revision: str = "2d4f6a8c0e1b"
down_revision: str | None = "1c2e4a6b8d0f"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("totp_secret_enc", sa.String(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "totp_enabled_at", mailfleet.models.base.UTCDateTime(timezone=True), nullable=True
            )
        )
    op.create_table(
        "console_sessions",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("last_seen_at", mailfleet.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", mailfleet.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", mailfleet.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("second_factor_done", sa.Boolean(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", mailfleet.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_console_sessions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_console_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_console_sessions_token_hash")),
    )
    with op.batch_alter_table("console_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_console_sessions_user_id"), ["user_id"], unique=False)

    op.create_table(
        "password_resets",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("expires_at", mailfleet.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", mailfleet.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("created_at", mailfleet.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_password_resets_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_password_resets")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_password_resets_token_hash")),
    )
    with op.batch_alter_table("password_resets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_password_resets_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("password_resets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_password_resets_user_id"))
    op.drop_table("password_resets")
    with op.batch_alter_table("console_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_console_sessions_user_id"))
    op.drop_table("console_sessions")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("totp_enabled_at")
        batch_op.drop_column("totp_secret_enc")
