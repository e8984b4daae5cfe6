from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from mailfleet.kit import clock
from mailfleet.models.base import Base, RecordMixin, TenantMixin
from mailfleet.models.enums import MailboxStatus, MailboxType, OrderStatus
from mailfleet.models.user import enum_type


class Allocation(RecordMixin, TenantMixin, Base):
    """How many mailboxes of one type a workspace may hold (business rule 4)."""

    __tablename__ = "allocations"
    __table_args__ = (UniqueConstraint("workspace_id", "mailbox_type"),)

    mailbox_type: Mapped[MailboxType] = mapped_column(enum_type(MailboxType))
    slots: Mapped[int] = mapped_column(default=0)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)


class SlotCount(Base):
    """How many of a workspace's mailboxes of one type hold a slot by status (rule 4).

    Kept by triggers on `mailboxes` (migration c902582cd469), whatever writes the rows, so
    the quota check reads one row instead of counting every mailbox the workspace ever had.
    Removed mailboxes that hold their slot until renewal are counted apart (`quota`). A SQLite
    migration that rebuilds `mailboxes` (batch mode) drops its triggers: create them again.
    """

    __tablename__ = "slot_counts"

    workspace_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), primary_key=True
    )
    mailbox_type: Mapped[MailboxType] = mapped_column(enum_type(MailboxType), primary_key=True)
    live: Mapped[int] = mapped_column(default=0, server_default="0")


class MailboxOrder(RecordMixin, TenantMixin, Base):
    __tablename__ = "mailbox_orders"
    __table_args__ = (
        Index(None, "workspace_id", "id"),
        Index(None, "domain_id"),
        Index(None, "status", "id"),
    )

    domain_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("domains.id", ondelete="CASCADE"))
    mailbox_type: Mapped[MailboxType] = mapped_column(enum_type(MailboxType))
    status: Mapped[OrderStatus] = mapped_column(enum_type(OrderStatus), default=OrderStatus.PENDING)
    operator_notes: Mapped[str | None] = mapped_column(String(4000))
    failure_reason: Mapped[str | None] = mapped_column(String(1000))
    created_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    completed_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)


class Mailbox(RecordMixin, TenantMixin, Base):
    __tablename__ = "mailboxes"
    __table_args__ = (
        # A username is taken on its domain until its mailbox failed or was removed.
        Index(
            "uq_mailboxes_live_username",
            "domain_id",
            "username",
            unique=True,
            sqlite_where=text("status NOT IN ('FAILED', 'REMOVED')"),
            postgresql_where=text("status NOT IN ('FAILED', 'REMOVED')"),
        ),
        Index(None, "workspace_id", "id"),
        Index(None, "workspace_id", "status", "id"),
        # Also finds the removed mailboxes still holding a slot (status, then expires_at).
        Index(None, "workspace_id", "mailbox_type", "status", "expires_at"),
        Index(None, "domain_id", "status"),
        Index(None, "order_id"),
        Index(None, "next_check_at"),
        Index(None, "installation_id"),
    )

    domain_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("domains.id", ondelete="CASCADE"))
    order_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("mailbox_orders.id", ondelete="SET NULL")
    )
    username: Mapped[str] = mapped_column(String(64))
    address: Mapped[str] = mapped_column(String(320))
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    mailbox_type: Mapped[MailboxType] = mapped_column(enum_type(MailboxType))
    backend: Mapped[str] = mapped_column(String(32))
    # The workspace's installation its backend resolved to when it was provisioned (None: the
    # deployment's account): later calls for the mailbox go to the same account.
    installation_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("provider_installations.id")
    )
    status: Mapped[MailboxStatus] = mapped_column(
        enum_type(MailboxStatus), default=MailboxStatus.PENDING
    )
    password_enc: Mapped[str | None]
    app_password_enc: Mapped[str | None]
    totp_secret_enc: Mapped[str | None]
    smtp_host: Mapped[str | None] = mapped_column(String(253))
    smtp_port: Mapped[int | None]
    imap_host: Mapped[str | None] = mapped_column(String(253))
    imap_port: Mapped[int | None]
    # "starttls", "ssl" or "none" (loopback tests only).
    smtp_security: Mapped[str | None] = mapped_column(String(16))
    imap_security: Mapped[str | None] = mapped_column(String(16))
    # Automated backends: when the provisioning job should (re)try, and how often it has.
    next_check_at: Mapped[datetime | None]
    provision_attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    provider_user_id: Mapped[str | None] = mapped_column(String(255))
    profile_picture_url: Mapped[str | None] = mapped_column(String(2048))
    notes: Mapped[str | None] = mapped_column(String(4000))
    failure_reason: Mapped[str | None] = mapped_column(String(1000))
    # The renewal date: a removed mailbox keeps its quota slot until then.
    expires_at: Mapped[datetime]
    remove_at_renewal: Mapped[bool] = mapped_column(default=False)
    activated_at: Mapped[datetime | None]
    removed_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)
