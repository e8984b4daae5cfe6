"""Quick setups: domains bought, then mailboxes placed on them and exported once they are
ACTIVE (Zapmail's quick setup; a domain purchase waiting for its payment link is one with no
mailboxes)."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from mailfleet.config import MailboxType
from mailfleet.kit import clock
from mailfleet.models.base import Base, RecordMixin, TenantMixin
from mailfleet.models.user import enum_type


class QuickSetupStatus(enum.StrEnum):
    # A payment link was answered; the purchase waits for the wallet to hold the total.
    AWAITING_PAYMENT = "AWAITING_PAYMENT"
    # Bought; the mailboxes wait for their domains to be ACTIVE.
    WAITING_FOR_DOMAINS = "WAITING_FOR_DOMAINS"
    # Mailboxes ordered; the export waits for them to be made.
    WAITING_FOR_MAILBOXES = "WAITING_FOR_MAILBOXES"
    DONE = "DONE"
    # Could not go on (a name taken meanwhile, the payment expired); `failure_reason` says why.
    FAILED = "FAILED"


class QuickSetup(RecordMixin, TenantMixin, Base):
    __tablename__ = "quick_setups"
    __table_args__ = (
        Index(None, "workspace_id", "id"),
        Index(None, "status", "next_check_at"),
    )

    status: Mapped[QuickSetupStatus] = mapped_column(enum_type(QuickSetupStatus))
    mailbox_type: Mapped[MailboxType] = mapped_column(enum_type(MailboxType))
    # The payment whose credit lets an AWAITING_PAYMENT setup buy.
    payment_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("payments.id", ondelete="SET NULL")
    )
    # The priced names: [{name, years, registrar, registrar_price_cents, price_cents,
    # renewal_price_cents, currency}], as quoted when the setup was made.
    offers: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    registrar: Mapped[str] = mapped_column(String(32))
    # What the whole setup costs: the names, plus the slots the workspace is short of (R16).
    total_cents: Mapped[int]
    addon_slots: Mapped[int] = mapped_column(default=0)
    # {domain name: [{username, first_name, last_name}]}
    mailboxes: Mapped[dict[str, list[dict[str, str]]]] = mapped_column(JSON)
    # The rule parameters of the surface that took the setup (its policy profile).
    profile: Mapped[dict[str, Any]] = mapped_column(JSON)
    # Export once made: app names, and the account when one was named.
    apps: Mapped[list[str]] = mapped_column(JSON, default=list)
    export_account_id: Mapped[uuid.UUID | None]
    purchase_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    order_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    export_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Per domain name, why its mailboxes were not placed (its registration failed, a rule).
    skipped: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    failure_reason: Mapped[str | None] = mapped_column(String(1000))
    # The sweep's timer: when to look again; null once DONE or FAILED.
    next_check_at: Mapped[datetime | None]
    created_by: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)
    completed_at: Mapped[datetime | None]
