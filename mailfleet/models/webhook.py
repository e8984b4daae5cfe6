from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from mailfleet.kit import clock
from mailfleet.kit.ids import uuid7
from mailfleet.models.base import Base, RecordMixin, TenantMixin
from mailfleet.models.user import enum_type


class WebhookEventType(enum.StrEnum):
    """The public event names a webhook endpoint can subscribe to."""

    DOMAIN_STATUS_CHANGED = "domain.status_changed"
    ORDER_STATUS_CHANGED = "order.status_changed"
    MAILBOX_STATUS_CHANGED = "mailbox.status_changed"
    SUBSCRIPTION_STATUS_CHANGED = "subscription.status_changed"
    WALLET_CREDITED = "wallet.credited"
    WALLET_DEBITED = "wallet.debited"
    PAYMENT_SUCCEEDED = "payment.succeeded"
    PAYMENT_FAILED = "payment.failed"
    INVOICE_CREATED = "invoice.created"
    DOMAIN_PURCHASE_STATUS_CHANGED = "domain_purchase.status_changed"
    EXPORT_COMPLETED = "export.completed"
    DOMAIN_BLACKLISTED = "domain.blacklisted"
    DOMAIN_DELISTED = "domain.delisted"
    QUICK_SETUP_STATUS_CHANGED = "quick_setup.status_changed"
    DOMAIN_SWAP_STATUS_CHANGED = "domain_swap.status_changed"


class DeliveryStatus(enum.StrEnum):
    PENDING = "PENDING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"


class WebhookEndpoint(RecordMixin, TenantMixin, Base):
    """A URL that receives signed deliveries of the events it subscribes to."""

    __tablename__ = "webhook_endpoints"
    __table_args__ = (Index(None, "workspace_id", "id"),)

    url: Mapped[str] = mapped_column(String(2048))
    # Public event names (WebhookEventType values), sorted.
    events: Mapped[list[str]] = mapped_column(JSON, default=list)
    enabled: Mapped[bool] = mapped_column(default=True)
    # Fernet token of the "whsec_..." signing secret.
    secret_enc: Mapped[str]
    # After a rotation the old secret also signs until it expires, so receivers can switch over.
    previous_secret_enc: Mapped[str | None]
    previous_secret_expires_at: Mapped[datetime | None]
    # The outbox sweep's progress through the events table, as an event id (time-ordered).
    # Events are scanned from a grace period before it, so one committed late is still seen.
    event_cursor: Mapped[uuid.UUID] = mapped_column(default=uuid7)
    # Events minted before this id are never sent: they predate the endpoint, or its last
    # enabling (what happened while it was disabled does not arrive in a burst afterwards).
    events_from: Mapped[uuid.UUID] = mapped_column(default=uuid7)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)


class WebhookDelivery(RecordMixin, TenantMixin, Base):
    """One event for one endpoint: its payload, and where its attempts stand."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        # Exactly one delivery per event and endpoint, however many sweeps see the event.
        UniqueConstraint("endpoint_id", "event_id"),
        Index(None, "endpoint_id", "id"),
        Index(None, "next_attempt_at"),
    )

    endpoint_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE")
    )
    event_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    event_type: Mapped[str] = mapped_column(String(64))
    # Frozen at creation so every attempt sends the same body.
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[DeliveryStatus] = mapped_column(
        enum_type(DeliveryStatus), default=DeliveryStatus.PENDING
    )
    attempts: Mapped[int] = mapped_column(default=0)
    # The attempt count at which a failure becomes final (a resend allows one more).
    max_attempts: Mapped[int]
    # When the next attempt is due; pushed forward by a lease while a job holds the delivery.
    next_attempt_at: Mapped[datetime | None]
    last_attempt_at: Mapped[datetime | None]
    last_response_status: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(String(1000))
    updated_at: Mapped[datetime] = mapped_column(default=clock.now, onupdate=clock.now)
