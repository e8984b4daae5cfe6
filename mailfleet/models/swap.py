"""Domain swaps: a burned domain's mailboxes remade on another domain (same type, usernames,
names and pictures), the old ones removed once the new ones are ACTIVE, and the new ones
exported to wherever the old ones were."""

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


class DomainSwapStatus(enum.StrEnum):
    # The new domain is not ACTIVE yet (connected in the same call, or still delegating).
    WAITING_FOR_DOMAIN = "WAITING_FOR_DOMAIN"
    # The mailboxes are ordered on the new domain; the old ones stay until these are made.
    WAITING_FOR_MAILBOXES = "WAITING_FOR_MAILBOXES"
    # The new mailboxes are being exported to the old ones' sequencer accounts; once each has
    # reached its app, the old address's account there is deleted.
    REPLACING_ACCOUNTS = "REPLACING_ACCOUNTS"
    DONE = "DONE"
    # Could not go on (the new domain failed, the order was refused); `failure_reason` says
    # why, and the old domain's mailboxes are untouched.
    FAILED = "FAILED"


class DomainSwap(RecordMixin, TenantMixin, Base):
    __tablename__ = "domain_swaps"
    __table_args__ = (
        Index(None, "workspace_id", "id"),
        Index(None, "status", "next_check_at"),
    )

    status: Mapped[DomainSwapStatus] = mapped_column(enum_type(DomainSwapStatus))
    from_domain_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("domains.id", ondelete="CASCADE"), index=True
    )
    # Null until a name bought in the same call is registered (`purchase_id`).
    to_domain_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("domains.id", ondelete="CASCADE"), index=True
    )
    purchase_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("domain_purchases.id", ondelete="SET NULL")
    )
    mailbox_type: Mapped[MailboxType] = mapped_column(enum_type(MailboxType))
    # One per swapped mailbox: {old_mailbox_id, old_address, username, first_name, last_name,
    # profile_picture_url, new_mailbox_id, new_address, status, reason}; `status` PENDING ->
    # ORDERED -> SWAPPED (old removed, new ACTIVE) or FAILED (the old one kept).
    items: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    # The rule parameters of the surface that took the swap (its policy profile).
    profile: Mapped[dict[str, Any]] = mapped_column(JSON)
    order_id: Mapped[uuid.UUID | None]
    export_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    failure_reason: Mapped[str | None] = mapped_column(String(1000))
    # The sweep's timer: when to look again; null once DONE or FAILED.
    next_check_at: Mapped[datetime | None]
    created_by: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)
    completed_at: Mapped[datetime | None]
